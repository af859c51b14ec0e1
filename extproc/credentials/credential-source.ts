// The seam between the broker and where credentials come from (env, file, Vault).
import type { Credential, CredentialScope } from '../core/credential.ts';

export { NO_CREDENTIAL, credentialMeta } from '../core/credential.ts';
export type { Credential, CredentialMeta, CredentialScope } from '../core/credential.ts';

/**
 * Where a provider credential comes from. Implementations: env, file, none (static-sources.ts) and
 * Vault (vault/sources.ts). A source may be slow or fail; the broker caches, refreshes and
 * single-flights it. A credential's `meta.expiresAt` is its hard expiry; `meta.renewable` together
 * with `renew` marks a Vault lease the broker renews instead of re-fetching.
 */
export interface CredentialSource {
  /** A description for logs, e.g. "env:OPENAI_API_KEY". Never contains the secret. */
  readonly description: string;
  fetch(scope: CredentialScope): Promise<Credential>;
  /**
   * Extends the lease behind a credential this source issued; resolves to the same secret with a
   * new expiry. Rejects when the lease cannot be renewed (the broker then fetches a new one).
   */
  renew?(credential: Credential, scope: CredentialScope): Promise<Credential>;
  /** Revokes the lease behind a credential this source issued. Resolves true if a lease was revoked. */
  revoke?(credential: Credential): Promise<boolean>;
  close(): Promise<void>;
}
