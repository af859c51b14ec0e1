// Azure OpenAI: upstream "https://<resource>.openai.azure.com". The model checked is the deployment name
// in "/openai/deployments/<name>/..." (SDKs also put it in the body, where it must agree), or the body
// "model" on the v1 API ("/openai/v1/..."). Callers send "api-version" in the query themselves.
import type { Credential } from '../../core/credential.ts';
import { bearer, credentialEdits, mismatch, type HeaderEdits } from '../shared/credential-headers.ts';
import type { EndpointRule } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindSpec } from '../shared/kind.ts';
import { openAiEndpoints, OPENAI_HEADER_PREFIXES, OPENAI_HEADERS, OPENAI_INFERENCE_OPERATIONS } from '../openai/index.ts';

const deployment = (rest: string, operation: EndpointRule['operation'], format: EndpointRule['format']): EndpointRule => ({
  method: 'POST', path: `/openai/deployments/{model}/${rest}`, operation, body: 'required', model: 'required', format,
  stream: operation === 'embeddings' ? 'never' : 'body-flag',
});

export const AZURE_OPENAI_ENDPOINTS: readonly EndpointRule[] = Object.freeze([
  deployment('chat/completions', 'chat', 'openai-chat'),
  deployment('completions', 'completions', 'openai-completions'),
  deployment('embeddings', 'embeddings', 'openai-embeddings'),
  { method: 'POST', path: '/openai/responses', operation: 'responses', body: 'required', model: 'required', format: 'openai-responses', stream: 'body-flag' },
  { method: 'GET', path: '/openai/models', operation: 'models.list', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
  ...openAiEndpoints('/openai/v1').filter((e) => e.operation !== 'moderations'),
]);

/** An API key goes in "api-key"; an Entra ID token in "authorization: Bearer". */
function azureCredential(credential: Credential): HeaderEdits {
  if (credential.kind === 'none') return credentialEdits([]);
  if (credential.kind === 'api-key') return credentialEdits([{ name: 'api-key', value: credential.secret }]);
  if (credential.kind === 'bearer') return credentialEdits([bearer(credential.secret)]);
  return mismatch('azure-openai', credential);
}

export const AZURE_OPENAI: KindSpec = {
  kind: 'azure-openai',
  endpoints: AZURE_OPENAI_ENDPOINTS,
  inferenceOperations: OPENAI_INFERENCE_OPERATIONS,
  headers: allowList([...OPENAI_HEADERS, 'x-ms-client-request-id', 'x-ms-useragent'], OPENAI_HEADER_PREFIXES),
  pathPolicy: { arnModelsMayHoldSlash: false },
  credential: () => azureCredential,
};
