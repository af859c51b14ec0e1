// Holds the detection targets on the labelled evaluation set (test/fixtures/detectors/eval-set.ts): recall
// ≥ 0.95 on every family's realistic-format positives, and false positives ≤ 5% on every family's negatives
// (placeholders generated from its format, documentation-style samples, malformed values) and overall. `node
// test/bench/detection-eval.ts` prints the same scores as a table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evalScanner, FAMILIES, NEGATIVES, positives, score } from '../fixtures/detectors/eval-set.ts';

const scanner = evalScanner();
const rows = score((text) => scanner.scan(text));

describe('detection evaluation set', () => {
  it('covers every family with positives and negatives, and the values occur in their texts', () => {
    const pos = positives();
    for (const f of FAMILIES) {
      assert.ok(pos.filter((p) => p.family === f.family).length >= 20, `${f.family}: positives`);
      assert.ok(NEGATIVES.some((n) => n.family === f.family), `${f.family}: negatives`);
    }
    for (const p of pos) assert.ok(p.text.includes(p.value), `${p.family}: value in text`);
  });

  for (const r of rows.filter((x) => x.positives > 0)) {
    it(`${r.family}: recall ≥ 0.95`, () => {
      assert.ok(r.found / r.positives >= 0.95, `${r.family}: ${r.found}/${r.positives}`);
    });
  }

  for (const r of rows) {
    it(`${r.family}: false positives ≤ 5% over at least 20 negatives (placeholders and samples of its format)`, () => {
      assert.ok(r.negatives >= 20, `${r.family}: ${r.negatives} negatives`);
      assert.ok(r.falsePositives / r.negatives <= 0.05, `${r.family}: ${r.falsePositives}/${r.negatives}`);
    });
  }

  it('false positives ≤ 5% over all negatives, and none on technical text', () => {
    const fp = rows.reduce((s, r) => s + r.falsePositives, 0);
    const n = rows.reduce((s, r) => s + r.negatives, 0);
    assert.ok(n >= 100, `negatives: ${n}`);
    assert.ok(fp / n <= 0.05, `false positives ${fp}/${n}`);
    assert.equal(rows.find((r) => r.family === 'technical')?.falsePositives, 0);
  });
});
