// The benchmark's floor on the other gRPC stack (test/bench/floor-connect-service.ts: @connectrpc/connect-node
// on node:http2), started by the harness's own startSetup behind the same rendered Envoy config as `floor`:
// it must answer as the grpc-js floor does (the upstream gets the provider key, never the caller's, on
// requests with and without a body), and it must survive Envoy resetting every ext_proc stream (ADR 0006)
// past node:http2's default reset budget, which it raises through node:http2's public options.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import type { SetupStack } from '../bench/processes.ts';
import { rssBytes } from '../bench/proc.ts';
import { baseRequest, type SetupContext } from '../bench/setups.ts';
import { startBenchHarness, type BenchHarness } from '../helpers/bench-harness.ts';

describe('bench floor on connect-node through Envoy', () => {
  let bench: BenchHarness;
  let providerKey: string;
  let ctx: SetupContext;
  let upstream: FakeUpstream;
  let stack: SetupStack;

  before(async () => {
    bench = await startBenchHarness();
    ({ providerKey, ctx, upstream } = bench);
    const [started] = await bench.start(['floor-connect']);
    assert.ok(started !== undefined);
    stack = started;
  });

  after(async () => {
    await bench.stop();
  });

  it('a chat request: ext_proc injects the provider key, the upstream gets the body and answers 200', async () => {
    const req = baseRequest(ctx);
    const recorded = upstream.requests.length;
    const res = await fetch(`${stack.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.match(body, /"chat\.completion"/);
    const got = upstream.requests[recorded];
    assert.ok(got !== undefined, 'the upstream got no request');
    assert.equal(got.headers.authorization, `Bearer ${providerKey}`);
    assert.equal(got.body.toString('utf8'), req.body);
    assert.equal(upstream.requests.length, recorded + 1);
  });

  it('a request without a body: the Check answer injects the provider key', async () => {
    const recorded = upstream.requests.length;
    const res = await fetch(`${stack.url}/openai/v1/models`, { headers: { authorization: `Bearer ${ctx.callerKey}` }, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    const got = upstream.requests[recorded];
    assert.ok(got !== undefined, `the upstream got no request (status ${res.status})`);
    assert.equal(got.headers.authorization, `Bearer ${providerKey}`);
  });

  it("2,000 requests, 8 at a time: Envoy resets every ext_proc stream and none fails (the reset budget is raised)", async () => {
    const req = baseRequest(ctx);
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 2_000) {
        next++;
        const res = await fetch(`${stack.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.deepEqual([...statuses], [[200, 2_000]]);
    assert.ok(stack.services[0] !== undefined && rssBytes(stack.services[0].pid) > 0, 'the floor process is still alive');
  });
});
