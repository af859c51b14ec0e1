// The detector docs state what the code does: extproc/detectors/README.md has a row for every built-in secret
// detector, and docs/content-controls.md holds the evaluation table that `node test/bench/detection-eval.ts
// --markdown` prints today.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILTIN_DETECTOR_IDS } from '../../extproc/detectors/registry.ts';
import { evalScanner, markdownTable, score } from '../fixtures/detectors/eval-set.ts';

const read = (rel: string): string => readFileSync(fileURLToPath(new URL(`../../${rel}`, import.meta.url)), 'utf8');

test('extproc/detectors/README.md has a row for every built-in secret detector', () => {
  const listed = new Set<string>();
  for (const line of read('extproc/detectors/README.md').split('\n')) {
    if (!line.startsWith('| secret.')) continue;
    // "secret.a / b" rows name two detectors of one family.
    const cell = line.split('|')[1]?.trim() ?? '';
    for (const part of cell.split(' / ')) listed.add(part.startsWith('secret.') ? part : `secret.${part}`);
  }
  const missing = BUILTIN_DETECTOR_IDS.filter((id) => id.startsWith('secret.') && !listed.has(id));
  assert.deepEqual(missing, []);
  const stale = [...listed].filter((id) => !BUILTIN_DETECTOR_IDS.includes(id));
  assert.deepEqual(stale, []);
});

test('docs/content-controls.md holds the evaluation table the script prints', () => {
  const scanner = evalScanner();
  const table = markdownTable(score((text) => scanner.scan(text)));
  assert.ok(read('docs/content-controls.md').includes(`\n${table}\n`), `expected the table:\n${table}`);
});
