// Scores the built-in secret detectors on the labelled evaluation set (test/fixtures/detectors/eval-set.ts):
// per family, recall on realistic-format positives and the false-positive rate on that family's negatives
// (placeholders, samples, malformed values) and on technical text. Not a timing benchmark.
//   node test/bench/detection-eval.ts [--markdown]
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { score } from '../fixtures/detectors/eval-set.ts';

const scanner = buildScanner();
const rows = score((text) => scanner.scan(text));
const pct = (a: number, b: number): string => (b === 0 ? '–' : `${((100 * a) / b).toFixed(1)}%`);
const md = process.argv.includes('--markdown');
let tp = 0;
let p = 0;
let fp = 0;
let n = 0;
const lines: string[] = md ? ['| Family | Positives | Recall | Negatives | False positives |', '|---|---|---|---|---|'] : [];
for (const r of rows) {
  tp += r.found;
  p += r.positives;
  fp += r.falsePositives;
  n += r.negatives;
  const recall = r.positives === 0 ? '–' : (r.found / r.positives).toFixed(2);
  lines.push(md
    ? `| ${r.family} | ${r.positives} | ${recall} | ${r.negatives} | ${pct(r.falsePositives, r.negatives)} |`
    : `${r.family.padEnd(24)} recall ${recall.padStart(4)} (${r.found}/${r.positives})  false positives ${pct(r.falsePositives, r.negatives).padStart(6)} (${r.falsePositives}/${r.negatives})`);
}
lines.push(md ? `| **all** | ${p} | ${(tp / p).toFixed(2)} | ${n} | ${pct(fp, n)} |` : `${'all'.padEnd(24)} recall ${(tp / p).toFixed(2)} (${tp}/${p})  false positives ${pct(fp, n)} (${fp}/${n})`);
process.stdout.write(`${lines.join('\n')}\n`);
