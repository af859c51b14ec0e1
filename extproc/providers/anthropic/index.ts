// Anthropic (api.anthropic.com): upstream "https://api.anthropic.com", callers use base URL ".../<name>".
import type { Credential } from '../../core/credential.ts';
import { bearer, credentialEdits, mismatch, type HeaderEdits } from '../shared/credential-headers.ts';
import type { EndpointRule, Operation } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindSpec } from '../shared/kind.ts';

export const ANTHROPIC_ENDPOINTS: readonly EndpointRule[] = Object.freeze([
  { method: 'POST', path: '/v1/messages', operation: 'messages', body: 'required', model: 'required', format: 'anthropic-messages', stream: 'body-flag' },
  { method: 'POST', path: '/v1/messages/count_tokens', operation: 'count_tokens', body: 'required', model: 'required', format: 'anthropic-messages', stream: 'never' },
  { method: 'GET', path: '/v1/models', operation: 'models.list', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
  { method: 'GET', path: '/v1/models/{model}', operation: 'models.get', body: 'none', model: 'required', format: 'opaque', stream: 'never' },
]);

/** An API key goes in x-api-key; a bearer token (OAuth) in authorization. anthropic-version passes from the caller. */
function anthropicCredential(credential: Credential): HeaderEdits {
  if (credential.kind === 'none') return credentialEdits([]);
  if (credential.kind === 'api-key') return credentialEdits([{ name: 'x-api-key', value: credential.secret }]);
  if (credential.kind === 'bearer') return credentialEdits([bearer(credential.secret)]);
  return mismatch('anthropic', credential);
}

/** What a grant without `operations` allows: messages, token counting and the model catalogue. */
export const ANTHROPIC_INFERENCE_OPERATIONS: readonly Operation[] = ['messages', 'count_tokens', 'models.list', 'models.get'];

export const ANTHROPIC: KindSpec = {
  kind: 'anthropic',
  endpoints: ANTHROPIC_ENDPOINTS,
  inferenceOperations: ANTHROPIC_INFERENCE_OPERATIONS,
  headers: allowList(['anthropic-version', 'anthropic-beta'], ['x-stainless-']),
  pathPolicy: { arnModelsMayHoldSlash: false },
  credential: () => anthropicCredential,
};
