// The Envoy protocol traps (header values, append, replaced bodies, mode_override…), checked against the real Envoy binary with a scripted
// ext_proc server. Each test states what Envoy 1.40 does; the production builder (processing/responses.ts)
// must be on the working side of each trap.
import assert from 'node:assert/strict';
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../extproc/config/load.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { startFakeUpstream, type CannedResponse, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { requestBodyResponse, requestHeadersResponse, responseBodyResponse, responseHeadersResponse } from '../../extproc/processing/responses.ts';
import type { ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { stringStruct } from '../../extproc/wire/struct.ts';

type Step = (msg: ProcessingRequest) => ProcessingResponse | 'close-ok' | 'error';
type Script = Partial<Record<NonNullable<ProcessingRequest['request']>, Step>>;

const passThrough: Script = {
  request_headers: () => requestHeadersResponse(),
  request_body: () => requestBodyResponse(),
  response_headers: () => responseHeadersResponse({ streamBody: false }),
  response_body: () => responseBodyResponse(),
};

describe('Envoy protocol traps (scripted ext_proc server, real Envoy)', () => {
  let server: Server;
  let envoy: EnvoyProcess;
  let upstream: FakeUpstream;
  let script: Script = passThrough;
  let upstreamReply: CannedResponse = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  const streamEnds: string[] = [];

  const post = async (body = '{"model":"m"}', headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> => {
    const res = await fetch(`http://127.0.0.1:${envoy.listenerPort}/p/x`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };

  before(async () => {
    upstream = await startFakeUpstream({ respond: () => upstreamReply });
    server = new Server();
    const services = envoyServices();
    server.addService(services.authorization, {
      Check: (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => { cb(null, { status: { code: 0 }, dynamic_metadata: stringStruct({ identity: 'x' }) }); },
    });
    server.addService(services.externalProcessor, {
      Process: (call: ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
        call.on('cancelled', () => streamEnds.push('cancelled'));
        call.on('end', () => { streamEnds.push('half-closed'); call.end(); });
        call.on('data', (msg: ProcessingRequest) => {
          const step = msg.request === undefined ? undefined : script[msg.request];
          const out = step?.(msg) ?? 'error';
          if (out === 'close-ok') call.end();
          else if (out === 'error') call.emit('error', { code: status.INTERNAL, details: 'scripted failure' });
          else call.write(out);
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) => { server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => { if (e === null) resolve(p); else reject(e); }); });
    const config = validateConfig({
      version: 1,
      providers: [{ name: 'p', kind: 'openai-compatible', upstream: upstream.url, models: ['*'], credential: { source: 'none' } }],
      identities: [],
    }, 'traps');
    envoy = await startEnvoy({
      bin: findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN),
      configYaml: renderEnvoyConfig(config, { listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: port, caFile: DEFAULT_CA_FILE }),
    });
  });
  after(async () => {
    await envoy.stop();
    server.forceShutdown();
    await upstream.close();
  });

  it('raw_value: a header set through the builder (raw_value only) arrives; `value` alone arrives empty', async () => {
    script = {
      ...passThrough,
      request_body: () => requestBodyResponse({ set: [{ name: 'x-from-raw', value: 'raw-ok' }] }),
      request_headers: () => ({ request_headers: { response: { header_mutation: { set_headers: [{ header: { key: 'x-from-value', value: 'value-only' } as never, append: { value: false } }] } } } }),
    };
    const r = await post();
    assert.equal(r.status, 200, r.body);
    const got = upstream.requests.at(-1)!;
    assert.equal(got.headers['x-from-raw'], 'raw-ok');
    assert.equal(got.headers['x-from-value'], '', 'Envoy 1.40 reads raw_value only: a `value`-only header arrives empty');
  });

  it('append: false overwrites the caller\'s header rather than adding a second value', async () => {
    script = { ...passThrough, request_headers: () => requestHeadersResponse({ set: [{ name: 'x-tag', value: 'ours' }] }) };
    const r = await post('{"model":"m"}', { 'x-tag': 'theirs' });
    assert.equal(r.status, 200, r.body);
    assert.equal(upstream.requests.at(-1)!.headers['x-tag'], 'ours');
  });

  it('content-length: a replaced BUFFERED body with the builder\'s content-length reaches the upstream intact', async () => {
    const replaced = Buffer.from('{"model":"m","note":"réécrit ✓"}', 'utf8');
    script = { ...passThrough, request_body: () => requestBodyResponse(undefined, replaced) };
    const r = await post('{"model":"m","note":"original, longer than the replacement body"}');
    assert.equal(r.status, 200, r.body);
    const got = upstream.requests.at(-1)!;
    assert.deepEqual(got.body, replaced);
    assert.equal(got.headers['content-length'], String(replaced.length));
  });

  it('content-length: a replaced body with a stale content-length is rejected as a processor error', async () => {
    const before = upstream.requests.length;
    script = { ...passThrough, request_body: () => ({ request_body: { response: { status: 'CONTINUE', body_mutation: { body: Buffer.from('{"model":"m"}') } } } }) };
    const r = await post('{"model":"m","padding":"a much longer original body"}');
    // Envoy 1.40 treats the rejected mutation as a processor error: the template's status_on_error
    // (503) is sent, and nothing goes upstream. (Without status_on_error it is a 500.)
    assert.equal(r.status, 503);
    assert.equal(upstream.requests.length, before);
  });

  it('mode_override in the response-headers answer switches the response body to STREAMED', async () => {
    let chunks = 0;
    upstreamReply = { status: 200, headers: { 'content-type': 'text/event-stream' }, body: ['data: 1\n\n', 'data: 2\n\n', 'data: [DONE]\n\n'] };
    script = {
      ...passThrough,
      response_headers: () => responseHeadersResponse({ streamBody: true }),
      response_body: () => { chunks += 1; return responseBodyResponse(); },
    };
    const r = await post();
    assert.equal(r.status, 200);
    assert.match(r.body, /data: \[DONE\]/);
    assert.ok(chunks >= 1, 'body chunks were sent to the processor');
    upstreamReply = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  });

  it('a clean close after request headers lets the request through unprocessed (why Tollgate never closes cleanly on error)', async () => {
    const before = upstream.requests.length;
    script = { ...passThrough, request_headers: () => 'close-ok' };
    const r = await post();
    assert.equal(r.status, 200, 'Envoy carried on without the processor');
    assert.equal(upstream.requests.length, before + 1);
  });

  it('a non-OK gRPC status fails the request and nothing reaches the upstream', async () => {
    const before = upstream.requests.length;
    script = { ...passThrough, request_headers: () => 'error' };
    const r = await post();
    assert.equal(r.status, 503, 'status_on_error');
    assert.equal(upstream.requests.length, before);
  });

  it('without ext_proc_graceful_grpc_close (kept off by the template, ADR 0006), Envoy resets each side stream when the request ends', async () => {
    script = passThrough;
    const before = streamEnds.length;
    await post();
    await new Promise((r) => setTimeout(r, 200));
    // The server sees CANCELLED, which Tollgate treats as a normal end. The graceful half-close crashed
    // Envoy 1.40 at the end of long-paused streams; Tollgate's gRPC server accepts the resets instead
    // (server/stream-reset-budget.ts; through-envoy.test.ts sends thousands back to back).
    assert.equal(streamEnds[before], 'cancelled', `stream ends seen: ${streamEnds.slice(before).join(', ')}`);
  });
});
