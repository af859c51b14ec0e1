// Scores the built-in secret detectors on the labelled evaluation set (test/fixtures/detectors/eval-set.ts):
// per family, recall on realistic-format positives and the false-positive rate on the negatives that imitate
// that family (placeholders generated from its prefix and length, written samples, malformed values), and on
// technical text. Not a timing benchmark.
//   node test/bench/detection-eval.ts [--markdown]
import { evalScanner, markdownTable, score } from '../fixtures/detectors/eval-set.ts';

const scanner = evalScanner();
const rows = score((text) => scanner.scan(text));
if (process.argv.includes('--markdown')) process.stdout.write(`${markdownTable(rows)}\n`);
else {
  const pct = (a: number, b: number): string => (b === 0 ? '–' : `${((100 * a) / b).toFixed(1)}%`);
  for (const r of rows) {
    const recall = r.positives === 0 ? '–' : (r.found / r.positives).toFixed(2);
    process.stdout.write(`${r.family.padEnd(24)} recall ${recall.padStart(4)} (${r.found}/${r.positives})  false positives ${pct(r.falsePositives, r.negatives).padStart(6)} (${r.falsePositives}/${r.negatives})\n`);
  }
  const sum = (f: (r: (typeof rows)[number]) => number): number => rows.reduce((s, r) => s + f(r), 0);
  const [tp, p, fp, n] = [sum((r) => r.found), sum((r) => r.positives), sum((r) => r.falsePositives), sum((r) => r.negatives)];
  process.stdout.write(`${'all'.padEnd(24)} recall ${(tp / p).toFixed(2)} (${tp}/${p})  false positives ${pct(fp, n)} (${fp}/${n})\n`);
}
