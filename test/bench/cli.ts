// Command-line flags of the overhead benchmark.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly rounds: number;
  /** Connections for the paced runs. */
  readonly connections: number;
  /** Connections the maximum-throughput search starts from (halved until p99 is under the limit). */
  readonly maxConnections: number;
  readonly p99LimitMs: number;
  /** Seconds of unmeasured load per set-up before the first round. */
  readonly warmupSeconds: number;
  /** Set-up names, in order; the first is the baseline of the ratios. Undefined = the default list. */
  readonly setups: readonly string[] | undefined;
  /** Extra Tollgate counters (Prometheus names) reported per request, e.g. Vault calls. */
  readonly counters: readonly string[];
  readonly json: string | undefined;
  readonly png: string;
  /** Write a V8 CPU profile of each Tollgate process into this folder (node --cpu-prof). */
  readonly cpuProf: string | undefined;
  readonly skipMax: boolean;
  /** V8 heap flags for every service process instead of serve's (SERVE_NODE_FLAGS); undefined = serve's. */
  readonly heapFlags: readonly string[] | undefined;
}

export const USAGE = `usage: node test/bench/overhead.ts [flags]
  --rates 200,500        paced rates in req/s, on one slot schedule shared by all connections
  --seconds N            measured seconds per run (default 5)
  --rounds N             interleaved rounds; medians over rounds (default 3)
  --connections N        connections for the paced runs (default 4)
  --max-connections N    connections the max-throughput search starts from (default 16)
  --p99-limit-ms N       max throughput counts only runs with p99 under this (default 50)
  --warmup N             unmeasured seconds per set-up before round 1 (default 3)
  --setups a,b,c         set-ups to run, first = baseline (default: direct,authz-floor,authz,floor,full)
  --counter NAME         a Tollgate counter to report per request (repeatable)
  --json FILE            write every number as JSON
  --png FILE             chart (default .tmp/bench/overhead.png)
  --cpu-prof DIR         V8 CPU profile of each Tollgate process, written at the end
  --no-max               skip the max-throughput search
  --heap-flags="F ..."   V8 heap flags for every service process instead of serve's (to compare settings)
  --quick                --rates 200 --seconds 3 --rounds 1 --warmup 1 (a smoke run)`;

function positive(name: string, raw: string, integer: boolean): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

function list(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Parses argv (without node and the script). Throws with a message naming the flag on bad input. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      rates: { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      'max-connections': { type: 'string' },
      'p99-limit-ms': { type: 'string' },
      warmup: { type: 'string' },
      setups: { type: 'string' },
      counter: { type: 'string', multiple: true },
      json: { type: 'string' },
      png: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'no-max': { type: 'boolean', default: false },
      'heap-flags': { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const quick = v.quick;
  const rates = list(v.rates ?? (quick ? '200' : '200,500')).map((r) => positive('rates', r, false));
  if (rates.length === 0) throw new Error('--rates: at least one rate');
  const setups = v.setups === undefined ? undefined : list(v.setups);
  if (setups?.length === 0) throw new Error('--setups: at least one set-up');
  if (setups !== undefined && new Set(setups).size !== setups.length) throw new Error('--setups: a set-up is named twice');
  const heapFlags = v['heap-flags'] === undefined ? undefined : v['heap-flags'].split(/\s+/).filter((f) => f !== '');
  if (heapFlags !== undefined && (heapFlags.length === 0 || heapFlags.some((f) => !/^--max-(semi|old)-space-size=\d+$/.test(f)))) {
    throw new Error(`--heap-flags: expected --max-semi-space-size=N and/or --max-old-space-size=N, got "${v['heap-flags']}"`);
  }
  return {
    rates,
    seconds: positive('seconds', v.seconds ?? (quick ? '3' : '5'), false),
    rounds: positive('rounds', v.rounds ?? (quick ? '1' : '3'), true),
    connections: positive('connections', v.connections ?? '4', true),
    maxConnections: positive('max-connections', v['max-connections'] ?? '16', true),
    p99LimitMs: positive('p99-limit-ms', v['p99-limit-ms'] ?? '50', false),
    warmupSeconds: positive('warmup', v.warmup ?? (quick ? '1' : '3'), false),
    setups,
    counters: v.counter ?? [],
    json: v.json,
    png: v.png ?? '.tmp/bench/overhead.png',
    cpuProf: v['cpu-prof'],
    skipMax: v['no-max'],
    heapFlags,
  };
}
