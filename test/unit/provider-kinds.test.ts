// Provider kinds: the endpoint allow-list per kind, where the model is found (path, query, body) and every
// way a request can disagree with itself, the header allow-list, and credential placement per kind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Credential } from '../../extproc/core/credential.ts';
import { Secret } from '../../extproc/core/secret.ts';
import {
  createProviderKind, EndpointNotAllowed, EndpointRuleError, headerValue, isStreamingContentType, PROVIDER_KINDS, ProviderError,
  PROVIDER_ERROR_STATUS, type EndpointRule, type KindOptions, type ProviderKind,
} from '../../extproc/providers/index.ts';

const UPSTREAM: Record<ProviderKind, string> = {
  openai: 'https://api.openai.com', 'openai-compatible': 'http://127.0.0.1:8000', anthropic: 'https://api.anthropic.com',
  'azure-openai': 'https://res.openai.azure.com', bedrock: 'https://bedrock-runtime.us-east-1.amazonaws.com', vertex: 'https://us-central1-aiplatform.googleapis.com',
  mcp: 'http://127.0.0.1:3000',
};
const kindOf = (kind: ProviderKind, extra: Partial<KindOptions> = {}) => createProviderKind(kind, { upstream: new URL(UPSTREAM[kind]), region: 'us-east-1', ...extra });
const head = (method: string, path: string, query = '') => ({ method, path, query, headers: new Map<string, string>() });
const VP = '/v1/projects/p1/locations/us-central1/publishers/google/models';

describe('provider kinds', () => {
  it('the exported list names every kind, and each can be created', () => {
    assert.deepEqual([...PROVIDER_KINDS], ['openai', 'openai-compatible', 'anthropic', 'azure-openai', 'bedrock', 'vertex', 'mcp']);
    for (const k of PROVIDER_KINDS) assert.equal(kindOf(k).kind, k);
  });
});

describe('inference operations: what a grant without `operations` allows', () => {
  const MUST_BE_LISTED = ['files', 'responses.get', 'batches', 'fine_tuning', 'assistants', 'moderations', 'custom'];
  for (const k of PROVIDER_KINDS) {
    it(`${k}: only inference and model-catalogue operations the kind serves, never stored data`, () => {
      const kind = kindOf(k);
      const served = new Set(kind.endpoints.map((e) => e.operation));
      assert.ok(kind.inferenceOperations.size > 0);
      for (const op of kind.inferenceOperations) {
        assert.ok(served.has(op), `${op} is an operation of a ${k} endpoint`);
        assert.ok(!MUST_BE_LISTED.includes(op), `${op} must be listed in a grant`);
      }
    });
  }

  it('OpenAI files and stored responses are their own operations, outside the default', () => {
    const kind = kindOf('openai');
    for (const [method, path, op] of [['GET', '/v1/files', 'files'], ['GET', '/v1/files/file-1/content', 'files'], ['DELETE', '/v1/files/file-1', 'files'], ['GET', '/v1/responses/resp_1', 'responses.get']] as const) {
      assert.equal(kind.newRequest(head(method, path)).operation, op, `${method} ${path}`);
      assert.ok(!kind.inferenceOperations.has(op));
    }
    assert.ok(kind.inferenceOperations.has('responses'), 'creating a response is inference');
  });
});

