// bin/tollgate.mjs re-executes `serve` with its own V8 heap flag. A user's NODE_OPTIONS (the Kubernetes
// manifest sets one) adds to it instead of silently replacing it; only a flag the user set themselves
// is left to them. A probe preloaded through NODE_OPTIONS records the flags of the process that
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
  const semi = (p: Probe): string[] => p.execArgv.filter((a) => /^--max[-_]semi[-_]space[-_]size/.test(a));

  it('without NODE_OPTIONS, serve runs with the binary\'s young-generation flag', () => {
    assert.deepEqual(semi(serveWith('')), ['--max-semi-space-size=16']);
  });

  it('the manifest\'s NODE_OPTIONS (an old-generation cap) adds to the binary\'s flag: both hold', () => {
    const dep = parseYaml(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8')) as { spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } };
    const value = dep.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(value)?.[1]);
    assert.ok(oldSpace > 0, 'the manifest caps the old generation');
    assert.doesNotMatch(value, /semi[-_]space/, 'the manifest does not override the binary\'s young-generation flag');
    const p = serveWith(value);
    assert.deepEqual(semi(p), ['--max-semi-space-size=16'], 'the binary\'s flag survives');
    // heap_size_limit is the old-generation cap plus the young generation: the NODE_OPTIONS cap holds.
    assert.ok(p.heapLimit >= oldSpace * MiB && p.heapLimit < (oldSpace + 64) * MiB, `heap limit ${p.heapLimit / MiB} MiB for --max-old-space-size=${oldSpace}`);
  });

  it('a young-generation flag the user set wins, in NODE_OPTIONS or on node\'s command line (no second value)', () => {
    const fromEnv = serveWith('--max_semi_space_size=8');
    assert.deepEqual(semi(fromEnv), [], 'no re-exec adds a competing value');
    const fromArgv = serveWith('', ['--max-semi-space-size=32']);
    assert.deepEqual(semi(fromArgv), ['--max-semi-space-size=32']);
  });
});
