// `tollgate dev` and its Envoy child (issue 5): a dev killed with SIGKILL must not leave Envoy running,
// and a second stack on a busy port must fail clearly instead of sharing the port (SO_REUSEPORT) with
// the first, which would send some requests to the other stack's config.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import { validateConfig } from '../../extproc/config/load.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { EnvoyPortInUseError, findEnvoyBinary, findSetpriv, startEnvoy, type EnvoyProcess, type OrphanGuard } from '../../extproc/dev/envoy-process.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { childrenOf } from '../helpers/proc-tree.ts';
import { TOLLGATE_BIN } from '../helpers/stack.ts';

const GONE_WITHIN_MS = 5_000;
const ENVOY_BIN = findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN);

/** The process state letter from /proc, or undefined once the pid is gone. A zombie ('Z') has exited. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}
const alive = (pid: number): boolean => { const s = procState(pid); return s !== undefined && s !== 'Z'; };

const commOf = (pid: number): string => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };

/** Milliseconds until `pid` has exited, or undefined if it is still running after `deadlineMs`. */
async function timeUntilGone(pid: number, deadlineMs: number): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (!alive(pid)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  return alive(pid) ? undefined : Date.now() - start;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', () => { resolve(); }); });
  const address = server.address();
  await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Whether something listens on the loopback port. A connection whose source port is the port itself is a TCP
 * self-connect (the kernel picked the freed ephemeral port as the source), not a listener.
 */
function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(2_000);
    s.once('connect', () => { const self = s.localPort === port; s.destroy(); resolve(!self); });
    s.once('error', () => { resolve(false); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

interface Dev {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** The listening URL once the ready line is printed, or undefined if dev exits first. */
  readonly ready: Promise<string | undefined>;
  readonly exited: Promise<number | null>;
}

function startDev(configPath: string, port: number, env: NodeJS.ProcessEnv = process.env): Dev {
  const child = spawn(process.execPath, [TOLLGATE_BIN, 'dev', '--config', configPath, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env });
  if (child.pid === undefined) throw new Error('cannot spawn tollgate dev');
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
  const ready = new Promise<string | undefined>((resolve) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const m = /^tollgate dev: envoy listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    void exited.then(() => { resolve(undefined); });
  });
  return { child, pid: child.pid, stdout: () => out, stderr: () => err, ready, exited };
}

function devConfig(dir: string, name: string, provider: string, upstream: string, callerKey: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, [
    'version: 1',
    'server:',
    '  grpc: { host: 127.0.0.1, port: 0 }',
    '  admin: { host: 127.0.0.1, port: 0 }',
    '  drainSeconds: 0',
    'providers:',
    `  - name: ${provider}`,
    '    kind: openai-compatible',
    `    upstream: ${upstream}/v1`,
    '    models: ["*"]',
    `    credential: { source: file, path: ${join(dir, 'provider-key')} }`,
    'identities:',
    '  - id: dev-user',
    `    apiKeyHashes: ["${hashApiKey(callerKey)}"]`,
    `    allow: [{ provider: ${provider} }]`,
    'audit:',
    `  sink: { type: file, path: ${join(dir, `${name}-audit.jsonl`)} }`,
    '',
  ].join('\n'));
  return path;
}

describe('tollgate dev lifecycle', () => {
  let dir: string;
  let upstream: FakeUpstream;
  const callerKey = mintApiKey();
  const providerKey = `sk-lifecycle-${mintApiKey()}`;
  // Every process these tests start, so that `after` can end whatever a failing test left behind.
  const devs: Dev[] = [];
  const envoyPids: number[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-dev-lifecycle-'));
    writeFileSync(join(dir, 'provider-key'), `${providerKey}\n`, { mode: 0o600 });
    upstream = await startFakeUpstream({ respond: openAiResponder(providerKey) });
  });
  after(async () => {
    for (const d of devs) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    for (const pid of envoyPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a dev killed with SIGKILL takes its Envoy with it, and the port is free again', async (t) => {
    const port = await freePort();
    const dev = startDev(devConfig(dir, 'killed', 'alpha', upstream.url, callerKey), port);
    devs.push(dev);
    assert.equal(await dev.ready, `http://127.0.0.1:${port}`, dev.stderr());
    const children = childrenOf(dev.pid);
    assert.deepEqual(children.map(commOf), ['envoy'], 'dev runs one child process, Envoy itself');
    const envoyPid = children[0]!;
    envoyPids.push(envoyPid);

    dev.child.kill('SIGKILL');
    await dev.exited;
    const ms = await timeUntilGone(envoyPid, GONE_WITHIN_MS);
    assert.notEqual(ms, undefined, `envoy (pid ${envoyPid}) still running ${GONE_WITHIN_MS} ms after its dev was killed`);
    t.diagnostic(`envoy gone ${ms} ms after dev's SIGKILL`);
    assert.equal(await connectable(port), false, 'nothing listens on the port any more');
  });

  it('a second dev on a busy port exits 1 naming the port, and the first keeps serving its own config', async () => {
    const port = await freePort();
    const first = startDev(devConfig(dir, 'first', 'alpha', upstream.url, callerKey), port);
    devs.push(first);
    assert.equal(await first.ready, `http://127.0.0.1:${port}`, first.stderr());
    envoyPids.push(...childrenOf(first.pid));

    const second = startDev(devConfig(dir, 'second', 'beta', upstream.url, callerKey), port);
    devs.push(second);
    const secondUrl = await Promise.race([second.ready, new Promise<'slow'>((r) => setTimeout(() => { r('slow'); }, 30_000))]);
    if (typeof secondUrl === 'string') envoyPids.push(...childrenOf(second.pid)); // for `after`, should it have started
    assert.equal(secondUrl, undefined, `the second dev must not start; it printed: ${second.stdout()}`);
    assert.equal(await second.exited, 1);
    assert.match(second.stderr(), new RegExp(`127\\.0\\.0\\.1:${port}\\b.*already in use`));

    // Fresh connections each time: with a shared port the kernel would spread them over both Envoys.
    for (let i = 0; i < 12; i += 1) {
      const body = '{"model":"m","messages":[]}';
      const alpha = await rawRequest(port, `POST /alpha/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${callerKey}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      assert.equal(alpha.status, 200, `request ${i} to the first dev's provider: ${alpha.statusLine} ${alpha.body.toString('utf8')}`);
      const beta = await rawRequest(port, `POST /beta/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${callerKey}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      assert.equal(beta.status, 404, `request ${i}: the second dev's provider is unknown to the first`);
    }
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
  });

  it('SIGHUP reloads the policy (a tightened grant takes effect) and dev keeps running; SIGTERM then stops it cleanly and removes its temporary directory', async () => {
    const port = await freePort();
    const tmp = mkdtempSync(join(dir, 'sighup-tmp-'));
    // The config is reached through a symlink in another directory, so the file watcher (which watches the
    // link's directory) does not see the edit below: only SIGHUP can apply it.
    const real = devConfig(dir, 'sighup', 'alpha', upstream.url, callerKey);
    const linkDir = join(dir, 'sighup-link');
    mkdirSync(linkDir);
    symlinkSync(real, join(linkDir, 'tollgate.yaml'));
    const dev = startDev(join(linkDir, 'tollgate.yaml'), port, { ...process.env, TMPDIR: tmp });
    devs.push(dev);
    assert.equal(await dev.ready, `http://127.0.0.1:${port}`, dev.stderr());
    envoyPids.push(...childrenOf(dev.pid));
    const chat = async (model: string): Promise<number | undefined> => {
      const body = JSON.stringify({ model, messages: [] });
      return (await rawRequest(port, `POST /alpha/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${callerKey}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)).status;
    };
    assert.equal(await chat('other-model'), 200);
    assert.equal(readdirSync(tmp).length, 1, 'Envoy\'s temporary directory exists while dev runs');

    writeFileSync(real, readFileSync(real, 'utf8').replace('allow: [{ provider: alpha }]', 'allow: [{ provider: alpha, models: [allowed-model] }]'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await chat('other-model'), 200, 'not reloaded yet: the watcher does not see the edit');
    dev.child.kill('SIGHUP');
    let status: number | undefined = 0;
    for (let i = 0; i < 50 && status !== 403; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await chat('other-model');
    }
    assert.equal(status, 403, `the tightened grant applies after SIGHUP\n${dev.stderr()}`);
    assert.equal(await chat('allowed-model'), 200);
    assert.equal(dev.child.exitCode, null, 'dev is still running');

    dev.child.kill('SIGTERM');
    assert.equal(await dev.exited, 0, dev.stderr());
    assert.deepEqual(readdirSync(tmp), [], 'dev removed its temporary directory');
  });

  it('demo survives SIGHUP (its config is embedded: nothing to reload) and still serves; SIGTERM then removes its provider key', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => { probe.listen(0, '127.0.0.1', () => { resolve(); }); });
    const address = probe.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    await new Promise<void>((resolve) => { probe.close(() => { resolve(); }); });
    const tmp = mkdtempSync(join(dir, 'demo-hup-'));
    const demo = spawn(process.execPath, [TOLLGATE_BIN, 'demo', '--port', String(address.port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    let out = '';
    let err = '';
    demo.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
    const exited = new Promise<number | null>((resolve) => demo.on('exit', (c) => { resolve(c); }));
    try {
      const key = await new Promise<string>((resolve, reject) => {
        demo.stdout.on('data', (b: Buffer) => {
          out += b.toString('utf8');
          const m = /Your demo key \(shown once\): (\S+)/.exec(out);
          if (m?.[1] !== undefined && out.includes('Ctrl-C stops everything')) resolve(m[1]);
        });
        void exited.then(() => { reject(new Error(`demo exited early: ${err}`)); });
      });
      assert.ok(readdirSync(tmp).some((d) => d.startsWith('tollgate-demo-')), 'the demo keeps its provider key in a temporary directory');
      demo.kill('SIGHUP');
      await new Promise((resolve) => setTimeout(resolve, 500));
      // A process ended by a signal has no exit code: check both.
      assert.deepEqual({ code: demo.exitCode, signal: demo.signalCode }, { code: null, signal: null }, `the demo is still running after SIGHUP: ${err}`);
      const body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';
      const r = await rawRequest(address.port, `POST /demo/v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      assert.equal(r.status, 200, 'and still serves');
      demo.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      assert.deepEqual(readdirSync(tmp), [], 'the provider key file is gone');
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });

  it('demo on a busy port exits 1 naming the port, and leaves no provider key file behind', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => { blocker.listen(0, '127.0.0.1', () => { resolve(); }); });
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const tmp = mkdtempSync(join(dir, 'demo-tmp-'));
    try {
      const demo = spawn(process.execPath, [TOLLGATE_BIN, 'demo', '--port', String(address.port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
      let err = '';
      demo.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
      const code = await new Promise<number | null>((resolve) => demo.on('exit', (c) => { resolve(c); }));
      assert.equal(code, 1, err);
      assert.match(err, new RegExp(`127\\.0\\.0\\.1:${address.port}\\b.*already in use`));
      assert.deepEqual(readdirSync(tmp), [], 'the demo removed its temporary directory (with the provider key)');
    } finally {
      await new Promise<void>((resolve) => { blocker.close(() => { resolve(); }); });
    }
  });

  it('Envoy\'s own listener refuses a busy port (enable_reuse_port: false), with an error naming the address', async () => {
    const config = validateConfig({ version: 1, providers: [{ name: 'p', kind: 'openai-compatible', upstream: upstream.url, models: ['*'], credential: { source: 'none' } }], identities: [] }, 'lifecycle');
    const render = (listenPort: number): string => renderEnvoyConfig(config, { listenHost: '127.0.0.1', listenPort, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: 9, caFile: DEFAULT_CA_FILE });
    const first: EnvoyProcess = await startEnvoy({ bin: ENVOY_BIN, configYaml: render(0) });
    envoyPids.push(first.pid);
    try {
      const err = await startEnvoy({ bin: ENVOY_BIN, configYaml: render(first.listenerPort) }).then(
        async (second) => { envoyPids.push(second.pid); await second.stop(); return undefined; },
        (e: unknown) => e,
      );
      assert.ok(err instanceof EnvoyPortInUseError, `the second Envoy must fail to bind, got ${String(err)}`);
      assert.equal(err.address, `127.0.0.1:${first.listenerPort}`);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${first.listenerPort}: the port is already in use`));
    } finally {
      await first.stop();
    }
  });

  // tollgate dev uses the first guard available; each must work on its own. `none` is the control: it
  // shows that the check below does see an orphaned Envoy.
  const guards: { guard: OrphanGuard; available: boolean }[] = [
    { guard: 'pdeathsig', available: findSetpriv() !== undefined },
    { guard: 'watchdog', available: true },
    { guard: 'none', available: true },
  ];
  for (const { guard, available } of guards) {
    const title = guard === 'none'
      ? 'control, no orphan guard: Envoy outlives its parent\'s SIGKILL'
      : `orphan guard ${guard}: Envoy exits within ${GONE_WITHIN_MS} ms of its parent's SIGKILL${available ? '' : ' (setpriv missing here: the default must be the watchdog)'}`;
    it(title, async (t) => {
      if (!available) {
        const { defaultOrphanGuard } = await import('../../extproc/dev/envoy-process.ts');
        assert.equal(defaultOrphanGuard(), 'watchdog');
        return;
      }
      const config = validateConfig({ version: 1, providers: [{ name: 'p', kind: 'openai-compatible', upstream: upstream.url, models: ['*'], credential: { source: 'none' } }], identities: [] }, 'lifecycle');
      const yamlPath = join(dir, `envoy-${guard}.yaml`);
      writeFileSync(yamlPath, renderEnvoyConfig(config, { listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: 9, caFile: DEFAULT_CA_FILE }));
      // A parent that starts Envoy with this guard, prints its pid and port, and waits to be killed.
      const moduleUrl = new URL('../../extproc/dev/envoy-process.ts', import.meta.url).href;
      const script = [
        `import { readFileSync } from 'node:fs';`,
        `import { startEnvoy } from ${JSON.stringify(moduleUrl)};`,
        `const e = await startEnvoy({ bin: ${JSON.stringify(ENVOY_BIN)}, configYaml: readFileSync(${JSON.stringify(yamlPath)}, 'utf8'), orphanGuard: ${JSON.stringify(guard)} });`,
        `process.stdout.write(e.pid + ' ' + e.listenerPort + '\\n');`,
        `setInterval(() => {}, 1000);`,
      ].join('\n');
      const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      parent.stderr.on('data', (b: Buffer) => { err += b.toString('utf8'); });
      const exited = new Promise<void>((resolve) => parent.on('exit', () => { resolve(); }));
      const line = await new Promise<string>((resolve, reject) => {
        parent.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); if (out.includes('\n')) resolve(out); });
        void exited.then(() => { reject(new Error(`parent exited early: ${err}`)); });
      });
      const [envoyPid, port] = line.trim().split(' ').map(Number) as [number, number];
      envoyPids.push(envoyPid);
      assert.equal(commOf(envoyPid), 'envoy');
      assert.equal(await connectable(port), true);

      parent.kill('SIGKILL');
      await exited;
      if (guard === 'none') {
        assert.equal(await timeUntilGone(envoyPid, 1_500), undefined, 'without a guard the orphan keeps running');
        assert.equal(await connectable(port), true, 'and keeps the port');
        process.kill(envoyPid, 'SIGTERM');
        assert.notEqual(await timeUntilGone(envoyPid, GONE_WITHIN_MS), undefined);
        return;
      }
      const ms = await timeUntilGone(envoyPid, GONE_WITHIN_MS);
      assert.notEqual(ms, undefined, `envoy (pid ${envoyPid}) outlived its parent by more than ${GONE_WITHIN_MS} ms`);
      t.diagnostic(`envoy gone ${ms} ms after its parent's SIGKILL`);
      // No port check here: with the process gone its listener is closed, and the freed ephemeral port may already
      // be another test file's (a CI run saw it connectable again within the check).
    });
  }
});
