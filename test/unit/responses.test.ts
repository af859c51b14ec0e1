// The ext_proc response builder: Envoy's wire rules for headers, bodies, mode override and local replies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { denialReply, ERROR_CATALOGUE, GENERIC_CLIENT_MESSAGE, ruleFor, type ErrorCode } from '../../extproc/errors.ts';
import {
  errorResponse,
  headerOption,
  requestBodyResponse,
  requestHeadersResponse,
  responseBodyResponse,
  responseHeadersResponse,
  trailersResponse,
} from '../../extproc/processing/responses.ts';
import type { HeaderValueOption } from '../../extproc/wire/ext-proc.ts';

const headerValue = (opts: readonly HeaderValueOption[] | undefined, name: string): string | undefined =>
  opts?.find((o) => o.header.key === name)?.header.raw_value.toString('latin1');

describe('headerOption', () => {
  it('puts the value in raw_value as a Buffer, never in value, and overwrites (append false)', () => {
    const o = headerOption('x-tollgate-decision-id', 'dec-123');
    assert.ok(Buffer.isBuffer(o.header.raw_value));
    assert.deepEqual(o.header.raw_value, Buffer.from('dec-123'));
    assert.equal(o.header.key, 'x-tollgate-decision-id');
    assert.ok(!('value' in o.header), 'value must not be set');
    assert.deepEqual(o.append, { value: false });
  });

  it('encodes the value as latin1 bytes', () => {
    assert.deepEqual(headerOption('x', 'café').header.raw_value, Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  });
});

describe('requestHeadersResponse / requestBodyResponse', () => {
  it('with no edits is a bare CONTINUE', () => {
    assert.deepEqual(requestHeadersResponse(), { request_headers: { response: { status: 'CONTINUE' } } });
    assert.deepEqual(requestHeadersResponse({ set: [], remove: [] }), { request_headers: { response: { status: 'CONTINUE' } } });
    assert.deepEqual(requestBodyResponse(), { request_body: { response: { status: 'CONTINUE' } } });
  });

  it('sets and removes headers', () => {
    const r = requestHeadersResponse({ set: [{ name: 'authorization', value: 'Bearer sk-up' }], remove: ['x-api-key', 'api-key'] });
    const m = r.request_headers?.response.header_mutation;
    assert.equal(headerValue(m?.set_headers, 'authorization'), 'Bearer sk-up');
    assert.deepEqual(m?.remove_headers, ['x-api-key', 'api-key']);
    assert.equal(r.request_headers?.response.body_mutation, undefined);
  });

  it('a replaced body sets content-length to its byte length (multi-byte UTF-8)', () => {
    const text = '{"model":"gpt-4o","messages":[{"role":"user","content":"héllo wörld €😀 [REDACTED]"}]}';
    const body = Buffer.from(text, 'utf8');
    assert.notEqual(body.length, text.length, 'the fixture must be multi-byte');
    const r = requestBodyResponse({ remove: ['x-api-key'] }, body);
    const common = r.request_body?.response;
    assert.equal(common?.status, 'CONTINUE');
    assert.deepEqual(common.body_mutation, { body });
    const set = common.header_mutation?.set_headers;
    assert.equal(headerValue(set, 'content-length'), String(Buffer.byteLength(text, 'utf8')));
    assert.equal(set?.filter((o) => o.header.key === 'content-length').length, 1);
    assert.deepEqual(common.header_mutation?.remove_headers, ['x-api-key']);
    assert.ok(set);
    for (const o of set) assert.deepEqual(o.append, { value: false });
  });

  it('an empty replaced body sets content-length 0', () => {
    const r = requestBodyResponse(undefined, Buffer.alloc(0));
    assert.equal(headerValue(r.request_body?.response.header_mutation?.set_headers, 'content-length'), '0');
  });
});

describe('responseHeadersResponse', () => {
  it('overrides the response body mode to STREAMED only when asked', () => {
    assert.deepEqual(responseHeadersResponse({ streamBody: true }), {
      response_headers: { response: { status: 'CONTINUE' } },
      mode_override: { response_body_mode: 'STREAMED' },
    });
    const buffered = responseHeadersResponse({ streamBody: false });
    assert.ok(!('mode_override' in buffered));
    assert.deepEqual(buffered, { response_headers: { response: { status: 'CONTINUE' } } });
  });
});

describe('responseBodyResponse / trailersResponse', () => {
  it('continue without mutations', () => {
    assert.deepEqual(responseBodyResponse(), { response_body: { response: { status: 'CONTINUE' } } });
    assert.deepEqual(trailersResponse('request_trailers'), { request_trailers: {} });
    assert.deepEqual(trailersResponse('response_trailers'), { response_trailers: {} });
  });
});

describe('errorResponse', () => {
  const codes: readonly ErrorCode[] = ['body_too_large', 'model_forbidden', 'credential_unavailable', 'internal'];
  for (const code of codes) {
    it(`${code}: HTTP ${ERROR_CATALOGUE[code].httpStatus}, JSON body, content-type and decision id headers`, () => {
      const r = errorResponse(denialReply({ code, rule: ruleFor(code) }, 'req-9', 'dec-7'));
      const ir = r.immediate_response;
      assert.ok(ir);
      assert.deepEqual(Object.keys(r), ['immediate_response']);
      assert.equal(ir.status.code, ERROR_CATALOGUE[code].httpStatus);
      assert.equal(ir.details, `tollgate_${code}`);
      assert.equal(headerValue(ir.headers?.set_headers, 'content-type'), 'application/json');
      assert.equal(headerValue(ir.headers?.set_headers, 'x-tollgate-decision-id'), 'dec-7');
      for (const o of ir.headers?.set_headers ?? []) assert.ok(!('value' in o.header));
      assert.ok(Buffer.isBuffer(ir.body));
      const body = JSON.parse(ir.body.toString('utf8')) as { error: { code: string; message: string; request_id?: string } };
      assert.equal(body.error.code, code);
      assert.equal(body.error.request_id, 'req-9');
      assert.equal(body.error.message, ERROR_CATALOGUE[code].userFacing ? ERROR_CATALOGUE[code].message : GENERIC_CLIENT_MESSAGE);
    });
  }

  it('omits request_id from the body when there is none', () => {
    const ir = errorResponse(denialReply({ code: 'body_too_large', rule: ruleFor('body_too_large') }, undefined, 'dec-1')).immediate_response;
    const body = JSON.parse(ir?.body?.toString('utf8') ?? '') as { error: Record<string, unknown> };
    assert.ok(!('request_id' in body.error));
  });
});
