// OpenAI (api.openai.com): upstream "https://api.openai.com", callers use base URL ".../<name>/v1".
import type { Credential } from '../../core/credential.ts';
import { bearer, credentialEdits, mismatch, type HeaderEdits } from '../shared/credential-headers.ts';
import type { EndpointRule, Operation } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindSpec } from '../shared/kind.ts';

const post = (path: string, operation: EndpointRule['operation'], format: EndpointRule['format'], model: EndpointRule['model'] = 'required'): EndpointRule =>
  ({ method: 'POST', path, operation, body: 'required', model, format, stream: operation === 'embeddings' || operation === 'moderations' ? 'never' : 'body-flag' });
const get = (path: string, operation: EndpointRule['operation']): EndpointRule =>
  ({ method: 'GET', path, operation, body: 'none', model: path.includes('{model}') ? 'required' : 'optional', format: 'opaque', stream: 'never' });

/** The OpenAI API surface under a given prefix ("/v1" for OpenAI, vLLM and Ollama). */
export function openAiEndpoints(prefix: string): EndpointRule[] {
  return [
    post(`${prefix}/chat/completions`, 'chat', 'openai-chat'),
    post(`${prefix}/completions`, 'completions', 'openai-completions'),
    post(`${prefix}/embeddings`, 'embeddings', 'openai-embeddings'),
    post(`${prefix}/responses`, 'responses', 'openai-responses'),
    post(`${prefix}/moderations`, 'moderations', 'openai-moderations', 'optional'),
    get(`${prefix}/models`, 'models.list'),
    get(`${prefix}/models/{model}`, 'models.get'),
  ];
}

export const OPENAI_ENDPOINTS: readonly EndpointRule[] = Object.freeze([
  ...openAiEndpoints('/v1'),
  // A stored response: the organisation's data, not inference, so its own operation (`responses.get`).
  { method: 'GET', path: '/v1/responses/*', operation: 'responses.get', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
  get('/v1/files', 'files'),
  get('/v1/files/*', 'files'),
  get('/v1/files/*/content', 'files'),
  { method: 'DELETE', path: '/v1/files/*', operation: 'files', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
]);

/**
 * What a grant without `operations` allows on the OpenAI surface: inference and the model catalogue.
 * Files, stored responses, moderations and anything an operator adds as `custom` must be listed.
 */
export const OPENAI_INFERENCE_OPERATIONS: readonly Operation[] = ['chat', 'completions', 'embeddings', 'responses', 'models.list', 'models.get'];

/** OpenAI-style credentials: an API key or bearer token as "authorization: Bearer"; none sends nothing. */
export function bearerCredential(kind: string) {
  return (credential: Credential): HeaderEdits => {
    if (credential.kind === 'none') return credentialEdits([]);
    if (credential.kind === 'api-key' || credential.kind === 'bearer') return credentialEdits([bearer(credential.secret)]);
    return mismatch(kind, credential);
  };
}

export const OPENAI_HEADERS = ['openai-beta'];
export const OPENAI_HEADER_PREFIXES = ['x-stainless-'];

export const OPENAI: KindSpec = {
  kind: 'openai',
  endpoints: OPENAI_ENDPOINTS,
  inferenceOperations: OPENAI_INFERENCE_OPERATIONS,
  headers: allowList(OPENAI_HEADERS, OPENAI_HEADER_PREFIXES),
  pathPolicy: { arnModelsMayHoldSlash: false },
  credential: () => bearerCredential('openai'),
};
