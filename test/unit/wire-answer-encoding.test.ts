// The answers Tollgate encodes itself: the allowing CheckResponse (encoded directly) and the fixed ext_proc
// answers (encoded once). Both must give exactly the bytes of the generic proto-loader encoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadPackageDefinition, type GrpcObject, type MethodDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { errorResponse, headerOption, requestBodyResponse, requestHeadersResponse, streamedChunkResponse, responseBodyResponse, responseHeadersResponse, trailersResponse } from '../../extproc/processing/responses.ts';
import { encodeCheckOk, encodeProcessingAnswer, isFixedAnswer } from '../../extproc/wire/answer-encoding.ts';
import type { CheckResponse } from '../../extproc/wire/ext-authz.ts';
import type { ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { envoyServices, EXT_AUTHZ_PROTO, EXT_PROC_PROTO, LOADER_OPTIONS } from '../../extproc/wire/proto.ts';
import { stringStruct } from '../../extproc/wire/struct.ts';

// The definitions the server registers (direct encoders installed) and, loaded apart, the generic ones.
const services = envoyServices();
const genericRoot = loadPackageDefinition(loadSync([EXT_PROC_PROTO, EXT_AUTHZ_PROTO], LOADER_OPTIONS));
const genericService = (path: string): ServiceClientConstructor => path.split('.').reduce<unknown>((node, part) => (node as GrpcObject)[part], genericRoot) as ServiceClientConstructor;
const check = genericService('envoy.service.auth.v3.Authorization').service.Check as MethodDefinition<unknown, CheckResponse>;
const processGeneric = genericService('envoy.service.ext_proc.v3.ExternalProcessor').service.Process as MethodDefinition<unknown, ProcessingResponse>;
const generic = (a: unknown): Buffer => check.responseSerialize(a as CheckResponse);

const allow = (remove: string[], fields: Record<string, string>): CheckResponse => ({ status: { code: 0 }, ok_response: { headers_to_remove: remove }, dynamic_metadata: stringStruct(fields) });

test('an allowing Check answer is encoded directly, to the generic encoding byte for byte', () => {
  const cases: CheckResponse[] = [
    allow(['authorization', 'x-api-key', 'cookie'], { context: '["tollgate.authz.v3","agent-1","é ✓ \\u0000"]', seal: 'ZB0Uhyb2mj2aYR6XlcoiC-XDrBiWyteRKulVW6BoKkA' }),
    allow([], { context: 'x'.repeat(300), seal: '' }),
    allow(['a'], {}),
  ];
  for (const c of cases) {
    const mine = encodeCheckOk(c);
    assert.ok(mine !== undefined);
    assert.deepEqual(mine, generic(c));
    assert.deepEqual(check.responseDeserialize(mine), check.responseDeserialize(generic(c)));
  }
});

test('any other Check answer is left to the generic encoder (nothing is dropped)', () => {
  const base = allow(['authorization'], { context: 'c', seal: 's' });
  const others: unknown[] = [
    { status: { code: 7 }, denied_response: { status: { code: 403 }, headers: [], body: '{}' } },
    { ...base, ok_response: { headers_to_remove: ['x'], headers: [{ header: { key: 'authorization', value: 'Bearer k' }, append: { value: false } }] } },
    { ...base, dynamic_metadata: { fields: { n: { numberValue: 1 } } } },
    { ...base, status: { code: 0, message: 'ok' } },
    { ...base, unknown_field: 1 },
  ];
  for (const o of others) assert.equal(encodeCheckOk(o as CheckResponse), undefined, JSON.stringify(o));
  // Through the registered serializer, they still encode (generically), and an allow directly.
  const registered = services.authorization.Check!;
  for (const o of [...others, base]) assert.deepEqual(registered.responseSerialize(o), generic(o));
});

test('fixed ext_proc answers: what the builders return with no edits, frozen, encoded once to the generic bytes', () => {
  const answers = [requestHeadersResponse(), requestHeadersResponse({ set: [], remove: [] }), requestBodyResponse(), responseHeadersResponse({ streamBody: false }), responseHeadersResponse({ streamBody: true }), responseBodyResponse(), trailersResponse('request_trailers'), trailersResponse('response_trailers')];
  for (const a of answers) assert.ok(isFixedAnswer(a) && Object.isFrozen(a), JSON.stringify(a));
  assert.equal(requestHeadersResponse(), requestHeadersResponse({}));
  assert.throws(() => { (requestBodyResponse().request_body!.response as { status: string }).status = 'CONTINUE_AND_REPLACE'; }, TypeError);
  const registered = services.externalProcessor.Process!;
  for (const a of answers) {
    const first = registered.responseSerialize(a);
    assert.deepEqual(first, processGeneric.responseSerialize(a));
    assert.equal(registered.responseSerialize(a), first, 'the same bytes, not encoded again');
  }
  // An answer with edits is not fixed and is encoded each time.
  const edited = requestHeadersResponse({ remove: ['cookie'] });
  assert.equal(isFixedAnswer(edited), false);
  assert.notEqual(registered.responseSerialize(edited), registered.responseSerialize(edited));
  assert.deepEqual(registered.responseSerialize(edited), processGeneric.responseSerialize(edited));
});

test('ext_proc answers with header and body mutations are encoded directly, to the generic encoding byte for byte', () => {
  const edits = { set: [{ name: 'authorization', value: 'Bearer sk-é✓' }, { name: 'x-empty', value: '' }], remove: ['x-api-key', 'cookie'] };
  const answers: ProcessingResponse[] = [
    requestHeadersResponse(edits),
    requestHeadersResponse({ remove: ['cookie'] }),
    requestBodyResponse(edits, Buffer.from('{"model":"gpt-4o-mini"}')),
    requestBodyResponse(undefined, Buffer.alloc(0)),
    { request_body: { response: { status: 'CONTINUE', header_mutation: { set_headers: [headerOption('x-tollgate-route', 'b')] }, clear_route_cache: true } } },
    responseHeadersResponse({ streamBody: false, edits: { set: [{ name: 'x-tollgate-decision-id', value: 'd-1' }] } }),
    responseBodyResponse(Buffer.from('{"choices":[]}'), { remove: ['content-encoding'] }),
    streamedChunkResponse(Buffer.from('data: {}\n\n')),
    { response_body: {} } as unknown as ProcessingResponse,
  ];
  for (const a of answers) {
    const mine = encodeProcessingAnswer(a);
    assert.ok(mine !== undefined, JSON.stringify(a));
    assert.deepEqual(mine, processGeneric.responseSerialize(a), JSON.stringify(a));
  }
});

test('any other ext_proc answer is left to the generic encoder', () => {
  const others: unknown[] = [
    errorResponse({ status: 403, code: 'model_forbidden', headers: [{ name: 'x-request-id', value: 'r' }], body: '{}' }),
    responseHeadersResponse({ streamBody: true, edits: { set: [{ name: 'a', value: 'b' }] } }),
    { request_body: { response: { status: 'CONTINUE_AND_REPLACE', body_mutation: { body: Buffer.from('x') } } } },
    { request_headers: { response: { status: 'CONTINUE', header_mutation: { set_headers: [{ header: { key: 'a', value: 'b' } }] } } } },
    { request_headers: { response: { status: 'CONTINUE', trailers: { headers: [] } } } },
    { request_headers: { response: {} }, dynamic_metadata: { fields: {} } },
    { request_trailers: {} },
    { toString: {} },
    {},
  ];
  for (const o of others) assert.equal(encodeProcessingAnswer(o as ProcessingResponse), undefined, JSON.stringify(o));
  for (const o of others.slice(0, 5)) assert.deepEqual(services.externalProcessor.Process!.responseSerialize(o), processGeneric.responseSerialize(o as ProcessingResponse));
});
