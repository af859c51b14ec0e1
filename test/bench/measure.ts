// One measured window: reset peaks, read CPU and Tollgate's metrics, run wrk, read them again.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probePerRequest, type ProbePerRequest, type ProbeTotals } from './probe-stats.ts';
import { metricDeltas, sumMetric } from './prom.ts';
import { cpuSeconds, machineBusySeconds, peakRssBytes, resetPeakRss } from './proc.ts';
import type { SetupStack } from './processes.ts';
import { startWrk, wrkScript, type WrkRequest, type WrkResult } from './wrk.ts';

export type ProcessRole = 'envoy' | 'tollgate' | 'upstream';
export const ROLES: readonly ProcessRole[] = ['envoy', 'tollgate', 'upstream'];

export interface Load {
  /** "rate:200" or "max". */
  readonly key: string;
  /** Paced rate; undefined for the unpaced max-throughput runs. */
  readonly rate?: number;
  readonly connections: number;
}

export interface WindowResult {
  readonly setup: string;
  readonly load: string;
  readonly round: number;
  readonly connections: number;
  readonly wrk: WrkResult;
  /** CPU time (user + system) per completed request, in µs; NaN for a role the set-up does not run. */
  readonly cpuUsPerRequest: Readonly<Record<ProcessRole | 'total', number>>;
  /** VmHWM over the window (reset before it when the kernel allows; see peakReset). */
  readonly peakRssBytes: Readonly<Record<ProcessRole, number>>;
  readonly peakReset: boolean;
  /** Seconds in tollgate_phase_duration_seconds per request, in µs (ext_proc handlers). */
  readonly handlerUsPerRequest: number;
  /** Extra counters per request. */
  readonly counters: Readonly<Record<string, number>>;
  /**
   * CPU cores busy with everything except the measured processes during the window: wrk, the
   * harness, and whatever else runs on the machine. High values mean a noisy window.
   */
  readonly otherBusyCores: number;
  /** From the bench probe in the service processes: wire bytes per message kind, V8 heap bytes, GCs; per request. */
  readonly probe: ProbePerRequest | undefined;
}

export const PHASE_SUM = 'tollgate_phase_duration_seconds_sum';

/** Tollgate's /metrics (the floor has no admin server). */
async function scrape(stack: SetupStack): Promise<string[]> {
  return Promise.all(stack.services.flatMap((t) => (t.adminPort === undefined ? [] : [t.adminPort])).map(async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`tollgate /metrics: ${res.status}`);
    return res.text();
  }));
}

/** The probes' running totals, one per service process that has one. */
async function readProbes(stack: SetupStack): Promise<ProbeTotals[]> {
  return Promise.all(stack.services.flatMap((t) => (t.probePort === undefined ? [] : [t.probePort])).map(async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/probe`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`bench probe: ${res.status}`);
    return (await res.json()) as ProbeTotals;
  }));
}

export interface WindowInputs {
  readonly stack: SetupStack;
  readonly upstreamPid: number;
  readonly request: WrkRequest;
  readonly path: string;
  readonly load: Load;
  readonly seconds: number;
  readonly round: number;
  readonly dir: string;
  readonly counters: readonly string[];
}

export async function measureWindow(w: WindowInputs): Promise<WindowResult> {
  const { stack } = w;
  const scriptPath = join(w.dir, `${stack.setup.name}-${w.load.key.replace(':', '-')}.lua`);
  writeFileSync(scriptPath, wrkScript({ request: w.request, threads: 1, ...(w.load.rate === undefined ? {} : { rate: w.load.rate }) }), { mode: 0o600 });
  const pids: Record<ProcessRole, readonly number[]> = { envoy: [stack.envoy.pid], tollgate: stack.services.map((t) => t.pid), upstream: [w.upstreamPid] };
  const all = Object.values(pids).flat();
  const peakReset = all.map(resetPeakRss).every(Boolean);
  const metrics0 = await scrape(stack);
  const probes0 = await readProbes(stack);
  const cpu0 = new Map(all.map((p) => [p, cpuSeconds(p)]));
  const machine0 = machineBusySeconds();
  const t0 = performance.now();
  const wrk = await startWrk({ url: `${stack.url}${w.path}`, scriptPath, seconds: w.seconds, connections: w.load.connections, threads: 1 }).result;
  const cpu1 = new Map(all.map((p) => [p, cpuSeconds(p)]));
  const machine1 = machineBusySeconds();
  const elapsedS = (performance.now() - t0) / 1000;
  const peaks = new Map(all.map((p) => [p, peakRssBytes(p)]));
  const metrics1 = await scrape(stack);
  const probes1 = await readProbes(stack);
  const n = wrk.requests;
  const cpuOf = (role: ProcessRole): number => {
    if (pids[role].length === 0 || n === 0) return NaN;
    return (pids[role].reduce((acc, p) => acc + (cpu1.get(p)! - cpu0.get(p)!), 0) / n) * 1e6;
  };
  const cpu = { envoy: cpuOf('envoy'), tollgate: cpuOf('tollgate'), upstream: cpuOf('upstream') };
  const peakOf = (role: ProcessRole): number => (pids[role].length === 0 ? NaN : Math.max(...pids[role].map((p) => peaks.get(p)!)));
  const sumOver = (texts: string[], name: string): number => texts.reduce((acc, t) => acc + sumMetric(t, name), 0);
  const counters: Record<string, number> = {};
  for (let i = 0; i < metrics0.length; i++) {
    for (const [k, v] of Object.entries(metricDeltas(metrics0[i]!, metrics1[i]!, w.counters, n))) counters[k] = (counters[k] ?? 0) + v;
  }
  return {
    setup: stack.setup.name,
    load: w.load.key,
    round: w.round,
    connections: w.load.connections,
    wrk,
    cpuUsPerRequest: { ...cpu, total: [cpu.envoy, cpu.tollgate, cpu.upstream].filter((x) => !Number.isNaN(x)).reduce((a, b) => a + b, 0) },
    peakRssBytes: { envoy: peakOf('envoy'), tollgate: peakOf('tollgate'), upstream: peakOf('upstream') },
    peakReset,
    handlerUsPerRequest: metrics0.length === 0 || n === 0 ? NaN : ((sumOver(metrics1, PHASE_SUM) - sumOver(metrics0, PHASE_SUM)) / n) * 1e6,
    counters,
    otherBusyCores: (machine1 - machine0 - all.reduce((acc, p) => acc + cpu1.get(p)! - cpu0.get(p)!, 0)) / elapsedS,
    probe: probePerRequest(probes0, probes1, n),
  };
}