describe('endpoint allow-list: what each kind understands', () => {
  const allowed: readonly [ProviderKind, string, string, string][] = [
    ['openai', 'POST', '/v1/chat/completions', 'chat'],
    ['openai', 'POST', '/v1/completions', 'completions'],
    ['openai', 'POST', '/v1/embeddings', 'embeddings'],
    ['openai', 'POST', '/v1/responses', 'responses'],
    ['openai', 'POST', '/v1/moderations', 'moderations'],
    ['openai', 'GET', '/v1/models', 'models.list'],
    ['openai', 'GET', '/v1/models/gpt-4o', 'models.get'],
    ['openai', 'GET', '/v1/files/file-abc', 'files'],
    ['openai', 'DELETE', '/v1/files/file-abc', 'files'],
    ['openai-compatible', 'POST', '/v1/chat/completions', 'chat'],
    ['openai-compatible', 'POST', '/api/chat', 'chat'],
    ['openai-compatible', 'GET', '/api/tags', 'models.list'],
    ['anthropic', 'POST', '/v1/messages', 'messages'],
    ['anthropic', 'POST', '/v1/messages/count_tokens', 'count_tokens'],
    ['anthropic', 'GET', '/v1/models/claude-sonnet-4-20250514', 'models.get'],
    ['azure-openai', 'POST', '/openai/deployments/prod/chat/completions', 'chat'],
    ['azure-openai', 'POST', '/openai/deployments/prod/embeddings', 'embeddings'],
    ['azure-openai', 'POST', '/openai/v1/chat/completions', 'chat'],
    ['azure-openai', 'POST', '/openai/responses', 'responses'],
    ['bedrock', 'POST', '/model/amazon.nova-lite-v1:0/converse', 'converse'],
    ['bedrock', 'POST', '/model/amazon.nova-lite-v1:0/converse-stream', 'converse_stream'],
    ['bedrock', 'POST', '/model/amazon.nova-lite-v1:0/invoke', 'invoke'],
    ['bedrock', 'POST', '/model/amazon.nova-lite-v1:0/invoke-with-response-stream', 'invoke_stream'],
    ['bedrock', 'POST', '/model/amazon.nova-lite-v1:0/count-tokens', 'count_tokens'],
    ['vertex', 'POST', `${VP}/gemini-2.0-flash:generateContent`, 'generate_content'],
    ['vertex', 'POST', `${VP}/gemini-2.0-flash:streamGenerateContent`, 'stream_generate_content'],
    ['vertex', 'POST', `${VP}/gemini-2.0-flash:countTokens`, 'count_tokens'],
    ['vertex', 'POST', '/v1/projects/p1/locations/us-central1/endpoints/openapi/chat/completions', 'chat'],
    ['vertex', 'POST', '/v1beta/models/gemini-2.5-flash:generateContent', 'generate_content'],
    ['vertex', 'GET', '/v1beta/models', 'models.list'],
  ];
  for (const [kind, method, path, op] of allowed) {
    it(`${kind}: ${method} ${path} → ${op}`, () => {
      assert.equal(kindOf(kind).newRequest(head(method, path)).operation, op);
    });
  }

  const denied: readonly [ProviderKind, string, string][] = [
    ['openai', 'POST', '/v1/chat/completions/extra'],
    ['openai', 'GET', '/v1/chat/completions'],
    ['openai', 'PUT', '/v1/chat/completions'],
    ['openai', 'HEAD', '/v1/models'],
    ['openai', 'PATCH', '/v1/models'],
    ['openai', 'OPTIONS', '/v1/chat/completions'],
    ['openai', 'post', '/v1/chat/completions'],
    ['openai', 'POST', '/v1/%63hat/completions'],
    ['openai', 'POST', '/V1/chat/completions'],
    ['openai', 'POST', '/v1/files'],
    ['openai', 'POST', '/v1/fine_tuning/jobs'],
    ['openai', 'POST', '/v1/assistants'],
    ['openai', 'POST', '/v1/audio/transcriptions'],
    ['openai', 'GET', '/'],
    ['openai', 'POST', '/v2/chat/completions'],
    ['anthropic', 'POST', '/v1/messages/batches'],
    ['anthropic', 'POST', '/v1/complete'],
    ['anthropic', 'POST', '/v1/chat/completions'],
    ['azure-openai', 'POST', '/openai/deployments/prod/images/generations'],
    ['azure-openai', 'POST', '/openai/assistants'],
    ['bedrock', 'POST', '/model/amazon.nova-lite-v1:0/unknown'],
    ['bedrock', 'GET', '/foundation-models'],
    ['bedrock', 'POST', '/async-invoke'],
    ['vertex', 'POST', `${VP}/gemini-2.0-flash:predict`],
    ['vertex', 'POST', `${VP}/gemini-2.0-flash`],
    ['vertex', 'POST', '/v1/projects/p1/locations/us-central1/publishers/anthropic/models/claude:rawPredict'],
    ['openai-compatible', 'POST', '/tokenize'],
  ];
  for (const [kind, method, path] of denied) {
    it(`${kind}: ${method} ${path} is denied by default (EndpointNotAllowed, 403)`, () => {
      assert.throws(() => kindOf(kind).newRequest(head(method, path)), (err: unknown) => err instanceof EndpointNotAllowed && err.httpStatus === 403);
    });
  }

  it('vertex: a configured project and location pin the path', () => {
    const k = kindOf('vertex', { project: 'p1', location: 'us-central1' });
    assert.equal(k.newRequest(head('POST', `${VP}/gemini-2.0-flash:generateContent`)).model, 'gemini-2.0-flash');
    assert.throws(() => k.newRequest(head('POST', '/v1/projects/other/locations/us-central1/publishers/google/models/g:generateContent')), EndpointNotAllowed);
    assert.throws(() => k.newRequest(head('POST', '/v1/projects/p1/locations/europe-west4/publishers/google/models/g:generateContent')), EndpointNotAllowed);
  });

  it('endpoints match the path the provider receives: the upstream base path, then the request path', () => {
    const k = createProviderKind('openai', { upstream: new URL('https://api.openai.com/v1') });
    const t = k.newRequest(head('POST', '/chat/completions'));
    assert.equal(t.operation, 'chat');
    assert.equal(t.upstreamPath, '/v1/chat/completions');
    assert.throws(() => k.newRequest(head('POST', '/v1/chat/completions')), EndpointNotAllowed);
  });
});

