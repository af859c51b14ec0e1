// The answers Tollgate encodes itself: the allowing CheckResponse (encoded directly) and the fixed ext_proc
// answers (encoded once). Both must give exactly the bytes of the generic proto-loader encoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MethodDefinition } from '@grpc/grpc-js';
import { errorResponse, headerOption, requestBodyResponse, requestHeadersResponse, streamedChunkResponse, responseBodyResponse, responseHeadersResponse, trailersResponse, isFixedAnswer } from '../../extproc/processing/responses.ts';
import { encodeCheckOk, encodeProcessingAnswer } from '../../extproc/wire/answer-encoding.ts';
import type { CheckResponse } from '../../extproc/wire/ext-authz.ts';
import type { ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { envoyServices, prebuiltEncoder, withResponseEncoder } from '../../extproc/wire/proto.ts';
import { stringStruct } from '../../extproc/wire/struct.ts';

const services = envoyServices();
const check = services.authorization.Check as MethodDefinition<unknown, CheckResponse>;
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
  // Through the registered serializer, they still encode (generically).
  const registered = withResponseEncoder(services.authorization, 'Check', (a, g) => encodeCheckOk(a as CheckResponse) ?? g(a)).Check!;
  assert.deepEqual(registered.responseSerialize(others[1]), generic(others[1]));
});

test('fixed ext_proc answers: what the builders return with no edits, frozen, encoded once to the generic bytes', () => {
  const answers = [requestHeadersResponse(), requestHeadersResponse({ set: [], remove: [] }), requestBodyResponse(), responseHeadersResponse({ streamBody: false }), responseHeadersResponse({ streamBody: true }), responseBodyResponse(), trailersResponse('request_trailers'), trailersResponse('response_trailers')];
  for (const a of answers) assert.ok(isFixedAnswer(a) && Object.isFrozen(a), JSON.stringify(a));
  assert.equal(requestHeadersResponse(), requestHeadersResponse({}));
  assert.throws(() => { (requestBodyResponse().request_body!.response as { status: string }).status = 'CONTINUE_AND_REPLACE'; }, TypeError);
  const process = services.externalProcessor.Process!;
  const registered = withResponseEncoder(services.externalProcessor, 'Process', prebuiltEncoder(isFixedAnswer)).Process!;
  for (const a of answers) {
    const first = registered.responseSerialize(a);
    assert.deepEqual(first, process.responseSerialize(a));
    assert.equal(registered.responseSerialize(a), first, 'the same bytes, not encoded again');
  }
  // An answer with edits is not fixed and is encoded each time.
  const edited = requestHeadersResponse({ remove: ['cookie'] });
  assert.equal(isFixedAnswer(edited), false);
  assert.notEqual(registered.responseSerialize(edited), registered.responseSerialize(edited));
  assert.deepEqual(registered.responseSerialize(edited), process.responseSerialize(edited));
});

test('ext_proc answers with header and body mutations are encoded directly, to the generic encoding byte for byte', () => {
  const process = services.externalProcessor.Process!;
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
    assert.deepEqual(mine, process.responseSerialize(a), JSON.stringify(a));
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
});
