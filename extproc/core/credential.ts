// Provider credentials as a discriminated union. Imports only core/.
import type { Secret } from './secret.ts';

/**
 * Where a credential came from and how long it may be used. Never holds the secret value: it is
 * safe to log and to put in an audit record.
 */
export interface CredentialMeta {
  /** A description of the source, e.g. "env:OPENAI_API_KEY", "vault-kv2:secret/openai". */
  readonly source: string;
  /** Epoch ms after which the credential must not be used (lease or token expiry), if any. */
  readonly expiresAt?: number;
  /** KV v2 version, if the source is versioned. */
  readonly version?: number;
  /** A short SHA-256 prefix of the Vault lease id (never the id itself), for audit and metrics. */
  readonly leaseIdHash?: string;
  readonly renewable?: boolean;
}

/** No credential: the provider needs none (e.g. a local Ollama). */
export interface NoCredential {
  readonly kind: 'none';
}

/** A static or Vault-issued API key; the provider translator decides the header. */
export interface ApiKeyCredential {
  readonly kind: 'api-key';
  readonly secret: Secret;
  readonly meta: CredentialMeta;
}

/** An OAuth-style bearer token (GCP access token, Azure AD token). */
export interface BearerCredential {
  readonly kind: 'bearer';
  readonly secret: Secret;
  readonly meta: CredentialMeta;
}

/** AWS credentials for SigV4 signing (Bedrock). The session token is absent for IAM-user keys. */
export interface AwsCredential {
  readonly kind: 'aws';
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
  readonly sessionToken: Secret | undefined;
  readonly meta: CredentialMeta;
}

export type Credential = NoCredential | ApiKeyCredential | BearerCredential | AwsCredential;

export const NO_CREDENTIAL: NoCredential = Object.freeze({ kind: 'none' });

/** Who a credential is fetched for. Credentials are cached per scope and never shared across scopes. */
export interface CredentialScope {
  readonly tenant: string;
  readonly identity: string;
  readonly provider: string;
}

/** The metadata of any credential, for audit; undefined for kind "none". */
export function credentialMeta(c: Credential): CredentialMeta | undefined {
  return c.kind === 'none' ? undefined : c.meta;
}