describe('extra endpoints from config', () => {
  const batches: EndpointRule = { method: 'POST', path: '/v1/messages/batches', operation: 'custom', body: 'required', model: 'optional', format: 'generic-json', stream: 'never' };
  it('an operator rule allows what the built-ins deny, after the built-ins', () => {
    const k = kindOf('anthropic', { extraEndpoints: [batches] });
    const t = k.newRequest(head('POST', '/v1/messages/batches'));
    assert.equal(t.operation, 'custom');
    t.parseBody(Buffer.from('{"requests":[{"custom_id":"a","params":{"model":"claude","messages":[{"role":"user","content":"hi"}]}}]}'));
    assert.ok(t.segments().some((s) => s.text === 'hi'), 'generic bodies expose every string');
    assert.equal(k.newRequest(head('POST', '/v1/messages')).operation, 'messages');
  });
  const invalid: readonly [string, EndpointRule][] = [
    ['a GET with a body', { ...batches, method: 'GET' }],
    ['an unknown method', { ...batches, method: 'PUT' as 'POST' }],
    ['an unknown operation', { ...batches, operation: 'admin' as 'custom' }],
    ['an unknown format', { ...batches, format: 'xml' as 'opaque' }],
    ['a relative path', { ...batches, path: 'v1/x' }],
    ['a dot segment', { ...batches, path: '/v1/../admin' }],
    ['a percent sign', { ...batches, path: '/v1/%2e%2e/admin' }],
    ['two models', { ...batches, path: '/{model}/{model}' }],
    ['a required model an opaque body cannot carry', { ...batches, format: 'opaque', model: 'required' }],
  ];
  for (const [label, rule] of invalid) {
    it(`refuses ${label} at load (EndpointRuleError)`, () => {
      assert.throws(() => kindOf('anthropic', { extraEndpoints: [batches, rule] }), (err: unknown) => err instanceof EndpointRuleError && err.message.startsWith('endpoint rule 1:'));
    });
  }
});

