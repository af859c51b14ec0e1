// Scanner A/B on a shared machine: the scanner of another checkout (A) against this one (B), in one process,
// sampled alternately in short runs (8 scans of a 64 KiB text by default), CPU time. On a machine other jobs
// load, a slow sample is one another process disturbed: the minimum and the 10th percentile of many short
// samples track the undisturbed speed, and alternating A and B gives both the same disturbances. Findings of
// A and B are compared first (a speed change must not change them).
// Run: node test/bench/scanner.ts --compare <other checkout> [--size <KiB>] [--samples <n>] [--processes <n>]
// One process is one roll of V8's JIT for both scanners (two copies of one checkout differ by up to 3% between
// processes): with --processes, that many processes run one after another and the medians are printed.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { adversarialText, promptText, proseText } from '../fixtures/detectors/corpus.ts';

const MB = 1024 * 1024;

interface Scans {
  scan(text: string): readonly unknown[];
}

/** The bench's scanner (every detector, phone and IP with context) built from the checkout at `root`. */
async function scannerAt(root: string): Promise<Scans> {
  const dir = pathToFileURL(`${resolve(root)}/extproc/detectors/`);
  const { buildScanner } = (await import(new URL('registry.ts', dir).href)) as typeof import('../../extproc/detectors/registry.ts');
  const { DEFAULT_SCAN_LIMITS } = (await import(new URL('scan-limits.ts', dir).href)) as typeof import('../../extproc/detectors/scan-limits.ts');
  return buildScanner({
    phone: { enabled: true, requireContext: true },
    ip: { enabled: true, requireContext: true, includePrivate: false },
    limits: { ...DEFAULT_SCAN_LIMITS, maxScanMs: 60_000, maxInputBytes: 64 * MB, maxFindings: 1_000_000 },
  });
}

const quantile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

export async function compareScanners(other: string, sizeKiB = 64, samples = 80): Promise<void> {
  const scanners = { A: await scannerAt(other), B: await scannerAt('.') };
  const warm = [promptText(8 * 1024), adversarialText(8 * 1024), proseText(8 * 1024)];
  for (let k = 0; k < 3000; k++) for (const s of Object.values(scanners)) for (const w of warm) s.scan(w);
  const size = sizeKiB * 1024;
  const reps = Math.max(1, Math.round((512 * 1024) / size));
  process.stdout.write(`A = ${other}, B = this checkout; ${sizeKiB} KiB texts, ${samples} samples of ${reps} scans each, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  for (const [name, text] of [['prompt text', promptText(size)], ['prose only', proseText(size)]] as const) {
    const same = JSON.stringify(scanners.A.scan(text)) === JSON.stringify(scanners.B.scan(text));
    const ms: Record<'A' | 'B', number[]> = { A: [], B: [] };
    for (let r = 0; r < samples; r++) {
      for (const which of r % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
        const t = process.cpuUsage();
        for (let k = 0; k < reps; k++) scanners[which].scan(text);
        const d = process.cpuUsage(t);
        ms[which].push((d.user + d.system) / 1000 / reps / (size / MB));
      }
    }
    ms.A.sort((x, y) => x - y);
    ms.B.sort((x, y) => x - y);
    const mbs = (v: readonly number[], p: number): string => (1000 / quantile(v, p)).toFixed(0);
    const row = (v: readonly number[]): string => `${mbs(v, 0)} / ${mbs(v, 0.1)} / ${mbs(v, 0.5)}`;
    const gain = (quantile(ms.A, 0.1) / quantile(ms.B, 0.1) - 1) * 100;
    process.stdout.write(`${name.padEnd(12)} MB/s per core (best / p10 / median): A ${row(ms.A)}, B ${row(ms.B)}; B vs A at p10 ${gain >= 0 ? '+' : ''}${gain.toFixed(1)}%${same ? '' : '; FINDINGS DIFFER'}\n`);
  }
  process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
}

const ROW = /^(prompt text|prose only)\s+MB\/s per core \(best \/ p10 \/ median\): A \d+ \/ (\d+) \/ \d+, B \d+ \/ (\d+) \/ \d+; B vs A at p10 ([+-][\d.]+)%(.*)$/;
const median = (v: readonly number[]): number => quantile([...v].sort((x, y) => x - y), 0.5);

/** compareScanners in `processes` processes, one after another; each one's rows, then the medians of their p10s. */
export function compareInProcesses(other: string, sizeKiB: number, samples: number, processes: number): void {
  const rows = new Map<string, { a: number[]; b: number[]; gain: number[]; differ: boolean }>();
  for (let k = 0; k < processes; k++) {
    const out = execFileSync(process.execPath, [process.argv[1] ?? '', '--compare', other, '--size', String(sizeKiB), '--samples', String(samples)], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const m = ROW.exec(line);
      if (m === null) continue;
      process.stdout.write(`${k + 1}: ${line}\n`);
      const r = rows.get(m[1] ?? '') ?? { a: [], b: [], gain: [], differ: false };
      r.a.push(Number(m[2]));
      r.b.push(Number(m[3]));
      r.gain.push(Number(m[4]));
      r.differ ||= (m[5] ?? '').includes('DIFFER');
      rows.set(m[1] ?? '', r);
    }
  }
  for (const [name, r] of rows) {
    const pct = median(r.gain);
    process.stdout.write(`${name.padEnd(12)} medians of ${r.gain.length} processes: p10 A ${median(r.a)}, B ${median(r.b)} MB/s per core; B vs A ${pct >= 0 ? '+' : ''}${pct.toFixed(1)}% (${Math.min(...r.gain).toFixed(1)} to ${Math.max(...r.gain).toFixed(1)})${r.differ ? '; FINDINGS DIFFER' : ''}\n`);
  }
}
