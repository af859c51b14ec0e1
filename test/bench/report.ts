// Summaries over rounds, ratios to the baseline set-up, and the printed tables. Pure.
import type { WindowResult } from './measure.ts';
import type { ProbePerRequest } from './probe-stats.ts';
import { formatRatio, median, ratio, spread } from './stats.ts';

export interface LoadSummary {
  readonly rounds: number;
  readonly connections: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** (max − min) / median of p50 over rounds: how noisy this cell was. */
  readonly p50Spread: number;
  readonly lateSlots: number;
  readonly cpuUsPerRequest: Readonly<Record<string, number>>;
  /** Highest VmHWM over the rounds, per process role. */
  readonly peakRssBytes: Readonly<Record<string, number>>;
  readonly handlerUsPerRequest: number;
  readonly counters: Readonly<Record<string, number>>;
  /** Median cores busy outside the measured processes (wrk, harness, other work on the machine). */
  readonly otherBusyCores: number;
  /** Medians over rounds of the probe's figures per request; undefined without a probe (e.g. Envoy direct). */
  readonly probe: ProbePerRequest | undefined;
}

export interface LoadRatios {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly rps: number;
  readonly cpuTotal: number;
  readonly cpuEnvoy: number;
  /** p50 minus the baseline's p50, in µs. */
  readonly addedP50Us: number;
}

export type Summary = Record<string, Record<string, LoadSummary>>;

function medianOf(ws: readonly WindowResult[], f: (w: WindowResult) => number): number {
  return median(ws.map(f).filter((x) => !Number.isNaN(x)));
}

function mapRecord(ws: readonly WindowResult[], pick: (w: WindowResult) => Readonly<Record<string, number>>, combine: (xs: number[]) => number): Record<string, number> {
  const keys = new Set(ws.flatMap((w) => Object.keys(pick(w))));
  return Object.fromEntries([...keys].map((k) => {
    const xs = ws.map((w) => pick(w)[k]).filter((x): x is number => x !== undefined && !Number.isNaN(x));
    return [k, xs.length === 0 ? NaN : combine(xs)];
  }));
}

/** Medians over rounds of the probe's figures, field by field (a message kind missing in a round is left out of that median). */
export function summariseProbe(probes: readonly (ProbePerRequest | undefined)[]): ProbePerRequest | undefined {
  const ps = probes.filter((p): p is ProbePerRequest => p !== undefined);
  if (ps.length === 0) return undefined;
  const kinds = [...new Set(ps.flatMap((p) => Object.keys(p.messages)))].sort();
  const of = (f: (p: ProbePerRequest) => number | undefined): number => median(ps.map(f).filter((x): x is number => x !== undefined));
  return {
    messages: Object.fromEntries(kinds.map((k) => [k, { bytes: of((p) => p.messages[k]?.bytes), perRequest: of((p) => p.messages[k]?.perRequest) }])),
    wireBytes: of((p) => p.wireBytes),
    heapBytes: of((p) => p.heapBytes),
    gcPerRequest: of((p) => p.gcPerRequest),
    gcPauseUs: of((p) => p.gcPauseUs),
  };
}

/** Medians over rounds per (set-up, load); peaks take the maximum. */
export function summarise(windows: readonly WindowResult[]): Summary {
  const out: Summary = {};
  for (const w of windows) {
    out[w.setup] ??= {};
  }
  const groups = new Map<string, WindowResult[]>();
  for (const w of windows) {
    const k = `${w.setup}\u0000${w.load}`;
    const g = groups.get(k) ?? [];
    g.push(w);
    groups.set(k, g);
  }
  for (const [k, ws] of groups) {
    const [setup, load] = k.split('\u0000') as [string, string];
    out[setup]![load] = {
      rounds: ws.length,
      connections: medianOf(ws, (w) => w.connections),
      rps: medianOf(ws, (w) => w.wrk.rps),
      p50Us: medianOf(ws, (w) => w.wrk.p50Us),
      p90Us: medianOf(ws, (w) => w.wrk.p90Us),
      p99Us: medianOf(ws, (w) => w.wrk.p99Us),
      maxUs: medianOf(ws, (w) => w.wrk.maxUs),
      p50Spread: spread(ws.map((w) => w.wrk.p50Us)),
      lateSlots: ws.reduce((a, w) => a + w.wrk.lateSlots, 0),
      cpuUsPerRequest: mapRecord(ws, (w) => w.cpuUsPerRequest, median),
      peakRssBytes: mapRecord(ws, (w) => w.peakRssBytes, (xs) => Math.max(...xs)),
      handlerUsPerRequest: medianOf(ws, (w) => w.handlerUsPerRequest),
      counters: mapRecord(ws, (w) => w.counters, median),
      otherBusyCores: medianOf(ws, (w) => w.otherBusyCores),
      probe: summariseProbe(ws.map((w) => w.probe)),
    };
  }
  return out;
}

export function ratiosTo(summary: Summary, baseline: string): Record<string, Record<string, LoadRatios>> {
  const base = summary[baseline];
  if (base === undefined) throw new Error(`no results for the baseline ${baseline}`);
  return Object.fromEntries(Object.entries(summary).map(([setup, loads]) => [setup, Object.fromEntries(Object.entries(loads).map(([load, s]) => {
    const b = base[load];
    return [load, {
      p50: ratio(s.p50Us, b?.p50Us),
      p90: ratio(s.p90Us, b?.p90Us),
      p99: ratio(s.p99Us, b?.p99Us),
      rps: ratio(s.rps, b?.rps),
      cpuTotal: ratio(s.cpuUsPerRequest.total, b?.cpuUsPerRequest.total),
      cpuEnvoy: ratio(s.cpuUsPerRequest.envoy, b?.cpuUsPerRequest.envoy),
      addedP50Us: b === undefined ? NaN : s.p50Us - b.p50Us,
    } satisfies LoadRatios];
  }))]));
}

