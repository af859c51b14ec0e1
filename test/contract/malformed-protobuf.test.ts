// Bytes that are not the protobuf a method expects: the call fails with a non-OK status (so Envoy fails
// the request closed), nothing is handed out, and the server keeps serving.
import assert from 'node:assert/strict';
import { Client, credentials, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from './helpers/harness.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { checkRequest, requestHeaders, type SentProcessingRequest } from './helpers/messages.ts';

// A field 1 (length-delimited) claiming 100 bytes with 2 present, then garbage: not decodable.
const GARBAGE = Buffer.from([0x0a, 0x64, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff]);
const raw = (b: Buffer): Buffer => b;

describe('malformed protobuf on the wire', () => {
  let h: Harness;
  let client: Client;
  before(async () => {
    h = await startHarness();
    client = new Client(`127.0.0.1:${h.grpcPort}`, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await h.stop();
  });

  it('Check with undecodable bytes ends with a non-OK status, never an allow', async () => {
    const err = await new Promise<ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/envoy.service.auth.v3.Authorization/Check', raw, raw, GARBAGE, (e: ServiceError | null) => { resolve(e); });
    });
    assert.ok(err !== null, 'the call failed');
    assert.notEqual(err.code, GrpcStatus.OK);
  });

  it('Process with undecodable bytes ends with a non-OK status and answers nothing', async () => {
    const call = client.makeBidiStreamRequest('/envoy.service.ext_proc.v3.ExternalProcessor/Process', raw, raw);
    const answers: Buffer[] = [];
    call.on('data', (b: Buffer) => answers.push(b));
    const code = await new Promise<number>((resolve) => {
      call.on('error', () => undefined);
      call.on('status', (s: { code: number }) => { resolve(s.code); });
      call.write(GARBAGE);
    });
    assert.notEqual(code, GrpcStatus.OK);
    assert.equal(answers.length, 0);
    assert.ok(!h.logs.join('\n').includes(h.providerKey));
  });

  it('Process whose first message carries an undecodable metadata record is denied with an audit record, never continued', async () => {
    // Tollgate decodes a message's metadata only when it reads it (the stream's first message): the record's
    // framing is sound, its body is not a protobuf message, so the read fails there.
    const requestId = `malformed-metadata-${Date.now()}`;
    const method = envoyServices().externalProcessor.Process;
    if (method === undefined) throw new Error('no Process method');
    const encode = method.requestSerialize as (m: SentProcessingRequest) => Buffer;
    const headers = encode(requestHeaders({ ':method': 'POST', ':path': '/openai/v1/chat/completions', 'x-request-id': requestId }));
    const message = Buffer.concat([headers, Buffer.from([0x42, 0x03, 0x0a, 0x7f, 0x00])]);
    const call = client.makeBidiStreamRequest('/envoy.service.ext_proc.v3.ExternalProcessor/Process', raw, raw);
    const answer = await new Promise<Buffer>((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
      call.write(message);
    });
    call.end();
    const decoded = (method.responseDeserialize as (b: Buffer) => { response?: string })(answer);
    assert.equal(decoded.response, 'immediate_response');
    const [record] = await h.waitForRecords(requestId);
    // Bytes Envoy would never send: a failure of Tollgate's input, not the caller's, audited as one.
    assert.equal(record?.outcome, 'failed');
    assert.equal(record.reason, 'internal');
    assert.equal(record.http_status, 500);
  });

  it('keeps serving well-formed calls afterwards', async () => {
    const res = await h.check(checkRequest({ path: '/openai/v1/models', method: 'GET', headers: { authorization: `Bearer ${h.keys.agent}` } }));
    assert.equal(res.http_response, 'ok_response');
  });
});