const PLANT = 'sk-proj-PLANTEDSECRET0123456789';
// A model name, undefined (no model), or a ProviderErrorCode.
type Expect = string | undefined;
const MODEL_CASES: readonly [string, ProviderKind, string, string, string, string | undefined, Expect][] = [
  // label, kind, method, path, query, body, expected model or error code
  ['body model', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"gpt-4o","messages":[]}', 'gpt-4o'],
  ['duplicate "model" keys', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"gpt-4o","model":"gpt-4o-mini"}', 'body_malformed'],
  ['"mod\\u0065l" duplicating "model"', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"gpt-4o","mod\\u0065l":"gpt-4o-mini"}', 'body_malformed'],
  ['duplicate keys deep in messages', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"gpt-4o","messages":[{"role":"user","content":"a","content":"b"}]}', 'body_malformed'],
  ['invalid UTF-8', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"gpt-4o","x":"\udc80"}', undefined],
  ['a top-level array', 'openai', 'POST', '/v1/chat/completions', '', '[{"model":"gpt-4o"}]', 'body_malformed'],
  ['no body on chat', 'openai', 'POST', '/v1/chat/completions', '', undefined, 'body_missing'],
  ['an empty POST body on chat', 'openai', 'POST', '/v1/chat/completions', '', '', 'body_missing'],
  ['no model in the body', 'openai', 'POST', '/v1/chat/completions', '', '{"messages":[]}', 'model_missing'],
  ['a numeric model', 'openai', 'POST', '/v1/chat/completions', '', '{"model":4}', 'model_invalid'],
  ['a model with spaces and a planted key', 'openai', 'POST', '/v1/chat/completions', '', `{"model":"qwen ${PLANT} AKIAIOSFODNN7EXAMPLE"}`, 'model_invalid'],
  ['a model with "*"', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"gpt-4o*"}', 'model_invalid'],
  ['a 201-character model', 'openai', 'POST', '/v1/chat/completions', '', `{"model":"${'m'.repeat(201)}"}`, 'model_invalid'],
  ['a 200-character model', 'openai', 'POST', '/v1/chat/completions', '', `{"model":"${'m'.repeat(200)}"}`, 'm'.repeat(200)],
  ['a non-ASCII model', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"modèle"}', 'model_invalid'],
  ['a model with ".."', 'openai', 'POST', '/v1/chat/completions', '', '{"model":"a/../b"}', 'model_invalid'],
  ['an empty model', 'openai', 'POST', '/v1/chat/completions', '', '{"model":""}', 'model_invalid'],
  ['query model agreeing with the body', 'openai', 'POST', '/v1/chat/completions', 'model=gpt-4o', '{"model":"gpt-4o"}', 'gpt-4o'],
  ['query model differing from the body', 'openai', 'POST', '/v1/chat/completions', 'model=gpt-4o', '{"model":"gpt-4o-mini"}', 'model_conflict'],
  ['two different query models', 'openai', 'GET', '/v1/models', 'model=a&model=b', undefined, 'model_conflict'],
  ['a query model on a bodiless GET', 'openai', 'GET', '/v1/models', 'model=gpt-4o', undefined, 'gpt-4o'],
  ['a Gemini API key in the query', 'vertex', 'POST', '/v1beta/models/gemini-2.5-flash:generateContent', `key=${PLANT}`, '{}', 'path_malformed'],
  ['an OAuth access_token in the query', 'openai', 'GET', '/v1/models', `ACCESS_TOKEN=${PLANT}`, undefined, 'path_malformed'],
  ['a presigned SigV4 query', 'bedrock', 'POST', '/model/m/converse', `X-Amz-Credential=AKID&X-Amz-Signature=${PLANT}`, '{}', 'path_malformed'],
  ['bad query percent-encoding', 'openai', 'GET', '/v1/models', 'model=%E0%A4%A', undefined, 'path_malformed'],
  ['path model on GET models.get', 'openai', 'GET', '/v1/models/gpt-4o', '', undefined, 'gpt-4o'],
  ['models.list without a model', 'openai', 'GET', '/v1/models', '', undefined, undefined],
  ['a body on a GET endpoint', 'openai', 'GET', '/v1/models', '', '{"model":"x"}', 'body_malformed'],
  ['Azure deployment agreeing with the body', 'azure-openai', 'POST', '/openai/deployments/prod-4o/chat/completions', 'api-version=2024-10-21', '{"model":"prod-4o","messages":[]}', 'prod-4o'],
  ['Azure deployment without a body model', 'azure-openai', 'POST', '/openai/deployments/prod-4o/chat/completions', 'api-version=2024-10-21', '{"messages":[]}', 'prod-4o'],
  ['Azure deployment differing from the body', 'azure-openai', 'POST', '/openai/deployments/prod-4o/chat/completions', '', '{"model":"gpt-4o-mini"}', 'model_conflict'],
  ['Azure encoded slash in the deployment', 'azure-openai', 'POST', '/openai/deployments/a%2Fb/chat/completions', '', '{}', 'path_malformed'],
  ['Vertex path model', 'vertex', 'POST', `${VP}/gemini-2.0-flash:generateContent`, '', '{"contents":[]}', 'gemini-2.0-flash'],
  ['Vertex path model and a differing query model', 'vertex', 'POST', `${VP}/gemini-2.0-flash:generateContent`, 'model=gemini-2.5-pro', '{"contents":[]}', 'model_conflict'],
  ['Vertex path model and a differing body model', 'vertex', 'POST', `${VP}/gemini-2.0-flash:generateContent`, '', '{"model":"gemini-2.5-pro","contents":[]}', 'model_conflict'],
  ['Gemini API path model', 'vertex', 'POST', '/v1beta/models/gemini-2.5-flash:generateContent', '', '{"contents":[]}', 'gemini-2.5-flash'],
  ['Gemini encoded "/" before the verb', 'vertex', 'POST', '/v1beta/models/x%2F..%2Fy:generateContent', '', '{}', 'path_malformed'],
  ['Bedrock id with %3A', 'bedrock', 'POST', '/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke', '', '{"messages":[]}', 'anthropic.claude-3-haiku-20240307-v1:0'],
  ['Bedrock ARN with %2F', 'bedrock', 'POST', '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x-v1%3A0/converse', '', '{}', 'arn:aws:bedrock:us-east-1:1:inference-profile/us.x-v1:0'],
  ['Bedrock non-ARN with %2F', 'bedrock', 'POST', '/model/a%2Fb/converse', '', '{}', 'path_malformed'],
  ['Bedrock double encoding (%253A)', 'bedrock', 'POST', '/model/anthropic.claude-v2%253A1/invoke', '', '{}', 'path_malformed'],
  ['Bedrock encoded backslash', 'bedrock', 'POST', '/model/a%5Cb/invoke', '', '{}', 'path_malformed'],
  ['Bedrock encoded dot-dot segment', 'bedrock', 'POST', '/model/%2e%2e/invoke', '', '{}', 'path_malformed'],
  ['Bedrock raw dot-dot segment', 'bedrock', 'POST', '/model/../invoke', '', '{}', 'path_malformed'],
  ['Bedrock body "model" is not a model field', 'bedrock', 'POST', '/model/amazon.nova-lite-v1:0/converse', '', '{"model":"other"}', 'amazon.nova-lite-v1:0'],
  ['Bedrock invalid id', 'bedrock', 'POST', `/model/${encodeURIComponent(`x ${PLANT}`)}/converse`, '', '{}', 'model_invalid'],
  ['a raw space in the path', 'openai', 'POST', '/v1/chat completions', '', '{}', 'path_malformed'],
  ['a raw backslash in the path', 'openai', 'POST', '/v1\\chat/completions', '', '{}', 'path_malformed'],
  ['an empty path segment', 'openai', 'POST', '/v1//chat/completions', '', '{}', 'path_malformed'],
  ['an encoded NUL', 'openai', 'GET', '/v1/models/a%00b', '', undefined, 'path_malformed'],
  ['a non-ASCII path', 'openai', 'GET', '/v1/models/é', '', undefined, 'path_malformed'],
];

