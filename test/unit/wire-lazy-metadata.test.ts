// Process requests are decoded without Envoy's forwarded metadata, which is decoded on first access
// (wire/proto.ts, wire/proto-split.ts): what Tollgate reads must be exactly what the generic decoder gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import type { ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { envoyServices, EXT_PROC_PROTO, LOADER_OPTIONS } from '../../extproc/wire/proto.ts';
import { splitField } from '../../extproc/wire/proto-split.ts';
import { stringStruct } from '../../extproc/wire/struct.ts';
import type { DecodedProcessingResponse, SentProcessingRequest } from '../contract/helpers/messages.ts';

type Process = MethodDefinition<SentProcessingRequest, ProcessingResponse, ProcessingRequest, DecodedProcessingResponse>;
const tollgate = envoyServices().externalProcessor.Process as Process;
// The same protos and options, without Tollgate's decoder installed: the reference.
const root = loadPackageDefinition(loadSync([EXT_PROC_PROTO], LOADER_OPTIONS)) as GrpcObject & { envoy: { service: { ext_proc: { v3: { ExternalProcessor: ServiceClientConstructor } } } } };
const reference = root.envoy.service.ext_proc.v3.ExternalProcessor.service['Process'] as Process;

const NS = 'envoy.filters.http.ext_authz';
const metadata = { filter_metadata: { [NS]: stringStruct({ context: '["tollgate.authz.v3","a"]', seal: 'c2VhbA' }) } };
const headers = { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/v1/chat/completions') }, { key: 'x-request-id', raw_value: Buffer.from('r-1') }] }, end_of_stream: false };

/** A message as Envoy would send it: the first ones with metadata; attributes (field 9) after it. */
const messages: readonly [string, SentProcessingRequest][] = [
  ['request headers with metadata', { request_headers: headers, metadata_context: metadata }],
  ['a body with metadata', { request_body: { body: Buffer.from('{"model":"m"}'), end_of_stream: true }, metadata_context: metadata }],
  ['metadata between the message and attributes', { response_headers: headers, metadata_context: metadata, attributes: { 'envoy.filters.http.ext_proc': stringStruct({ 'request.path': '/x' }) } }],
  ['no metadata', { response_body: { body: Buffer.from('data: {}\n\n'), end_of_stream: false } }],
  ['an observability flag (a varint field) after metadata', { request_headers: headers, metadata_context: metadata, observability_mode: true }],
];

/** Plain data of a decoded message, getters read. */
const plain = (m: ProcessingRequest): unknown => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));

describe('Process requests: metadata decoded on first access', () => {
  for (const [name, sent] of messages) {
    it(`${name}: reads the same as the generic decoder`, () => {
      const bytes = reference.requestSerialize(sent);
      const ours = tollgate.requestDeserialize(bytes);
      const theirs = reference.requestDeserialize(bytes);
      assert.equal(ours.request, theirs.request);
      assert.deepEqual(ours.metadata_context, theirs.metadata_context);
      assert.deepEqual(plain(ours), plain(theirs));
      // Read twice: the second read is the same object, not a second decode.
      assert.equal(ours.metadata_context, ours.metadata_context);
    });
  }

  it('a metadata record whose body is not a valid message fails when it is read, not silently', () => {
    const good = reference.requestSerialize({ request_headers: headers });
    // Field 8, length 3, then bytes that are no protobuf (a truncated length-delimited field inside).
    const bytes = Buffer.concat([good, Buffer.from([0x42, 0x03, 0x0a, 0x7f, 0x00])]);
    assert.throws(() => reference.requestDeserialize(bytes));
    const msg = tollgate.requestDeserialize(bytes);
    assert.equal(msg.request, 'request_headers');
    assert.throws(() => msg.metadata_context);
  });

  it('a message whose framing is broken is refused as before (the whole message is decoded)', () => {
    const good = reference.requestSerialize({ request_headers: headers, metadata_context: metadata });
    assert.throws(() => tollgate.requestDeserialize(good.subarray(0, good.length - 3)));
  });
});

describe('splitField', () => {
  const enc = (m: SentProcessingRequest): Buffer => reference.requestSerialize(m);

  it('takes every record of the field, in order, and keeps the rest byte for byte', () => {
    const a = enc({ request_body: { body: Buffer.from('x') } });
    const m1 = enc({ metadata_context: metadata });
    const m2 = enc({ metadata_context: { filter_metadata: { other: stringStruct({ k: 'v' }) } } });
    const b = enc({ observability_mode: true });
    const whole = Buffer.concat([m1, a, m2, b]);
    const split = splitField(whole, 8);
    assert.ok(split !== undefined);
    assert.deepEqual(split.rest, Buffer.concat([a, b]));
    assert.deepEqual(split.taken, Buffer.concat([m1, m2]));
    // Two records of the field read as the generic decoder reads them in the whole message.
    assert.deepEqual(reference.requestDeserialize(split.taken).metadata_context, reference.requestDeserialize(whole).metadata_context);
    assert.deepEqual(tollgate.requestDeserialize(whole).metadata_context, reference.requestDeserialize(whole).metadata_context);
  });

  it('is undefined when the field is absent or the framing is not a protobuf encoder\'s', () => {
    assert.equal(splitField(enc({ request_body: { body: Buffer.from('x') } }), 8), undefined);
    assert.equal(splitField(Buffer.alloc(0), 8), undefined);
    // A group (wire type 3), a length past the end, a varint that never ends, a fixed64 cut short.
    for (const bad of [[0x43, 0x00], [0x42, 0x05, 0x00], [0x08, 0xff, 0xff], [0x09, 0x00, 0x00]]) {
      assert.equal(splitField(Buffer.concat([enc({ metadata_context: metadata }), Buffer.from(bad)]), 8), undefined, `bytes ${bad.join(',')}`);
    }
  });
});
