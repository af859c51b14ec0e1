// "Tollgate's own cost": each Tollgate row next to its floor (the no-op service on the same stack, config
// and Envoy) from the same run, and the difference. Also the per-request probe table. Pure.
import type { ProbePerRequest } from './probe-stats.ts';
import type { Summary } from './report.ts';
import { formatRatio, ratio } from './stats.ts';

/** A Tollgate row and the floor row it is measured against. */
export interface FloorPair {
  readonly setup: string;
  readonly floor: string;
}

/** One figure of both rows: Tollgate's, the floor's, and Tollgate's over the floor's (ratio) or minus it (diff). */
export interface Compared {
  readonly tollgate: number;
  readonly floor: number;
  readonly ratio: number;
  readonly diff: number;
}

export interface OwnCost {
  readonly setup: string;
  readonly floor: string;
  /** Unpaced, `maxConnections` connections. */
  readonly maxRps: Compared;
  /** At the first paced rate. */
  readonly p50Us: Compared;
  readonly p99Us: Compared;
  /** At the last paced rate (as the resource table). */
  readonly serviceCpuUs: Compared;
  readonly envoyCpuUs: Compared;
  readonly heapBytes: Compared;
  readonly wireBytes: Compared;
  /** During the peak load (the fixed-connection max run, or the last rate without it). */
  readonly peakRssBytes: Compared;
  readonly idleRssBytes: Compared;
}

export interface OwnCostInput {
  readonly summary: Summary;
  readonly idleRssBytes: Readonly<Record<string, number>>;
  readonly rates: readonly number[];
  readonly withMax: boolean;
  readonly maxConnections: number;
}

function compare(t: number | undefined, f: number | undefined): Compared {
  const tollgate = t ?? NaN;
  const floor = f ?? NaN;
  return { tollgate, floor, ratio: ratio(tollgate, floor), diff: tollgate - floor };
}

/** The pairs present in a run: every floor row whose Tollgate row ran too, in the order of the floors. */
export function floorPairs(setups: readonly { readonly name: string; readonly floor?: { readonly of: string } }[]): FloorPair[] {
  const names = new Set(setups.map((s) => s.name));
  return setups.flatMap((s) => (s.floor !== undefined && names.has(s.floor.of) ? [{ setup: s.floor.of, floor: s.name }] : []));
}

export function ownCost(pair: FloorPair, r: OwnCostInput): OwnCost {
  const t = r.summary[pair.setup] ?? {};
  const f = r.summary[pair.floor] ?? {};
  const lat = `rate:${r.rates[0]}`;
  const res = `rate:${r.rates.at(-1)}`;
  const max = `max:${r.maxConnections}`;
  const peak = r.withMax ? max : res;
  return {
    setup: pair.setup,
    floor: pair.floor,
    maxRps: r.withMax ? compare(t[max]?.rps, f[max]?.rps) : compare(NaN, NaN),
    p50Us: compare(t[lat]?.p50Us, f[lat]?.p50Us),
    p99Us: compare(t[lat]?.p99Us, f[lat]?.p99Us),
    serviceCpuUs: compare(t[res]?.cpuUsPerRequest.tollgate, f[res]?.cpuUsPerRequest.tollgate),
    envoyCpuUs: compare(t[res]?.cpuUsPerRequest.envoy, f[res]?.cpuUsPerRequest.envoy),
    heapBytes: compare(t[res]?.probe?.heapBytes, f[res]?.probe?.heapBytes),
    wireBytes: compare(t[res]?.probe?.wireBytes, f[res]?.probe?.wireBytes),
    peakRssBytes: compare(t[peak]?.peakRssBytes.tollgate, f[peak]?.peakRssBytes.tollgate),
    idleRssBytes: compare(r.idleRssBytes[pair.setup], r.idleRssBytes[pair.floor]),
  };
}

