// docs/configuration.md documents every field of the configuration schema. This test walks the zod schema
// (extproc/config/schema.ts and the section schemas it imports) and fails when a top-level or second-level
// field is not named in the doc, so a field added to the schema without a doc entry fails CI.
//
// A field is "named" when the doc contains its full path in backticks: `server`, `server.grpc`,
// `providers[].kind` (the fields of a list's elements go under `[]`), `state.url` (every variant of a union
// counts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { configSchema } from '../../extproc/config/schema.ts';

const DOC = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

/** The parts of zod 4's internal definition this walk reads. */
interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly shape?: Readonly<Record<string, z.ZodType>>;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** Strips defaults, optionals and transforms; a list becomes its element; a union becomes its variants. */
function variants(s: z.ZodType): { schema: z.ZodType; list: boolean }[] {
  const d = defOf(s);
  if (WRAPPERS.has(d.type) && d.innerType !== undefined) return variants(d.innerType);
  if (d.type === 'pipe' && d.in !== undefined) return variants(d.in);
  if (d.type === 'array' && d.element !== undefined) return variants(d.element).map((v) => ({ ...v, list: true }));
  if (d.type === 'union' && d.options !== undefined) return d.options.flatMap((o) => variants(o));
  return [{ schema: s, list: false }];
}

/** Field paths down to `depth` levels, e.g. "server", "server.grpc", "providers", "providers[].kind". */
export function fieldPaths(schema: z.ZodType, depth: number, prefix = ''): string[] {
  const out = new Set<string>();
  for (const v of variants(schema)) {
    const shape = defOf(v.schema).type === 'object' ? defOf(v.schema).shape : undefined;
    if (shape === undefined) continue;
    for (const [key, child] of Object.entries(shape)) {
      const path = `${prefix}${key}`;
      out.add(path);
      const list = variants(child).some((c) => c.list);
      if (depth > 1) for (const p of fieldPaths(child, depth - 1, `${path}${list ? '[]' : ''}.`)) out.add(p);
    }
  }
  return [...out];
}

const doc = readFileSync(DOC, 'utf8');
const named = (path: string): boolean => doc.includes(`\`${path}\``) || doc.includes(`\`${path}:`) || doc.includes(`\`${path} `);

test('the walk finds the sections and fields the schema is known to have', () => {
  // Guards the walk itself: if zod's internals changed shape, the walk would find nothing and pass vacuously.
  const paths = fieldPaths(configSchema, 2);
  for (const expected of ['version', 'server', 'server.grpc', 'server.authzContextKey', 'providers', 'providers[].credential', 'identities[].allow', 'state.backend', 'state.url', 'audit.chain', 'dlp.response', 'anomaly.deny']) {
    assert.ok(paths.includes(expected), `the schema walk did not find ${expected}; found ${paths.length} paths`);
  }
  assert.ok(paths.length > 100, `expected well over 100 field paths at two levels, found ${paths.length}`);
});

test('docs/configuration.md names every top-level section of the schema', () => {
  const missing = fieldPaths(configSchema, 1).filter((p) => !named(p));
  assert.deepEqual(missing, [], `docs/configuration.md does not name these sections (write each as \`path\`): ${missing.join(', ')}`);
});

test('docs/configuration.md names every second-level field of the schema', () => {
  const missing = fieldPaths(configSchema, 2).filter((p) => p.includes('.') && !named(p));
  assert.deepEqual(missing, [], `docs/configuration.md does not name these fields (write each as \`path\`): ${missing.join(', ')}`);
});

test('the check tells a named field from an unnamed one', () => {
  // The matcher must not accept a path merely because a longer path starts with it, or a bare word.
  assert.equal(named('server.grpc'), true);
  assert.equal(named('server.grp'), false);
  assert.equal(named('no-such-section.field'), false);
});

test('every field path the doc writes in a field table exists in the schema', () => {
  // The other direction: a table row for a field the schema no longer has is stale. Rows are lines that
  // start with "| `path`"; only paths rooted in a real top-level section are checked.
  const all = new Set(fieldPaths(configSchema, 8));
  const tops = new Set(fieldPaths(configSchema, 1));
  const rows = [...doc.matchAll(/^\| `([A-Za-z][A-Za-z0-9]*(?:\[\])?(?:\.[A-Za-z][A-Za-z0-9]*(?:\[\])?)*)`/gm)].map((m) => m[1] ?? '');
  const stale = rows.filter((p) => tops.has(p.split(/[.[]/)[0] ?? '') && !all.has(p));
  assert.ok(rows.length > 50, `expected the doc to have field tables, found ${rows.length} rows`);
  assert.deepEqual(stale, [], `docs/configuration.md has table rows for fields the schema does not have: ${stale.join(', ')}`);
});
