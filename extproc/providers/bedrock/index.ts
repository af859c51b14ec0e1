// Amazon Bedrock runtime: upstream "https://bedrock-runtime.<region>.amazonaws.com". The model is the path's
// "/model/<id>/..." segment, decoded once (ids hold ":"; ARNs hold an encoded "/"). Requests are signed
// with SigV4 (service "bedrock") over the final method, path, query, host and body; a bearer credential
// (a Bedrock API key) is sent as "authorization: Bearer" instead.
import type { Credential } from '../../core/credential.ts';
import { bearer, credentialEdits, mismatch, type HeaderEdits } from '../shared/credential-headers.ts';
import type { EndpointRule, Operation } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindOptions, KindSpec } from '../shared/kind.ts';
import type { FinalRequest } from '../shared/translator.ts';
import { signSigV4 } from './sigv4.ts';

const model = (action: string, operation: EndpointRule['operation'], format: EndpointRule['format'], stream: EndpointRule['stream']): EndpointRule =>
  ({ method: 'POST', path: `/model/{model}/${action}`, operation, body: 'required', model: 'required', format, stream });

export const BEDROCK_ENDPOINTS: readonly EndpointRule[] = Object.freeze([
  model('converse', 'converse', 'bedrock-converse', 'never'),
  model('converse-stream', 'converse_stream', 'bedrock-converse', 'always'),
  model('invoke', 'invoke', 'bedrock-invoke', 'never'),
  model('invoke-with-response-stream', 'invoke_stream', 'bedrock-invoke', 'always'),
  model('count-tokens', 'count_tokens', 'generic-json', 'never'),
]);

/** What a grant without `operations` allows: every built-in Bedrock runtime call is inference. */
export const BEDROCK_INFERENCE_OPERATIONS: readonly Operation[] = ['converse', 'converse_stream', 'invoke', 'invoke_stream', 'count_tokens'];

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The authority Envoy sends upstream: host, plus the port when it is not the scheme's default. */
export function upstreamAuthority(upstream: URL): string {
  return upstream.port === '' ? upstream.hostname : `${upstream.hostname}:${upstream.port}`;
}

function bedrockCredential(options: KindOptions) {
  const region = options.region;
  if (region === undefined || !REGION.test(region)) throw new Error('provider kind bedrock needs a region such as "us-east-1"');
  const now = options.now ?? (() => new Date());
  return async (credential: Credential, final: FinalRequest): Promise<HeaderEdits> => {
    if (credential.kind === 'none') return credentialEdits([]);
    if (credential.kind === 'bearer') return credentialEdits([bearer(credential.secret)]);
    if (credential.kind !== 'aws') return mismatch('bedrock', credential);
    const set = await signSigV4(
      { method: final.method, host: upstreamAuthority(final.upstream), path: final.upstreamPath, query: final.query, body: final.body },
      credential,
      { region, service: 'bedrock', date: now(), contentSha256Header: true },
    );
    return credentialEdits(set);
  };
}

export const BEDROCK: KindSpec = {
  kind: 'bedrock',
  endpoints: BEDROCK_ENDPOINTS,
  inferenceOperations: BEDROCK_INFERENCE_OPERATIONS,
  // Guardrail, trace and latency-tier headers are request options; the caller's x-amz-* never pass.
  headers: allowList(['amz-sdk-invocation-id', 'amz-sdk-request'], ['x-amzn-bedrock-']),
  pathPolicy: { arnModelsMayHoldSlash: true },
  credential: bedrockCredential,
};
