// The hand-narrowed wire types encode what Envoy honours, and they match what grpc-js really encodes
// and decodes with LOADER_OPTIONS (round trips through the server's own serializers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { CheckRequest, CheckResponse } from '../../extproc/wire/ext-authz.ts';
import type { HeaderValueOption, ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import type { Narrow } from '../../extproc/wire/shape.ts';
import { stringStruct, structString } from '../../extproc/wire/struct.ts';
import type { DecodedCheckResponse, DecodedProcessingResponse, SentCheckRequest, SentProcessingRequest } from '../contract/helpers/messages.ts';

const services = envoyServices();
const process = services.externalProcessor.Process as MethodDefinition<SentProcessingRequest, ProcessingResponse, ProcessingRequest, DecodedProcessingResponse>;
const check = services.authorization.Check as MethodDefinition<SentCheckRequest, CheckResponse, CheckRequest, DecodedCheckResponse>;

/** What Envoy would read from Tollgate's answer. */
const procAnswer = (r: ProcessingResponse): DecodedProcessingResponse => process.responseDeserialize(process.responseSerialize(r));
/** What Tollgate reads from Envoy's message. */
const procMessage = (m: SentProcessingRequest): ProcessingRequest => process.requestDeserialize(process.requestSerialize(m));

const option = (key: string, value: string): HeaderValueOption => ({ header: { key, raw_value: Buffer.from(value, 'latin1') }, append: { value: false } });

describe('ext_proc wire shapes', () => {
  it('a header set by Tollgate reaches Envoy in raw_value only, with append present', () => {
    const res = procAnswer({ request_headers: { response: { status: 'CONTINUE', header_mutation: { set_headers: [option('authorization', 'Bearer x\u00e9')], remove_headers: ['x-api-key'] } } } });
    assert.equal(res.response, 'request_headers');
    const set = res.request_headers?.response?.header_mutation?.set_headers?.[0];
    assert.ok(set?.header !== undefined && set.append !== undefined);
    assert.equal(set.header.key, 'authorization');
    assert.equal(set.header.value, undefined);
    assert.deepEqual(set.header.raw_value, Buffer.from('Bearer x\u00e9', 'latin1'));
    // The BoolValue is present: Envoy overwrites only if append is set to false, not if it is absent.
    assert.equal(set.append.value ?? false, false);
    assert.deepEqual(res.request_headers?.response?.header_mutation?.remove_headers, ['x-api-key']);
  });

  const statuses: readonly [number, string][] = [[400, 'BadRequest'], [403, 'Forbidden'], [413, 'PayloadTooLarge'], [503, 'ServiceUnavailable']];
  for (const [code, name] of statuses) {
    it(`an immediate response with numeric status ${code} encodes as StatusCode ${name}`, () => {
      const res = procAnswer({ immediate_response: { status: { code }, body: Buffer.from('{}'), details: 'tollgate_x' } });
      assert.equal(res.response, 'immediate_response');
      assert.equal(res.immediate_response?.status?.code, name);
    });
  }

  it('mode_override travels with a response-headers answer', () => {
    const res = procAnswer({ response_headers: { response: { status: 'CONTINUE' } }, mode_override: { response_body_mode: 'STREAMED' } });
    assert.equal(res.mode_override?.response_body_mode, 'STREAMED');
  });

  it('decoded messages name the oneof member and leave absent fields undefined', () => {
    const msg = procMessage({ request_body: { body: Buffer.from('{"model":"m"}'), end_of_stream: true } });
    assert.equal(msg.request, 'request_body');
    assert.equal(msg.request_headers, undefined);
    assert.equal(msg.metadata_context, undefined);
    assert.ok(Buffer.isBuffer(msg.request_body?.body));
    assert.equal(msg.request_body.end_of_stream, true);
  });

  it('a header with an empty key (which proto3 encoders omit) decodes with no key at all: why HeaderValue.key is optional', () => {
    const msg = procMessage({ request_headers: { headers: { headers: [{ raw_value: Buffer.from('v') }, { key: 'a', raw_value: Buffer.from('b') }] } } });
    const headers = msg.request_headers?.headers?.headers ?? [];
    assert.equal(headers.length, 2);
    assert.equal(headers[0]?.key, undefined);
    assert.equal(headers[1]?.key, 'a');
  });

  it('ext_authz metadata survives the trip into metadata_context as a Struct', () => {
    const msg = procMessage({ request_headers: { headers: { headers: [] } }, metadata_context: { filter_metadata: { 'envoy.filters.http.ext_authz': stringStruct({ identity: 'agent', seal: 's' }) } } });
    const s = msg.metadata_context?.filter_metadata?.['envoy.filters.http.ext_authz'];
    assert.equal(structString(s, 'identity'), 'agent');
    assert.equal(structString(s, 'missing'), undefined);
  });
});

describe('ext_authz wire shapes', () => {
  it('a denial encodes the numeric HTTP status and header values Envoy reads', () => {
    const res = check.responseDeserialize(check.responseSerialize({
      status: { code: 7, message: 'provider_forbidden' },
      denied_response: { status: { code: 403 }, headers: [{ header: { key: 'content-type', value: 'application/json' }, append: { value: false } }], body: '{}' },
    }));
    assert.equal(res.http_response, 'denied_response');
    assert.equal(res.status?.code, 7);
    assert.equal(res.denied_response?.headers?.[0]?.header?.value, 'application/json');
    assert.equal(res.denied_response.status?.code, 'Forbidden');
  });

  it('an allow carries headers_to_remove from a frozen list and the metadata Struct', () => {
    const remove: readonly string[] = Object.freeze(['authorization', 'x-api-key']);
    const res = check.responseDeserialize(check.responseSerialize({ status: { code: 0 }, ok_response: { headers_to_remove: remove }, dynamic_metadata: stringStruct({ decision_id: 'd1' }) }));
    assert.equal(res.http_response, 'ok_response');
    assert.deepEqual(res.ok_response?.headers_to_remove, ['authorization', 'x-api-key']);
    assert.equal(structString(res.dynamic_metadata, 'decision_id'), 'd1');
  });

  it('a CheckRequest decodes its header map as a plain record', () => {
    const req = check.requestDeserialize(check.requestSerialize({ attributes: { request: { http: { path: '/openai/x', headers: { ':path': '/openai/x', authorization: 'Bearer k' } } } } }));
    const http = req.attributes?.request?.http;
    assert.equal(http?.method, undefined);
    assert.equal(http?.headers?.authorization, 'Bearer k');
  });
});

// Type-level checks: `npm run typecheck` fails if a narrowing stops rejecting what Envoy would mishandle.
export const typeChecks: readonly unknown[] = [
  // @ts-expect-error ext_proc reads raw_value only; `value` must not be set.
  { header: { key: 'a', raw_value: Buffer.from('b'), value: 'b' }, append: { value: false } } satisfies HeaderValueOption,
  // @ts-expect-error the deprecated `append` BoolValue is what Envoy honours; it must always be set.
  { header: { key: 'a', raw_value: Buffer.from('b') } } satisfies HeaderValueOption,
  // @ts-expect-error append_action is ignored by ext_proc.
  { header: { key: 'a', raw_value: Buffer.from('b') }, append: { value: false }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } satisfies HeaderValueOption,
  // @ts-expect-error a phase answer always carries its CommonResponse.
  { request_body: {} } satisfies ProcessingResponse,
];
// @ts-expect-error Narrow may name only fields the generated type has.
export type NarrowUnknownField = Narrow<{ readonly a?: string }, { readonly b: string }>;
// @ts-expect-error Narrow may not widen a field's type.
export type NarrowWidened = Narrow<{ readonly a?: string }, { readonly a: number }>;