describe('model resolution', () => {
  for (const [label, kind, method, path, query, body, expected] of MODEL_CASES) {
    it(`${kind}: ${label} → ${String(expected).slice(0, 60)}`, () => {
      const run = (): string | undefined => {
        const t = kindOf(kind).newRequest(head(method, path, query));
        const bytes = body === undefined ? undefined : label === 'invalid UTF-8' ? Buffer.from([...Buffer.from('{"model":"gpt-4o","x":"'), 0xc3, 0x28, ...Buffer.from('"}')]) : Buffer.from(body);
        t.parseBody(bytes);
        return t.model;
      };
      const errorCodes: readonly (string | undefined)[] = Object.keys(PROVIDER_ERROR_STATUS);
      if (label === 'invalid UTF-8') {
        assert.throws(run, (err: unknown) => err instanceof ProviderError && err.code === 'body_malformed' && err.detail.includes('utf8'));
      } else if (expected !== undefined && errorCodes.includes(expected)) {
        assert.throws(run, (err: unknown) => {
          assert.ok(err instanceof ProviderError, String(err));
          assert.equal(err.code, expected);
          assert.ok(!err.message.includes('PLANTED') && !err.message.includes('AKIA') && !err.message.includes('qwen'), err.message);
          return true;
        });
      } else {
        assert.equal(run(), expected);
      }
    });
  }

  it('the path and query model is known at request headers, before any body', () => {
    assert.equal(kindOf('openai').newRequest(head('GET', '/v1/models/gpt-4o')).model, 'gpt-4o');
    assert.equal(kindOf('azure-openai').newRequest(head('POST', '/openai/deployments/d1/chat/completions')).model, 'd1');
  });

  it('stream: from the body flag, or always for streaming operations', () => {
    const chat = kindOf('openai').newRequest(head('POST', '/v1/chat/completions'));
    chat.parseBody(Buffer.from('{"model":"m","stream":true}'));
    assert.equal(chat.stream, true);
    assert.equal(chat.streamFraming, 'sse');
    const notStream = kindOf('openai').newRequest(head('POST', '/v1/chat/completions'));
    notStream.parseBody(Buffer.from('{"model":"m","stream":"true"}'));
    assert.equal(notStream.stream, false);
    const cs = kindOf('bedrock').newRequest(head('POST', '/model/m/converse-stream'));
    assert.equal(cs.stream, true);
    assert.equal(cs.streamFraming, 'aws-event-stream');
  });

  it('setBodyBytes takes the redacted bytes with the same strict parse, and refuses a body whose model changed', () => {
    const t = kindOf('openai').newRequest(head('POST', '/v1/chat/completions'));
    t.parseBody(Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"secret 123"}]}'));
    const redacted = Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"secret <N_1>"}]}');
    assert.equal(t.setBodyBytes(redacted), redacted);
    assert.equal(t.body, redacted);
    assert.deepEqual(t.segments().filter((s) => s.key !== true).map((s) => s.text), ['gpt-4o', 'user', 'secret <N_1>'], 'the segments are the new body\'s');
    const isCode = (code: string) => (err: unknown): boolean => err instanceof ProviderError && err.code === code;
    assert.throws(() => t.setBodyBytes(Buffer.from('{"model":"gpt-4o-mini","messages":[]}')), isCode('model_conflict'));
    assert.throws(() => t.setBodyBytes(Buffer.from('{"messages":[]}')), isCode('model_conflict'));
    assert.throws(() => t.setBodyBytes(Buffer.from('{"model":"gpt-4o","model":"gpt-4o"}')), isCode('body_malformed'));
    assert.equal(t.body, redacted, 'a refused body leaves the last good one');
  });
});

