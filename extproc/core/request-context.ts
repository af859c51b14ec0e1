// Plain types shared by authz/ and processing/. Imports nothing internal.

/** A calling workload, as resolved by ext_authz. */
export interface Identity {
  readonly id: string;
  readonly tenant: string;
}

/** What ext_authz hands to ext_proc through Envoy dynamic metadata. */
export interface AuthzContext {
  readonly identity: Identity;
  readonly provider: string;
  readonly decisionId: string;
  readonly policyRevision: string;
}

/** Token usage reported by a provider response. */
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/** The namespace Envoy stores ext_authz dynamic metadata under, and forwards to ext_proc. */
export const AUTHZ_METADATA_NAMESPACE = 'envoy.filters.http.ext_authz';

/** Header names that carry a caller's own credentials. They never reach a provider. */
export const CALLER_CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'x-api-key',
  'api-key',
  'proxy-authorization',
  'cookie',
]);
