import type { Usage } from '../core/request-context.ts';
import type { Credential } from '../credentials/credential-source.ts';

/** What an adapter learns from a request body. */
export interface ParsedRequest {
  readonly model: string;
  readonly stream: boolean;
}

/** A header the adapter sets on the upstream request. The value may be a secret. */
export interface HeaderToSet {
  readonly name: string;
  readonly value: string;
}

/**
 * Provider-specific knowledge: how to read a request, how to apply a credential, how to read usage.
 * Adapters are pure; they never do I/O.
 */
export interface ProviderAdapter {
  readonly kind: string;
  /** Throws TollgateError body_malformed / model_missing. */
  parseRequest(body: Buffer): ParsedRequest;
  /** Headers that carry the credential upstream (empty for Credential kind "none"). */
  credentialHeaders(credential: Credential): readonly HeaderToSet[];
  /** Usage from a complete JSON response body, if it has any. Never throws. */
  parseUsage(body: Buffer): Usage | undefined;
}
