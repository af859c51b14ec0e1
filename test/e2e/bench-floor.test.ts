// The benchmark's floor (test/bench/floor-service.ts) and probe (test/bench/probe.ts) through the real
// Envoy, started by the harness's own startSetup: the floor rows must reach the upstream with the provider
// key and nothing else of Tollgate's work, and the probe must count the same message kinds in the floor
// and in `tollgate serve`, so the bench compares like with like.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeTotals } from '../bench/probe-stats.ts';
import type { SetupStack } from '../bench/processes.ts';
import { baseRequest } from '../bench/setups.ts';
import { startBenchHarness, type BenchHarness } from '../helpers/bench-harness.ts';

async function probe(stack: SetupStack): Promise<ProbeTotals> {
  const port = stack.services[0]?.probePort;
  assert.ok(port !== undefined, `${stack.setup.name}: no probe`);
  return (await (await fetch(`http://127.0.0.1:${port}/probe`)).json()) as ProbeTotals;
}

const EXT_PROC_KINDS = ['request_headers', 'request_body', 'response_headers', 'response_body'];

describe('bench floor and probe through Envoy', () => {
  let bench: BenchHarness;
  let providerKey: string;
  const seen = new Map<string, { before: ProbeTotals; after: ProbeTotals; status: number; authorization: unknown; body: string }>();

  before(async () => {
    bench = await startBenchHarness();
    providerKey = bench.providerKey;
    for (const name of ['floor', 'floor-meta', 'authz-floor', 'full']) {
      const [stack] = await bench.start([name]);
      assert.ok(stack !== undefined);
      const req = baseRequest(bench.ctx);
      const beforeTotals = await probe(stack);
      const recorded = bench.upstream.requests.length;
      const res = await fetch(`${stack.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      seen.set(name, { before: beforeTotals, after: await probe(stack), status: res.status, authorization: bench.upstream.requests[recorded]?.headers.authorization, body });
    }
  });

  after(async () => {
    await bench.stop();
  });

  for (const name of ['floor', 'floor-meta', 'authz-floor', 'full']) {
    it(`${name}: the upstream gets the provider key, not the caller's, and answers 200`, () => {
      const s = seen.get(name)!;
      assert.equal(s.status, 200, s.body);
      assert.equal(s.authorization, `Bearer ${providerKey}`);
      assert.match(s.body, /"chat\.completion"/);
    });
  }

  const grown = (name: string): Record<string, { count: number; bytes: number }> => {
    const s = seen.get(name)!;
    const out: Record<string, { count: number; bytes: number }> = {};
    for (const [k, m] of Object.entries(s.after.messages)) {
      const count = m.count - (s.before.messages[k]?.count ?? 0);
      if (count > 0) out[k] = { count, bytes: m.bytes - (s.before.messages[k]?.bytes ?? 0) };
    }
    return out;
  };

  it('the probe counts one message of each kind both ways, the same kinds in the floor and in Tollgate', () => {
    const want = ['check:in', 'check:out', ...EXT_PROC_KINDS.flatMap((k) => [`${k}:in`, `${k}:out`])].sort();
    for (const name of ['floor', 'floor-meta', 'full']) {
      const g = grown(name);
      assert.deepEqual(Object.keys(g).sort(), want, name);
      for (const [k, m] of Object.entries(g)) {
        assert.equal(m.count, 1, `${name} ${k}`);
        assert.ok(m.bytes >= 0, `${name} ${k}`);
      }
    }
    assert.deepEqual(Object.keys(grown('authz-floor')).sort(), ['check:in', 'check:out']);
  });

  it('the probe counts heap allocation: it grows with requests', () => {
    for (const name of ['floor', 'full']) {
      const s = seen.get(name)!;
      assert.ok(s.after.heapAllocatedBytes > s.before.heapAllocatedBytes, name);
    }
  });

  it("floor-meta's Check answer carries Tollgate-sized metadata, which Envoy forwards with every ext_proc message", () => {
    const floor = grown('floor');
    const meta = grown('floor-meta');
    const full = grown('full');
    // The plain floor answers an empty allow; floor-meta and Tollgate a sealed context and headers_to_remove.
    assert.ok(floor['check:out']!.bytes < 20, `floor check:out ${floor['check:out']!.bytes} B`);
    assert.ok(Math.abs(meta['check:out']!.bytes - full['check:out']!.bytes) <= 0.25 * full['check:out']!.bytes, `floor-meta ${meta['check:out']!.bytes} B vs full ${full['check:out']!.bytes} B`);
    for (const k of EXT_PROC_KINDS) {
      const d = meta[`${k}:in`]!.bytes - floor[`${k}:in`]!.bytes;
      assert.ok(d > 200, `${k}:in grows by the forwarded metadata (${d} B)`);
    }
  });
});
