// Scanner micro-benchmark: MB/s for the full built-in detector set on realistic prompt text, on adversarial
// near-miss input (per family and mixed), and the linearity ratios. Run: node test/bench/scanner.ts
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { DEFAULT_SCAN_LIMITS } from '../../extproc/detectors/scan-limits.ts';
import { ADVERSARIAL_UNITS, adversarialText, promptText } from '../fixtures/detectors/corpus.ts';

const MB = 1024 * 1024;
const scanner = buildScanner({
  phone: { enabled: true, requireContext: true },
  ip: { enabled: true, requireContext: true, includePrivate: false },
  limits: { ...DEFAULT_SCAN_LIMITS, maxScanMs: 60_000, maxInputBytes: 64 * MB, maxFindings: 1_000_000 },
});

/** Median CPU milliseconds (user + system) per scan: steadier than wall time on a shared machine. */
function msPerScan(text: string, runs = 7): number {
  for (let k = 0; k < 2; k++) scanner.scan(text);
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

const p1 = row('prompt text', promptText(MB));
const p8 = row('prompt text', promptText(8 * MB));
row('prompt text, 8 KiB body', promptText(8 * 1024));
const a1 = row('adversarial (mixed)', adversarialText(MB));
const a2 = row('adversarial (mixed)', adversarialText(2 * MB));
for (const fam of Object.keys(ADVERSARIAL_UNITS)) row(`adversarial: ${fam}`, adversarialText(MB, fam));
process.stdout.write(`\nratios: adversarial/benign 1 MB = ${(a1 / p1).toFixed(2)}; adversarial 2 MB/1 MB = ${(a2 / a1).toFixed(2)}; prompt 8 MB/1 MB = ${(p8 / p1).toFixed(2)}\n`);
process.stdout.write(`findings on 1 MB of prompt text: ${scanner.scan(promptText(MB)).length}\n`);
