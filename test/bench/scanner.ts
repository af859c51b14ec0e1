// Scanner micro-benchmark: MB/s for the full built-in detector set on realistic prompt text, on adversarial
// near-miss input (per family and mixed), and the linearity ratios. Run: node test/bench/scanner.ts
// With --compare <other checkout> [--size <KiB>] [--samples <n>]: that checkout's scanner against this one,
// interleaved in one process (scanner-compare.ts), for before/after figures on a machine others load; with
// --processes <n>, in n processes one after another, and the medians (one process is one roll of the JIT).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { DEFAULT_SCAN_LIMITS } from '../../extproc/detectors/scan-limits.ts';
import { ADVERSARIAL_UNITS, adversarialText, promptText, proseText } from '../fixtures/detectors/corpus.ts';
import { compareInProcesses, compareScanners } from './scanner-compare.ts';

const { values: flags } = parseArgs({ options: { compare: { type: 'string' }, size: { type: 'string', default: '64' }, samples: { type: 'string', default: '80' }, processes: { type: 'string' } } });
if (flags.compare !== undefined) {
  if (flags.processes === undefined) await compareScanners(flags.compare, Number(flags.size), Number(flags.samples));
  else compareInProcesses(flags.compare, Number(flags.size), Number(flags.samples), Number(flags.processes));
  process.exit(0);
}

const MB = 1024 * 1024;
const scanner = buildScanner({
  phone: { enabled: true, requireContext: true },
  ip: { enabled: true, requireContext: true, includePrivate: false },
  limits: { ...DEFAULT_SCAN_LIMITS, maxScanMs: 60_000, maxInputBytes: 64 * MB, maxFindings: 1_000_000 },
});

/** Median CPU milliseconds (user + system) per scan: steadier than wall time on a shared machine. */
function msPerScan(text: string, runs = 7): number {
  for (let k = 0; k < 5; k++) scanner.scan(text);
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t = process.cpuUsage();
    scanner.scan(text);
    const d = process.cpuUsage(t);
    times.push((d.user + d.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

const row = (name: string, text: string): number => {
  const ms = msPerScan(text);
  process.stdout.write(`${name.padEnd(28)} ${(text.length / MB).toFixed(1).padStart(5)} MB ${ms.toFixed(2).padStart(8)} ms ${(text.length / MB / (ms / 1000)).toFixed(0).padStart(6)} MB/s\n`);
  return ms;
};

// Steady state first, as in the service (many small bodies): without this the first rows measure V8 still
// tiering the hot functions up (a 1 MB scan is too few calls for it).
const warm = [promptText(8 * 1024), adversarialText(8 * 1024), proseText(8 * 1024)];
for (let k = 0; k < 3000; k++) for (const w of warm) scanner.scan(w);
// CPU time still rises when other processes share the cores (caches, memory bandwidth): say how loaded it was.
process.stdout.write(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);

const p1 = row('prompt text', promptText(MB));
const p8 = row('prompt text', promptText(8 * MB));
row('prompt text, 8 KiB body', promptText(8 * 1024));
row('prose only', proseText(8 * MB));
const a1 = row('adversarial (mixed)', adversarialText(MB));
const a2 = row('adversarial (mixed)', adversarialText(2 * MB));
for (const fam of Object.keys(ADVERSARIAL_UNITS)) row(`adversarial: ${fam}`, adversarialText(MB, fam));
process.stdout.write(`\nratios: adversarial/benign 1 MB = ${(a1 / p1).toFixed(2)}; adversarial 2 MB/1 MB = ${(a2 / a1).toFixed(2)}; prompt 8 MB/1 MB = ${(p8 / p1).toFixed(2)}\n`);
process.stdout.write(`findings on 1 MB of prompt text: ${scanner.scan(promptText(MB)).length}\n`);

// The request-side chain on an 8 KB chat body (scan every segment, mask one value) and the response-side
// stream scan (leak scanner + restore over 400 small SSE deltas), in microseconds per request.
void import('../../extproc/redactors/mask.ts').then(async ({ maskBody }) => {
  const { SseStream } = await import('../../extproc/redactors/sse-stream.ts');
  const prompt = promptText(8 * 1024 - 200);
  const messages = [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: `${prompt.slice(0, 4000)} write to ana@example.com ${prompt.slice(4000)}` },
  ];
  const raw = JSON.stringify({ model: 'gpt-4o-mini', messages });
  const segs = messages.map((m, k) => ({ path: ['messages', k, 'content'], text: m.content, role: 'user' as const }));
  const chain = (): number => {
    const f = scanner.scanSegments(segs);
    return maskBody(raw, segs, f).body.length;
  };
  for (let k = 0; k < 200; k++) chain();
  let t = process.cpuUsage();
  const N = 2000;
  for (let k = 0; k < N; k++) chain();
  let d = process.cpuUsage(t);
  process.stdout.write(`\nchain, 8 KB chat body (scan + mask one value): ${((d.user + d.system) / N).toFixed(0)} µs CPU per request (${raw.length} bytes)\n`);
  const words = prompt.split(/(?<= )/).slice(0, 400);
  const sse = Buffer.from(words.map((w) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`).join('') + 'data: [DONE]\n\n');
  const streamOnce = (): number => {
    const s = new SseStream({ scanner });
    let n = 0;
    for (let at = 0; at < sse.length; at += 512) n += s.push(sse.subarray(at, at + 512), at + 512 >= sse.length).output.length;
    return n;
  };
  for (let k = 0; k < 20; k++) streamOnce();
  t = process.cpuUsage();
  for (let k = 0; k < 100; k++) streamOnce();
  d = process.cpuUsage(t);
  process.stdout.write(`response stream, ${words.length} SSE deltas (${sse.length} bytes): ${((d.user + d.system) / 100).toFixed(0)} µs CPU per response, ${((d.user + d.system) / 100 / words.length).toFixed(1)} µs per event\n`);
});
