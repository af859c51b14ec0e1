import type { Secret } from '../core/secret.ts';

/** A provider credential as handed to a provider adapter. */
export interface Credential {
  /** What the secret is; adapters decide how to apply it. */
  readonly kind: 'api-key' | 'none';
  readonly secret: Secret | undefined;
  /** Epoch ms after which the credential must not be used (a lease or token expiry), if any. */
  readonly expiresAt?: number;
}

/** Who a credential is fetched for. Credentials are cached per key and never shared across keys. */
export interface CredentialScope {
  readonly tenant: string;
  readonly identity: string;
  readonly provider: string;
}

/**
 * Where a provider credential comes from. Implementations: env, file (this module's siblings), and
 * Vault (a later issue). A source may be slow or fail; the broker caches and single-flights it.
 */
export interface CredentialSource {
  /** A description for logs, e.g. "env:OPENAI_API_KEY". Never contains the secret. */
  readonly description: string;
  fetch(scope: CredentialScope): Promise<Credential>;
  close(): Promise<void>;
}

export const NO_CREDENTIAL: Credential = Object.freeze({ kind: 'none', secret: undefined });
