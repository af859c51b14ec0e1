// Tollgate's own cost per request, in-process: heap allocated and CPU spent by its functions, next to grpc-js and
// protobuf and the driver. Runs the real app on loopback, drives chat requests (Check, then the four ext_proc
// messages) through real grpc-js clients, samples the heap with collected objects included, then profiles the CPU
// over as many requests again. Allocation does not depend on the machine's load; CPU does.
//
//   node test/bench/alloc-profile.ts [--requests 3000] [--concurrency 8] [--warmup 1500] [--dlp on|off] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkRequest, fixture, requestBody, requestHeaders, responseBody, responseHeaders } from '../contract/helpers/messages.ts';
import { newRequestId, startHarness, type Harness } from '../contract/helpers/harness.ts';
import { cpuAttribution, formatAttribution, heapAttribution, type Attribution } from './alloc-attribution.ts';

export interface AllocProfileOptions {
  readonly requests: number;
  readonly concurrency: number;
  readonly warmup: number;
  readonly dlp: boolean;
  /** Where the .heapprofile and .cpuprofile go (open them in Chrome DevTools); none written if undefined. */
  readonly out?: string;
}

export interface AllocProfileResult {
  readonly heap: Attribution;
  readonly cpu: Attribution;
  /** Audit records written during the heap pass: one per request, or the run is wrong. */
  readonly auditRecords: number;
}

const PATH = '/openai/v1/chat/completions';

/** One chat request as Envoy would send it, with a fresh request id; throws unless every answer is the happy one. */
async function chat(h: Harness, body: Buffer, response: Buffer): Promise<void> {
  const rid = newRequestId();
  const ok = await h.check(checkRequest({ path: PATH, method: 'POST', headers: { authorization: `Bearer ${h.keys.agent}`, 'content-length': String(body.length), 'x-request-id': rid }, requestId: rid }));
  if (ok.http_response !== 'ok_response' || ok.dynamic_metadata === undefined) throw new Error(`Check did not allow: ${JSON.stringify(ok)}`);
  const s = h.stream();
  await s.send(requestHeaders({ ':authority': 'tollgate.test', ':method': 'POST', ':path': PATH, ':scheme': 'http', 'content-type': 'application/json', 'content-length': String(body.length), 'x-request-id': rid }, { authz: ok.dynamic_metadata }));
  await s.send(requestBody(body, true));
  await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
  const last = await s.send(responseBody(response, true));
  if (last.response !== 'response_body') throw new Error(`response body was not continued: ${JSON.stringify(last)}`);
  await s.end();
}

async function drive(h: Harness, n: number, concurrency: number): Promise<void> {
  const body = fixture('ext_proc/chat-request.json');
  const response = fixture('ext_proc/chat-response.json');
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started++ < n) await chat(h, body, response);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function allocProfile(o: AllocProfileOptions): Promise<AllocProfileResult> {
  // The heap sampler slows every function down: the scan's time limit is raised so a loaded machine does not refuse a response.
  const h = await startHarness({ logLevel: 'silent', tweak: (c) => ({ ...c, dlp: o.dlp ? { limits: { maxScanMs: 10_000 } } : { enabled: false } }) });
  const inspector = new Session();
  inspector.connect();
  try {
    await drive(h, o.warmup, o.concurrency);
    h.audit.records.length = 0;
    await inspector.post('HeapProfiler.enable');
    await inspector.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await drive(h, o.requests, o.concurrency);
    const { profile: heap } = await inspector.post('HeapProfiler.stopSampling');
    const auditRecords = h.audit.records.length;
    h.audit.records.length = 0;
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 100 });
    await inspector.post('Profiler.start');
    await drive(h, o.requests, o.concurrency);
    const { profile: cpu } = await inspector.post('Profiler.stop');
    if (o.out !== undefined) {
      mkdirSync(o.out, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      writeFileSync(join(o.out, `alloc-${stamp}.heapprofile`), JSON.stringify(heap));
      writeFileSync(join(o.out, `alloc-${stamp}.cpuprofile`), JSON.stringify(cpu));
    }
    return { heap: heapAttribution(heap, o.requests), cpu: cpuAttribution({ nodes: cpu.nodes, samples: cpu.samples ?? [], timeDeltas: cpu.timeDeltas ?? [] }, o.requests), auditRecords };
  } finally {
    inspector.disconnect();
    await h.stop();
  }
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    options: {
      requests: { type: 'string', default: '3000' },
      concurrency: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '1500' },
      dlp: { type: 'string', default: 'on' },
      out: { type: 'string' },
    },
  });
  const count = (name: string, s: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(s)}`);
    return n;
  };
  if (v.dlp !== 'on' && v.dlp !== 'off') throw new Error(`--dlp must be on or off, got ${JSON.stringify(v.dlp)}`);
  const o: AllocProfileOptions = { requests: count('requests', v.requests), concurrency: count('concurrency', v.concurrency), warmup: count('warmup', v.warmup), dlp: v.dlp === 'on', ...(v.out === undefined ? {} : { out: v.out }) };
  const r = await allocProfile(o);
  process.stdout.write(`${o.requests} requests (${r.auditRecords} audit records), concurrency ${o.concurrency}, DLP ${v.dlp}\n\n${formatAttribution('heap allocated', 'KB', r.heap)}\n${formatAttribution('CPU', 'µs', r.cpu)}`);
}
