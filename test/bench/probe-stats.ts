// Pure parts of the bench probe (test/bench/probe.ts): naming message kinds, folding GC statistics, and
// turning two reads of the running totals into figures per request.

/** Running totals per message kind ("check:in", "request_body:out", ...). */
export interface ProbeTotals {
  readonly messages: Record<string, { count: number; bytes: number }>;
  /** Bytes allocated on the V8 heap since the probe started. */
  readonly heapAllocatedBytes: number;
  /** Garbage collections since the probe started, and their total pause in µs. */
  readonly gcCount: number;
  readonly gcPauseUs: number;
}

const PHASES = ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers', 'immediate_response'] as const;

/** The kind of an ext_proc answer: the phase field it sets. */
export function answerKind(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    for (const p of PHASES) if ((value as Record<string, unknown>)[p] !== undefined) return p;
  }
  return 'other';
}

export interface GcStat {
  readonly cost: number;
  readonly beforeGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
  readonly afterGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
}

/** Bytes the collections freed (used before − used after, summed) and their total pause in µs. */
export function foldGcStats(stats: readonly GcStat[]): { freedBytes: number; count: number; pauseUs: number } {
  let freedBytes = 0;
  let pauseUs = 0;
  for (const s of stats) {
    freedBytes += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize);
    pauseUs += s.cost;
  }
  return { freedBytes, count: stats.length, pauseUs };
}


/** One window's probe figures, per request (the requests wrk completed). */
export interface ProbePerRequest {
  /** Mean serialized bytes per message of each kind, and messages of that kind per request. */
  readonly messages: Readonly<Record<string, { readonly bytes: number; readonly perRequest: number }>>;
  /** Serialized gRPC message bytes per request, both ways, all kinds (without HTTP/2 and gRPC framing). */
  readonly wireBytes: number;
  readonly heapBytes: number;
  readonly gcPerRequest: number;
  readonly gcPauseUs: number;
}

/**
 * The growth between two reads of a probe, per request. `before` and `after` hold one read per service
 * process (replicas are summed). Returns undefined when there is no probe or no request.
 */
export function probePerRequest(before: readonly ProbeTotals[], after: readonly ProbeTotals[], requests: number): ProbePerRequest | undefined {
  if (before.length === 0 || before.length !== after.length || requests <= 0) return undefined;
  const grown = new Map<string, { count: number; bytes: number }>();
  let heap = 0;
  let gcs = 0;
  let pause = 0;
  for (let i = 0; i < after.length; i++) {
    const a = after[i]!;
    const b = before[i]!;
    for (const [kind, m] of Object.entries(a.messages)) {
      const prev = b.messages[kind] ?? { count: 0, bytes: 0 };
      const g = grown.get(kind) ?? { count: 0, bytes: 0 };
      g.count += m.count - prev.count;
      g.bytes += m.bytes - prev.bytes;
      grown.set(kind, g);
    }
    heap += a.heapAllocatedBytes - b.heapAllocatedBytes;
    gcs += a.gcCount - b.gcCount;
    pause += a.gcPauseUs - b.gcPauseUs;
  }
  const messages: Record<string, { bytes: number; perRequest: number }> = {};
  let wire = 0;
  for (const [kind, g] of [...grown].sort(([x], [y]) => x.localeCompare(y))) {
    if (g.count <= 0) continue;
    messages[kind] = { bytes: g.bytes / g.count, perRequest: g.count / requests };
    wire += g.bytes;
  }
  return { messages, wireBytes: wire / requests, heapBytes: heap / requests, gcPerRequest: gcs / requests, gcPauseUs: pause / requests };
}
