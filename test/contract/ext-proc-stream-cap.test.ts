// Contract: what an ext_proc stream costs before it carries a request. A stream that never carries a
// message is counted, not audited (an idle flood must not flood the audit trail), and one connection
// may hold at most server.grpc.maxConcurrentStreams streams open (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
import assert from 'node:assert/strict';
import { credentials, status, type Client, type MethodDefinition } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { newRequestId, startHarness, type Harness } from './helpers/harness.ts';
import { requestHeaders, type DecodedProcessingResponse, type SentProcessingRequest } from './helpers/messages.ts';
import { ProcStream } from './helpers/proc-stream.ts';

const gauge = async (h: Harness): Promise<number> => (await h.app.metrics.activeStreams.get()).values[0]?.value ?? 0;
const emptyStreams = async (h: Harness): Promise<number> => (await h.app.metrics.emptyStreams.get()).values[0]?.value ?? 0;

async function metricsText(h: Harness): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${h.adminPort}/metrics`);
  return res.text();
}

describe('ext_proc streams that never carry a message', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.stop(); });

  it('ended or reset without a message: no audit record, counted in tollgate_extproc_empty_streams_total', async () => {
    const ended = h.stream();
    const reset = [h.stream(), h.stream()];
    await ended.end();
    for (const s of reset) s.cancel();
    await Promise.all(reset.map((s) => s.ended));
    const deadline = Date.now() + 5_000;
    while ((await emptyStreams(h)) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await emptyStreams(h), 3);
    assert.match(await metricsText(h), /^tollgate_extproc_empty_streams_total 3$/m);
    assert.equal(h.audit.records.length, 0, 'no audit record for a stream that carried no request');
    assert.equal(await gauge(h), 0);
  });

  it('a stream with one message, then reset, still gets exactly one record', async () => {
    const requestId = newRequestId();
    const s = h.stream();
    await s.send(requestHeaders({ ':method': 'POST', ':path': '/openai/v1/chat/completions', 'x-request-id': requestId }));
    s.cancel();
    await s.ended;
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(await emptyStreams(h), 3, 'not counted as empty');
  });
});

describe('per-connection stream cap (server.grpc.maxConcurrentStreams)', () => {
  const CAP = 4;
  let h: Harness;
  before(async () => {
    h = await startHarness({ tweak: (c) => ({ ...c, server: { ...c.server, grpc: { host: '127.0.0.1', port: 0, maxConcurrentStreams: CAP } } }) });
  });
  after(async () => { await h.stop(); });

  const waitGauge = async (want: number): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while ((await gauge(h)) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await gauge(h), want);
  };

  /** A client on its own connection (grpc-js otherwise shares one per target). */
  const ownConnection = (): { stream: () => ProcStream; close: () => void } => {
    const services = envoyServices();
    const client: Client = new services.ExternalProcessorClient(`127.0.0.1:${h.grpcPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    const m = services.ExternalProcessorClient.service.Process as MethodDefinition<SentProcessingRequest, DecodedProcessingResponse>;
    return { stream: () => new ProcStream(client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize)), close: () => { client.close(); } };
  };

  it(`one connection gets at most ${CAP} open streams; the excess is refused or held back; another connection has its own`, async () => {
    const one = ownConnection();
    const streams = Array.from({ length: CAP + 3 }, () => one.stream());
    await waitGauge(CAP);
    // However often it is sampled while all of them are open on the client, the server holds no more.
    for (let i = 0; i < 10; i++) {
      assert.ok((await gauge(h)) <= CAP, 'never more than the cap on one connection');
      await new Promise((r) => setTimeout(r, 20));
    }
    const two = ownConnection();
    const other = two.stream();
    await waitGauge(CAP + 1);
    const all = [...streams, other];
    for (const s of all) s.cancel();
    const ends = await Promise.all(all.map((s) => s.ended));
    // A stream the server refused (HTTP/2 REFUSED_STREAM) reaches grpc-js as RESOURCE_EXHAUSTED.
    for (const e of ends) assert.ok(([status.CANCELLED, status.RESOURCE_EXHAUSTED] as number[]).includes(e.code), `${e.code} ${e.details}`);
    await waitGauge(0);
    assert.equal(h.audit.records.length, 0, 'none of them carried a request');
    one.close();
    two.close();
  });
});