const num = (x: number | undefined, digits = 0): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const mb = (b: number | undefined): string => (b === undefined || !Number.isFinite(b) ? '–' : (b / 1048576).toFixed(0));

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export interface ReportInput {
  readonly setups: readonly { readonly name: string; readonly label: string }[];
  readonly rates: readonly number[];
  readonly summary: Summary;
  readonly ratios: Record<string, Record<string, LoadRatios>>;
  readonly idleRssBytes: Readonly<Record<string, number>>;
  readonly counters: readonly string[];
  readonly withMax: boolean;
  readonly maxConnections: number;
  readonly p99LimitMs: number;
}

/** The headline table (ratios to the first set-up) and the resource table, as Markdown. */
export function renderTables(r: ReportInput): string {
  const mc = `max:${r.maxConnections}`;
  const loadKeys = [...r.rates.map((x) => `rate:${x}`), ...(r.withMax ? [mc, 'max'] : [])];
  const head = ['set-up', ...r.rates.flatMap((x) => [`p50 @${x}`, `p99 @${x}`]), ...(r.withMax ? [`max req/s ${r.maxConnections}c`, `p99 ${r.maxConnections}c`, `max req/s p99<${r.p99LimitMs}ms`] : []), `CPU/req (all) @${r.rates.at(-1)}`, `+p50 @${r.rates[0]} µs`];
  const rows = r.setups.map((s) => {
    const q = r.ratios[s.name] ?? {};
    return [
      s.label,
      ...r.rates.flatMap((x) => [formatRatio(q[`rate:${x}`]?.p50 ?? NaN), formatRatio(q[`rate:${x}`]?.p99 ?? NaN)]),
      ...(r.withMax ? [formatRatio(q[mc]?.rps ?? NaN), formatRatio(q[mc]?.p99 ?? NaN), formatRatio(q.max?.rps ?? NaN)] : []),
      formatRatio(q[`rate:${r.rates.at(-1)}`]?.cpuTotal ?? NaN),
      num(q[`rate:${r.rates[0]}`]?.addedP50Us),
    ];
  });
  const resLoad = `rate:${r.rates.at(-1)}`;
  const peakLoad = r.withMax ? mc : resLoad;
  // "service": the processes of the tollgate cluster, Tollgate's or the floor's.
  const resHead = ['set-up', `service CPU µs/req @${r.rates.at(-1)}`, 'Envoy CPU µs/req', 'upstream CPU µs/req', 'handler µs/req', `service peak RSS MB (${peakLoad})`, `Envoy peak RSS MB`, 'service idle RSS MB', ...r.counters.map((c) => `${c}/req`)];
  const resRows = r.setups.map((s) => {
    const a = r.summary[s.name]?.[resLoad];
    const p = r.summary[s.name]?.[peakLoad];
    return [
      s.label,
      num(a?.cpuUsPerRequest.tollgate),
      num(a?.cpuUsPerRequest.envoy),
      num(a?.cpuUsPerRequest.upstream),
      num(a?.handlerUsPerRequest),
      mb(p?.peakRssBytes.tollgate),
      mb(p?.peakRssBytes.envoy),
      mb(r.idleRssBytes[s.name]),
      ...r.counters.map((c) => num(a?.counters[c], 3)),
    ];
  });
  const noise = r.setups.map((s) => `${s.name} ${loadKeys.map((k) => `${k}=${num((r.summary[s.name]?.[k]?.p50Spread ?? NaN) * 100)}%`).join(' ')}`).join('; ');
  const others = r.setups.map((s) => `${s.name} ${loadKeys.map((k) => `${k}=${num(r.summary[s.name]?.[k]?.otherBusyCores, 2)}`).join(' ')}`).join('; ');
  const maxNote = r.withMax
    ? `\nmax req/s ${r.maxConnections}c: unpaced, ${r.maxConnections} connections (as issue 5's table); ${r.setups.map((s) => `${s.name} ${num(r.summary[s.name]?.[mc]?.rps)} req/s, p99 ${num((r.summary[s.name]?.[mc]?.p99Us ?? NaN) / 1000, 1)} ms`).join('; ')}.` +
      `\nmax req/s p99<${r.p99LimitMs}ms: unpaced, connections halved from ${r.maxConnections} until p99 < ${r.p99LimitMs} ms (– = no count got there; rounds where none did are left out); ${r.setups.map((s) => { const m = r.summary[s.name]?.max; return `${s.name} ${m === undefined ? '–' : `${num(m.rps)} req/s at ${num(m.connections)} conns in ${m.rounds} rounds`}`; }).join('; ')}.`
    : '';
  const shortfalls = r.setups.flatMap((s) => r.rates.flatMap((x) => {
    const a = r.summary[s.name]?.[`rate:${x}`];
    return a !== undefined && a.rps < 0.95 * x ? [`${s.name} @${x} got ${num(a.rps)} req/s (${a.lateSlots} late slots)`] : [];
  }));
  const rateNote = shortfalls.length === 0 ? '' : `\nRATE NOT SUSTAINED (every connection busy, or wrk starved): ${shortfalls.join('; ')}.`;
  return [
    `Latency and throughput, ratios to ${r.setups[0]?.label ?? '?'} (medians over rounds):`,
    '',
    table(head, rows),
    '',
    'Resources (medians; peaks are the highest over rounds):',
    '',
    table(resHead, resRows),
    '',
    `p50 spread over rounds (max−min)/median: ${noise}.`,
    `Cores busy outside Envoy/Tollgate/upstream (wrk, harness, anything else on the machine): ${others}.${maxNote}${rateNote}`,
  ].join('\n');
}
