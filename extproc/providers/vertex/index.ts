// Gemini on Vertex AI (upstream "https://<location>-aiplatform.googleapis.com", or "https://aiplatform.googleapis.com"
// for the global location) and the Gemini API (upstream "https://generativelanguage.googleapis.com").
// The model is the "models/<name>:<method>" segment. Vertex's OpenAI-compatible chat endpoint is included.
import type { Credential } from '../../core/credential.ts';
import { bearer, credentialEdits, mismatch, type HeaderEdits } from '../shared/credential-headers.ts';
import type { EndpointRule, Operation } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindSpec } from '../shared/kind.ts';

const VERTEX = '/v1/projects/{project}/locations/{location}';

function gemini(base: string): EndpointRule[] {
  const m = (verb: string, operation: EndpointRule['operation'], stream: EndpointRule['stream']): EndpointRule =>
    ({ method: 'POST', path: `${base}/models/{model}:${verb}`, operation, body: 'required', model: 'required', format: 'gemini', stream });
  return [
    m('generateContent', 'generate_content', 'never'),
    m('streamGenerateContent', 'stream_generate_content', 'always'),
    m('countTokens', 'count_tokens', 'never'),
    m('embedContent', 'embeddings', 'never'),
  ];
}

export const VERTEX_ENDPOINTS: readonly EndpointRule[] = Object.freeze([
  ...gemini(`${VERTEX}/publishers/google`),
  { method: 'POST', path: `${VERTEX}/endpoints/openapi/chat/completions`, operation: 'chat', body: 'required', model: 'required', format: 'openai-chat', stream: 'body-flag' },
  ...gemini('/v1beta'),
  ...gemini('/v1'),
  { method: 'GET', path: '/v1beta/models', operation: 'models.list', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
  { method: 'GET', path: '/v1beta/models/{model}', operation: 'models.get', body: 'none', model: 'required', format: 'opaque', stream: 'never' },
]);

/** What a grant without `operations` allows: generation, token counting, embeddings, chat and the model catalogue. */
export const VERTEX_INFERENCE_OPERATIONS: readonly Operation[] = ['generate_content', 'stream_generate_content', 'count_tokens', 'embeddings', 'chat', 'models.list', 'models.get'];

/** A GCP access token as "authorization: Bearer"; a Gemini API key as "x-goog-api-key". */
function vertexCredential(credential: Credential): HeaderEdits {
  if (credential.kind === 'none') return credentialEdits([]);
  if (credential.kind === 'bearer') return credentialEdits([bearer(credential.secret)]);
  if (credential.kind === 'api-key') return credentialEdits([{ name: 'x-goog-api-key', value: credential.secret }]);
  return mismatch('vertex', credential);
}

export const VERTEX_KIND: KindSpec = {
  kind: 'vertex',
  endpoints: VERTEX_ENDPOINTS,
  inferenceOperations: VERTEX_INFERENCE_OPERATIONS,
  // x-goog-user-project (billing project) and x-goog-request-params are the operator's, not the caller's.
  headers: allowList(['x-goog-api-client']),
  pathPolicy: { arnModelsMayHoldSlash: false },
  credential: () => vertexCredential,
};
