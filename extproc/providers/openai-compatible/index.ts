// OpenAI-compatible servers (vLLM, Ollama, LM Studio, llama.cpp): the OpenAI surface under /v1, plus
// Ollama's native chat, generate, embed and model listing.
import type { EndpointRule } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindSpec } from '../shared/kind.ts';
import { bearerCredential, OPENAI_HEADER_PREFIXES, OPENAI_HEADERS, OPENAI_INFERENCE_OPERATIONS, openAiEndpoints } from '../openai/index.ts';

const ollama = (path: string, operation: EndpointRule['operation'], format: EndpointRule['format']): EndpointRule =>
  ({ method: 'POST', path, operation, body: 'required', model: 'required', format, stream: 'body-flag' });

export const OPENAI_COMPATIBLE_ENDPOINTS: readonly EndpointRule[] = Object.freeze([
  ...openAiEndpoints('/v1'),
  // Ollama's native API streams NDJSON by default; its "stream" flag defaults to true, so these read as buffered.
  { ...ollama('/api/chat', 'chat', 'openai-chat'), stream: 'never' },
  { ...ollama('/api/generate', 'completions', 'generic-json'), stream: 'never' },
  { ...ollama('/api/embed', 'embeddings', 'generic-json'), stream: 'never' },
  { method: 'GET', path: '/api/tags', operation: 'models.list', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
]);

export const OPENAI_COMPATIBLE: KindSpec = {
  kind: 'openai-compatible',
  endpoints: OPENAI_COMPATIBLE_ENDPOINTS,
  inferenceOperations: OPENAI_INFERENCE_OPERATIONS,
  headers: allowList(OPENAI_HEADERS, OPENAI_HEADER_PREFIXES),
  pathPolicy: { arnModelsMayHoldSlash: false },
  credential: () => bearerCredential('openai-compatible'),
};
