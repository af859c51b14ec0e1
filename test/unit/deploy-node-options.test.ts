// bin/tollgate.mjs re-executes `serve` with its own V8 heap flags (HEAP_FLAGS). A user's NODE_OPTIONS adds to
// them instead of silently replacing them; only a flag the user set themselves is left to them. A probe preloaded through NODE_OPTIONS records the flags of the process that
// actually runs (the re-executed one), when it exits on a config file that does not exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'tollgate.mjs');
const MiB = 1024 * 1024;

interface Probe { readonly execArgv: string[]; readonly heapLimit: number; readonly pid: number }

describe('bin/tollgate.mjs: V8 flags with a user\'s NODE_OPTIONS', () => {
  let dir = '';
  let probe = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-node-options-'));
    probe = join(dir, 'probe.mjs');
    writeFileSync(probe, "import { writeFileSync } from 'node:fs';\nimport v8 from 'node:v8';\nprocess.on('exit', () => { writeFileSync(process.env.PROBE_OUT, JSON.stringify({ execArgv: process.execArgv, heapLimit: v8.getHeapStatistics().heap_size_limit, pid: process.pid })); });\n");
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const serveWith = (nodeOptions: string, nodeFlags: string[] = []): Probe => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}.json`);
    const r = spawnSync(process.execPath, [...nodeFlags, BIN, 'serve', '--config', join(dir, 'missing.yaml')], {
      env: { ...process.env, NODE_OPTIONS: `${nodeOptions} --import=${probe}`.trim(), PROBE_OUT: out },
      encoding: 'utf8', timeout: 30_000,
    });
    assert.notEqual(r.status, 0, 'serve refuses the missing config');
    return JSON.parse(readFileSync(out, 'utf8')) as Probe;
  };
  const heapFlags = (p: Probe): string[] => p.execArgv.filter((a) => /^--max[-_](semi|old)[-_]space[-_]size/.test(a));
  const SHIPPED = JSON.parse((/const HEAP_FLAGS = (\[[^\]]*\]);/.exec(readFileSync(BIN, 'utf8'))?.[1] ?? '[]').replaceAll("'", '"')) as string[];
  const oldSpaceOf = (flags: readonly string[]): number => Number(/--max-old-space-size=(\d+)/.exec(flags.join(' '))?.[1]);

  it('ships a young-generation size and an old-generation cap', () => {
    assert.ok(SHIPPED.some((f) => f.startsWith('--max-semi-space-size=')), SHIPPED.join(' '));
    assert.ok(oldSpaceOf(SHIPPED) > 0, SHIPPED.join(' '));
  });

  it('without NODE_OPTIONS, serve runs with the binary\'s heap flags, each once', () => {
    const p = serveWith('');
    assert.deepEqual(heapFlags(p).sort(), [...SHIPPED].sort());
    // heap_size_limit is the old-generation cap plus the young generation.
    const oldSpace = oldSpaceOf(SHIPPED);
    assert.ok(p.heapLimit >= oldSpace * MiB && p.heapLimit < (oldSpace + 64) * MiB, `heap limit ${p.heapLimit / MiB} MiB`);
  });

  // Flags given in NODE_OPTIONS are not in execArgv: the effective set is the re-exec's flags plus those.
  const effective = (p: Probe, nodeOptions: string): string[] => [...heapFlags(p), ...nodeOptions.split(/\s+/).filter((a) => /^--max[-_](semi|old)[-_]space[-_]size/.test(a))].sort();

  it('the manifest\'s NODE_OPTIONS leaves serve with exactly the shipped heap flags (no second value)', () => {
    const dep = parseYaml(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8')) as { spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } };
    const value = dep.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const p = serveWith(value);
    assert.deepEqual(effective(p, value), [...SHIPPED].sort());
    const oldSpace = oldSpaceOf(SHIPPED);
    assert.ok(p.heapLimit >= oldSpace * MiB && p.heapLimit < (oldSpace + 64) * MiB, `heap limit ${p.heapLimit / MiB} MiB`);
  });

  it('an old-generation cap the user set adds to the binary\'s young-generation flag: both hold', () => {
    const p = serveWith('--max-old-space-size=384');
    assert.deepEqual(heapFlags(p), SHIPPED.filter((f) => !f.startsWith('--max-old-space-size')), 'the re-exec adds only the flags the user did not set');
    assert.ok(p.heapLimit >= 384 * MiB && p.heapLimit < 448 * MiB, `heap limit ${p.heapLimit / MiB} MiB for --max-old-space-size=384`);
  });

  it('a young-generation flag the user set wins, in NODE_OPTIONS or on node\'s command line; the cap is still added', () => {
    const fromEnv = serveWith('--max_semi_space_size=8');
    assert.deepEqual(heapFlags(fromEnv).filter((a) => /semi/.test(a)), [], 'no re-exec adds a competing value');
    assert.ok(heapFlags(fromEnv).some((a) => a.startsWith('--max-old-space-size=')), 'the binary\'s old-generation cap still applies');
    const fromArgv = serveWith('', ['--max-semi-space-size=32']);
    assert.deepEqual(heapFlags(fromArgv).filter((a) => /semi/.test(a)), ['--max-semi-space-size=32']);
  });
});