const fixed = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const signed = (x: number, digits = 0): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}` : '–');
/** "Tollgate vs floor (ratio)" for figures where the ratio is the target. */
const byRatio = (c: Compared, scale = 1, digits = 0): string => `${fixed(c.tollgate / scale, digits)} vs ${fixed(c.floor / scale, digits)} (${formatRatio(c.ratio)})`;
/** "Tollgate vs floor (+difference)" for per-request costs, where the difference is Tollgate's own. */
const byDiff = (c: Compared, scale = 1, digits = 0): string => `${fixed(c.tollgate / scale, digits)} vs ${fixed(c.floor / scale, digits)} (${signed(c.diff / scale, digits)})`;

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The own-cost table: one row per pair, each cell "Tollgate vs floor (ratio or difference)". Empty without pairs. */
export function renderOwnCost(costs: readonly OwnCost[], labels: ReadonlyMap<string, string>, r: OwnCostInput): string {
  if (costs.length === 0) return '';
  const lat = r.rates[0];
  const res = r.rates.at(-1);
  const head = [
    'Tollgate row vs its floor',
    ...(r.withMax ? [`max req/s ${r.maxConnections}c`] : []),
    `p50 ms @${lat}`, `p99 ms @${lat}`,
    `service CPU µs/req @${res}`, `Envoy CPU µs/req @${res}`,
    `service heap KB/req @${res}`, `gRPC bytes/req @${res}`,
    `service peak RSS MB (${r.withMax ? `max ${r.maxConnections}c` : `@${res}`})`, 'service idle RSS MB',
  ];
  const rows = costs.map((c) => [
    `${labels.get(c.setup) ?? c.setup} vs ${labels.get(c.floor) ?? c.floor}`,
    ...(r.withMax ? [byRatio(c.maxRps)] : []),
    byRatio(c.p50Us, 1000, 2), byRatio(c.p99Us, 1000, 2),
    byDiff(c.serviceCpuUs), byDiff(c.envoyCpuUs),
    byDiff(c.heapBytes, 1024, 1), byDiff(c.wireBytes),
    byDiff(c.peakRssBytes, 1048576), byDiff(c.idleRssBytes, 1048576),
  ]);
  return [
    "Tollgate's own cost: each cell is Tollgate vs its floor from this run, then (ratio) or (+ Tollgate's own cost per request):",
    '',
    table(head, rows),
  ].join('\n');
}

/** Message kinds in the order a request meets them. */
const KIND_ORDER = ['check', 'request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers', 'immediate_response', 'other'];

function kindRank(kind: string): number {
  const [name, dir] = kind.split(':');
  const i = KIND_ORDER.indexOf(name ?? '');
  return (i < 0 ? KIND_ORDER.length : i) * 2 + (dir === 'out' ? 1 : 0);
}

/** Column name of a probe message kind: "check:in" → "Check in" (Envoy to the service), "request_body:out" → "request_body out". */
export function kindLabel(kind: string): string {
  const [name, dir] = kind.split(':');
  return `${name === 'check' ? 'Check' : name} ${dir ?? ''}`.trim();
}

/**
 * Bytes per message from the probe: one column per message kind (mean serialized size; "×n" when a
 * request has n of them on average, shown from 5 % off one), then the heap and GC figures. Empty when no row has a probe.
 */
export function renderProbeTable(rows: readonly { readonly label: string; readonly probe: ProbePerRequest | undefined }[], load: string): string {
  const withProbe = rows.filter((x) => x.probe !== undefined);
  if (withProbe.length === 0) return '';
  const kinds = [...new Set(withProbe.flatMap((x) => Object.keys(x.probe!.messages)))].sort((a, b) => kindRank(a) - kindRank(b) || a.localeCompare(b));
  const head = ['set-up', ...kinds.map((k) => `${kindLabel(k)} B`), 'gRPC B/req', 'heap KB/req', 'GCs/1k req', 'GC pause µs/req'];
  const body = withProbe.map(({ label, probe }) => {
    const p = probe!;
    return [
      label,
      ...kinds.map((k) => {
        const m = p.messages[k];
        if (m === undefined) return '–';
        // Requests in flight at either end of the window make a one-per-request kind read 1.00x; only a real difference shows.
        return Math.abs(m.perRequest - 1) < 0.05 ? fixed(m.bytes) : `${fixed(m.bytes)} ×${fixed(m.perRequest, 2)}`;
      }),
      fixed(p.wireBytes),
      fixed(p.heapBytes / 1024, 1),
      fixed(p.gcPerRequest * 1000, 1),
      fixed(p.gcPauseUs, 1),
    ];
  });
  return [
    `Per request in the service process (${load}, bench probe; bytes are serialized protobuf messages, "in" = Envoy to the service, "out" = its answer):`,
    '',
    table(head, body),
  ].join('\n');
}
