import { TollgateError, type ErrorCode } from '../errors.ts';
import { ProviderError, type ProviderErrorCode, type RequestTranslator } from '../providers/index.ts';
import type { Identity, RequestDocument } from '../core/decision.ts';
import type { ProviderPolicy } from './policy.ts';

const CODES: Readonly<Record<ProviderErrorCode, ErrorCode>> = Object.freeze({
  endpoint_not_allowed: 'endpoint_not_allowed',
  path_malformed: 'path_malformed',
  body_malformed: 'body_malformed',
  body_missing: 'body_missing',
  model_missing: 'model_missing',
  model_invalid: 'model_invalid',
  model_conflict: 'model_conflict',
  // The configured credential cannot be used with this provider kind: an operator error, not the caller's.
  credential_mismatch: 'credential_unavailable',
  protocol_version_unsupported: 'mcp_protocol_version_unsupported',
});

/** A translator error as a catalogue error; anything else passes through unchanged. */
export function asTollgateError(err: unknown): unknown {
  return err instanceof ProviderError ? new TollgateError(CODES[err.code], err.detail, { cause: err }) : err;
}

/** Splits an origin-form request target into path and query (without "?"); a fragment is dropped. */
export function splitTarget(target: string): { readonly path: string; readonly query: string } {
  const hash = target.indexOf('#');
  const t = hash < 0 ? target : target.slice(0, hash);
  const q = t.indexOf('?');
  return q < 0 ? { path: t, query: '' } : { path: t.slice(0, q), query: t.slice(q + 1) };
}

/**
 * The provider's translator for one request, from the request target as Envoy saw it. Throws a
 * TollgateError (endpoint_not_allowed, path_malformed, model_invalid, model_conflict).
 */
export function translatorFor(provider: ProviderPolicy, method: string, target: string, headers: ReadonlyMap<string, string>): RequestTranslator {
  const { path, query } = splitTarget(target);
  try {
    return provider.kind.newRequest({ method, path: path.slice(provider.pathPrefix.length - 1), query, headers });
  } catch (err) {
    throw asTollgateError(err);
  }
}

/**
 * The normalised request document policy evaluates, from what the decision point or ext_proc knows:
 * the path relative to the provider prefix, without the query; host and headers as Envoy saw them.
 */
export function requestDocument(identity: Identity, provider: ProviderPolicy, method: string, target: string, t: RequestTranslator, claims: Readonly<Record<string, unknown>>, headers: Readonly<Record<string, string>>): RequestDocument {
  return {
    identity,
    provider: provider.name,
    method,
    path: splitTarget(target).path.slice(provider.pathPrefix.length - 1),
    operation: t.operation,
    model: t.model,
    time: new Date(),
    claims,
    host: headers[':authority'] ?? '',
    headers,
  };
}
