// Plain types shared by authz/ and processing/. Imports nothing internal.

/** Token usage reported by a provider response. */
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/** Header names that carry a caller's own credentials. They never reach a provider. */
export const CALLER_CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'x-api-key',
  'api-key',
  'proxy-authorization',
  'cookie',
]);