describe('header allow-list toward the provider', () => {
  const CALLER = [
    ':authority', ':path', ':method', ':scheme', 'host', 'content-length', 'content-type', 'accept', 'user-agent', 'x-request-id',
    'authorization', 'x-api-key', 'api-key', 'cookie', 'proxy-authorization', 'x-tollgate-identity', 'X-Tollgate-Route', 'forwarded', 'x-real-ip',
    'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-envoy-original-dst-host', 'x-envoy-upstream-rq-timeout-ms', 'accept-encoding',
    'openai-beta', 'openai-organization', 'openai-project', 'anthropic-version', 'anthropic-beta', 'x-stainless-os', 'x-amz-date', 'x-amz-security-token',
    'x-amzn-bedrock-guardrailidentifier', 'x-goog-api-client', 'x-goog-user-project', 'x-ms-client-request-id', 'connection', 'x-custom',
  ];
  const passes: Record<ProviderKind, readonly string[]> = {
    openai: ['openai-beta', 'x-stainless-os'],
    'openai-compatible': ['openai-beta', 'x-stainless-os'],
    anthropic: ['anthropic-version', 'anthropic-beta', 'x-stainless-os'],
    'azure-openai': ['openai-beta', 'x-stainless-os', 'x-ms-client-request-id'],
    bedrock: ['x-amzn-bedrock-guardrailidentifier'],
    vertex: ['x-goog-api-client'],
    mcp: [],
  };
  const ALWAYS = [':authority', ':path', ':method', ':scheme', 'host', 'content-length', 'content-type', 'accept', 'user-agent', 'x-request-id'];
  for (const kind of PROVIDER_KINDS) {
    it(`${kind}: keeps ${passes[kind].join(', ')} and the common headers; removes everything else`, () => {
      const removed = new Set(kindOf(kind).headersToRemove(CALLER));
      const kept = CALLER.filter((n) => !removed.has(n.toLowerCase()));
      assert.deepEqual(kept.sort(), [...ALWAYS, ...passes[kind]].sort());
      for (const must of ['authorization', 'x-tollgate-identity', 'x-tollgate-route', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-envoy-original-dst-host', 'cookie', 'x-amz-security-token']) {
        assert.ok(removed.has(must), `${must} removed`);
      }
    });
  }
});

describe('credential placement per kind', () => {
  const key = (s: string): Credential => ({ kind: 'api-key', secret: new Secret(s), meta: { source: 'test' } });
  const tok = (s: string): Credential => ({ kind: 'bearer', secret: new Secret(s), meta: { source: 'test' } });
  const aws: Credential = { kind: 'aws', accessKeyId: 'AKID', secretAccessKey: new Secret('S-PLANTED'), sessionToken: undefined, meta: { source: 'test' } };
  const paths: Record<ProviderKind, string> = {
    openai: '/v1/models', 'openai-compatible': '/v1/models', anthropic: '/v1/models', 'azure-openai': '/openai/models', bedrock: '/model/m/converse', vertex: '/v1beta/models',
    mcp: '/mcp',
  };
  const table: readonly [ProviderKind, Credential, readonly [string, string][] | 'credential_mismatch'][] = [
    ['openai', key('k-PLANTED'), [['authorization', 'Bearer k-PLANTED']]],
    ['openai', tok('t-PLANTED'), [['authorization', 'Bearer t-PLANTED']]],
    ['openai', { kind: 'none' }, []],
    ['openai', aws, 'credential_mismatch'],
    ['openai-compatible', key('k-PLANTED'), [['authorization', 'Bearer k-PLANTED']]],
    ['openai-compatible', { kind: 'none' }, []],
    ['anthropic', key('k-PLANTED'), [['x-api-key', 'k-PLANTED']]],
    ['anthropic', tok('t-PLANTED'), [['authorization', 'Bearer t-PLANTED']]],
    ['anthropic', aws, 'credential_mismatch'],
    ['azure-openai', key('k-PLANTED'), [['api-key', 'k-PLANTED']]],
    ['azure-openai', tok('t-PLANTED'), [['authorization', 'Bearer t-PLANTED']]],
    ['azure-openai', aws, 'credential_mismatch'],
    ['vertex', tok('ya29.PLANTED'), [['authorization', 'Bearer ya29.PLANTED']]],
    ['vertex', key('AIza-PLANTED'), [['x-goog-api-key', 'AIza-PLANTED']]],
    ['vertex', aws, 'credential_mismatch'],
    ['bedrock', key('k-PLANTED'), 'credential_mismatch'],
    ['mcp', tok('t-PLANTED'), [['authorization', 'Bearer t-PLANTED']]],
    ['mcp', key('k-PLANTED'), [['authorization', 'Bearer k-PLANTED']]],
    ['mcp', aws, 'credential_mismatch'],
  ];
  for (const [kind, credential, expected] of table) {
    it(`${kind} with ${credential.kind} → ${typeof expected === 'string' ? expected : expected.map(([n]) => n).join(', ') || 'no header'}`, async () => {
      const t = kindOf(kind).newRequest(head(kind === 'bedrock' ? 'POST' : 'GET', paths[kind]));
      if (kind === 'bedrock') t.parseBody(Buffer.from('{}'));
      if (typeof expected === 'string') {
        await assert.rejects(t.applyCredential(credential, { body: t.body }), (err: unknown) => err instanceof ProviderError && err.code === expected && !err.message.includes('PLANTED'));
        return;
      }
      const edits = await t.applyCredential(credential, { body: t.body });
      assert.deepEqual(edits.set.map((h) => [h.name, headerValue(h)]), expected);
      for (const h of edits.set) assert.ok(!String(h.value).includes('PLANTED') && !JSON.stringify(h).includes('PLANTED'), 'credential values stay wrapped');
      const setNames = new Set(edits.set.map((h) => h.name));
      for (const n of ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key']) assert.ok(setNames.has(n) !== edits.remove.includes(n), `${n}: set or removed, never both or neither`);
    });
  }
});

describe('streaming content types', () => {
  const table: readonly [string | undefined, boolean][] = [
    ['text/event-stream', true], ['text/event-stream; charset=utf-8', true], ['application/vnd.amazon.eventstream', true],
    ['application/json', false], [undefined, false], ['TEXT/EVENT-STREAM', true],
  ];
  for (const [ct, expected] of table) it(`${String(ct)} → ${expected}`, () => { assert.equal(isStreamingContentType(ct), expected); });
});
