// bin/tollgate.mjs turns on Node's compile cache, and `tollgate cache warm` fills it for `serve` (issue 13: a
// warm cache keeps the type stripper out of serve, about 20 MB of idle RSS). These run the real command.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../bench/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/tollgate.mjs');
const work = mkdtempSync(join(tmpdir(), 'tollgate-compile-cache-'));
after(() => { rmSync(work, { recursive: true, force: true }); });

/** The environment of a command: no compile cache settings or node flags but the ones given. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const cleared = new Set(['NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE', 'NODE_OPTIONS', 'NODE_DEBUG_NATIVE']);
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !cleared.has(k))), ...extra };
}

/** Runs `serve` on the embedded demo config until it is ready, and returns what it wrote to stderr. */
async function serveUntilReady(e: NodeJS.ProcessEnv): Promise<string> {
  const key = join(work, 'provider-key');
  writeFileSync(key, 'sk-compile-cache-test-0123456789');
  const config = join(work, 'config.yaml');
  writeFileSync(config, readFileSync(join(ROOT, 'extproc/config/demo.yaml'), 'utf8').replace('path: /dev/null', `path: ${key}`));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { env: e, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: string) => { stderr += d; if (stderr.includes('tollgate ready:')) resolve(); });
    child.on('exit', (code) => { reject(new Error(`serve exited (${String(code)}) before ready: ${stderr.slice(-2000)}`)); });
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await ready;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return stderr;
}

describe('compile cache', () => {
  let serveLog = '';
  it('`cache warm` fills the cache serve reads: the same V8 flags, and every TypeScript module serve loads at start', async () => {
    const dir = join(work, 'cache');
    const warm = spawnSync(process.execPath, [BIN, 'cache', 'warm'], { env: env({ NODE_COMPILE_CACHE: dir }), encoding: 'utf8' });
    assert.equal(warm.status, 0, warm.stderr);
    const written = /^compile cache written to (.+)$/m.exec(warm.stdout)?.[1];
    assert.ok(written !== undefined, warm.stdout);
    // Node keys the cache by code-generation flags (not heap flags): a process with serve's flags uses the folder warm wrote.
    const serveDir = spawnSync(process.execPath, [...SERVE_NODE_FLAGS, '-p', "require('node:module').getCompileCacheDir()"], { env: env({ NODE_COMPILE_CACHE: dir }), encoding: 'utf8' }).stdout.trim();
    assert.equal(written, serveDir);
    assert.ok(readdirSync(written).length > 200, `only ${readdirSync(written).length} entries`);

    serveLog = await serveUntilReady(env({ NODE_COMPILE_CACHE: dir, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }));
    const misses = [...serveLog.matchAll(/no transpile cache for StrippedTypeScript (\S+)/g)].map((m) => m[1]);
    const hits = [...serveLog.matchAll(/retrieving transpile cache for StrippedTypeScript \S+\.\.\.success/g)].length;
    assert.deepEqual(misses, [], 'modules serve had to strip itself');
    assert.ok(hits > 100, `only ${hits} modules read from the cache`);
  });

  it('serve loads no optional package its config does not use (the demo config: no tracing, Vault, Redis, JWT, CEL, MCP or Bedrock)', () => {
    // The cache's debug log names every module the process compiled, packages included.
    assert.ok(serveLog.includes('/node_modules/zod/'), 'the log lists package modules');
    const optional = ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/resources', 'ioredis', 'node-vault', 'jose', '@bufbuild/cel', '@bufbuild/re2', '@modelcontextprotocol/sdk', '@smithy/signature-v4'];
    assert.deepEqual(optional.filter((p) => serveLog.includes(`/node_modules/${p}/`)), []);
  });

  it("is on by default, in the install's .cache/node-compile", () => {
    const r = spawnSync(process.execPath, [BIN, 'keys', 'mint'], { env: env({ NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stderr.includes(`resolved path ${join(ROOT, '.cache/node-compile')} + `), r.stderr.slice(0, 300));
  });

  it('NODE_DISABLE_COMPILE_CACHE turns it off: cache warm says so and exits 1', () => {
    const r = spawnSync(process.execPath, [BIN, 'cache', 'warm'], { env: env({ NODE_DISABLE_COMPILE_CACHE: '1' }), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /compile cache is off/);
  });

  it('`cache` with anything but `warm` is a usage error', () => {
    const r = spawnSync(process.execPath, [BIN, 'cache', 'warm', 'extra'], { env: env({}), encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /expected `cache warm`/);
  });
});
