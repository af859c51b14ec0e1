// The core docs state facts that the code also holds: the error catalogue (security-model.md), the
// metrics (architecture.md), the commands (README.md) and the protected fields (content-controls.md). These
// tests read both and fail when they drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { USAGE } from '../../extproc/cli/commands.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../../extproc/errors.ts';
import { PROTECTED_FIELDS } from '../../extproc/providers/shared/protected-fields.ts';
import { createMetrics } from '../../extproc/telemetry/metrics.ts';

const read = (rel: string): string => readFileSync(fileURLToPath(new URL(`../../${rel}`, import.meta.url)), 'utf8');

/** The rows of the first markdown table after `heading`: cells per row, header and separator dropped. */
function tableAfter(doc: string, heading: string): string[][] {
  const start = doc.indexOf(heading);
  assert.ok(start >= 0, `heading ${heading} not found`);
  const lines = doc.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
  }
  return rows.slice(2);
}

test('security-model.md lists every catalogue code under its HTTP status, marked internal exactly when it is not user-facing', () => {
  const rows = tableAfter(read('docs/security-model.md'), '### The error catalogue');
  const listed = new Map<string, { status: number; internal: boolean }>();
  for (const [status, codes] of rows) {
    for (const m of (codes ?? '').matchAll(/`([a-z_]+)`( \(internal\))?/g)) {
      const code = m[1] ?? '';
      assert.ok(!listed.has(code), `${code} is listed twice`);
      listed.set(code, { status: Number(status), internal: m[2] !== undefined });
    }
  }
  const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
  assert.ok(codes.length > 30, 'the catalogue is unexpectedly small');
  for (const code of codes) {
    const e = ERROR_CATALOGUE[code];
    const doc = listed.get(code);
    assert.ok(doc !== undefined, `catalogue code ${code} is missing from the table`);
    assert.equal(doc.status, e.httpStatus, `${code}: the table says ${String(doc.status)}, the catalogue ${String(e.httpStatus)}`);
    assert.equal(doc.internal, !e.userFacing, `${code}: marked ${doc.internal ? '' : 'not '}internal, but userFacing is ${String(e.userFacing)}`);
  }
  const stale = [...listed.keys()].filter((c) => !(c in ERROR_CATALOGUE));
  assert.deepEqual(stale, [], `the table lists codes the catalogue does not have: ${stale.join(', ')}`);
});

test('architecture.md names every metric Tollgate declares', () => {
  const doc = read('docs/architecture.md');
  const metrics = createMetrics();
  const names = Object.values(metrics)
    .flatMap((m: unknown) => (typeof m === 'object' && m !== null && 'name' in m && typeof m.name === 'string' ? [m.name] : []))
    .filter((n) => n.startsWith('tollgate_'));
  assert.ok(names.length >= 15, `expected the declared metrics, found ${names.length}`);
  const missing = names.filter((n) => !doc.includes(`\`${n}\``));
  assert.deepEqual(missing, [], `docs/architecture.md does not name these metrics: ${missing.join(', ')}`);
});

test('README.md has a row for every command in the usage text', () => {
  const rows = tableAfter(read('README.md'), '## The `tollgate` command').map((r) => r[0] ?? '');
  // Usage lines are "  name [sub] ARGS..."; the command is the first one or two lower-case words.
  const commands = [...USAGE.matchAll(/^ {2}([a-z]+(?: [a-z]+)?)\b/gm)].map((m) => m[1] ?? '');
  assert.ok(commands.length >= 12, `expected the usage text to list the commands, found ${commands.length}`);
  const missing = commands.filter((c) => !rows.some((r) => r.startsWith(`\`${c} `) || r === `\`${c}\``));
  assert.deepEqual(missing, [], `README.md's command table has no row for: ${missing.join(', ')}`);
});

test('content-controls.md lists the protected fields of every format family, in their directions', () => {
  const rows = tableAfter(read('docs/content-controls.md'), '### Protected fields');
  const directions = ['both', 'request', 'response'] as const;
  const listed = rows.map(([format, ...cells]) => ({
    format: format?.replaceAll('`', '') ?? '',
    fields: cells.flatMap((cell, i) => [...cell.matchAll(/`([A-Za-z0-9_]+)`(?: of `([a-z_.A-Z]+)`)?/g)].map((m) => `${m[1] ?? ''}${m[2] === undefined ? '' : ` of ${m[2]}`}: ${directions[i] ?? '?'}`)).toSorted(),
  }));
  const table = Object.entries(PROTECTED_FIELDS).map(([format, fields]) => ({
    format,
    fields: fields.map((f) => `${f.key}${'holderType' in f ? ` of ${f.holderType}` : ''}: ${f.in}`).toSorted(),
  }));
  assert.deepEqual(listed, table);
});
