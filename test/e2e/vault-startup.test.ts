// `tollgate serve` with Vault down or sealed at start: never a silent exit. With vault.onStartFailure
// "exit", exit code 1 and a message naming the cause; by default it listens not ready, /readyz says
// why, it logs in with backoff, and once Vault answers it becomes ready and serves through a real Envoy.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, loadPackageDefinition, type Client, type MethodDefinition, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { baseConfigInput, mintTestKeys, testConfig, type TestKeys } from '../helpers/config.ts';
import { startFakeVault, type FakeVault } from '../helpers/fake-vault.ts';
import { TOLLGATE_BIN } from '../helpers/stack.ts';

/** A loopback port with nothing listening on it: connections are refused. */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0); });
    });
  });

/** The gRPC health status of the overall server ("" service) on a plaintext loopback port. */
function healthStatus(port: number): Promise<string> {
  const root = loadPackageDefinition(loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true }));
  const Health = (root.grpc as { health: { v1: { Health: ServiceClientConstructor } } }).health.v1.Health;
  const client: Client = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
  const method = Health.service.Check as MethodDefinition<{ service: string }, { status?: string }>;
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { service: '' }, (err: ServiceError | null, res?: { status?: string }) => {
      client.close();
      if (err !== null) reject(err);
      else resolve(res?.status ?? 'UNKNOWN');
    });
  });
}

interface Spawned {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
  /** Resolves with the first match of `re` in the output, or rejects when the process exits first or after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

function spawnServe(configPath: string): Spawned {
  const child = spawn(process.execPath, [TOLLGATE_BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (b: Buffer): void => { out += b.toString('utf8'); for (const w of waiters) w(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); for (const w of waiters) w(); }));
  return {
    child,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = 20_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no ${String(re)} within ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
      const check = (): void => {
        const m = re.exec(out);
        if (m !== null) { clearTimeout(timer); waiters.delete(check); resolve(m); return; }
        if (child.exitCode !== null) { clearTimeout(timer); waiters.delete(check); reject(new Error(`exited with ${child.exitCode}:\n${out}`)); }
      };
      waiters.add(check);
      check();
    }),
  };
}

const stop = async (s: Spawned): Promise<void> => {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
  await s.exited;
};

function writeConfig(dir: string, keys: TestKeys, upstream: string, vault: NonNullable<ConfigInput['vault']>): string {
  const input: ConfigInput = {
    ...baseConfigInput(keys, upstream, join(dir, 'unused-key')),
    logging: { level: 'info' },
    audit: { sink: { type: 'file', path: join(dir, 'audit.jsonl') } },
    vault,
  };
  const withVault: ConfigInput = { ...input, providers: input.providers.map((p) => ({ ...p, credential: { source: 'vault-kv2', mount: 'secret', path: 'tollgate/{tenant}/openai' } })) };
  const path = join(dir, 'tollgate.yaml');
  writeFileSync(path, stringify(withVault));
  return path;
}

describe('Vault unreachable at start with vault.onStartFailure: exit', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-start-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('exits with code 1 and a message naming the cause (connection refused)', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `hvs.${randomBytes(12).toString('hex')}`, { mode: 0o600 });
    const path = writeConfig(dir, mintTestKeys(), 'http://127.0.0.1:9/v1', { address: `http://127.0.0.1:${await closedPort()}`, auth: { method: 'token', tokenFile }, onStartFailure: 'exit' });
    const s = spawnServe(path);
    assert.equal(await s.exited, 1, s.output());
    assert.match(s.output(), /tollgate: vault login failed at start \(connection_refused\)/);
    assert.doesNotMatch(s.output(), /unsettled top-level await/);
  });
});

describe('Vault sealed at start (default vault.onStartFailure: retry)', () => {
  const key = `sk-kv-${randomBytes(12).toString('hex')}`;
  let dir: string;
  let vault: FakeVault;
  let upstream: FakeUpstream;
  let tollgate: Spawned | undefined;
  let envoy: EnvoyProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-start-'));
    vault = await startFakeVault({ rootToken: `hvs.fake-root-${randomBytes(12).toString('hex')}` });
    vault.kvPut('secret/tollgate/team-a/openai', { api_key: key });
    upstream = await startFakeUpstream({ respond: openAiResponder(key) });
  });
  after(async () => {
    await envoy?.stop();
    if (tollgate !== undefined) await stop(tollgate);
    await upstream.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens not ready with /readyz naming the cause, then logs in once Vault is unsealed and serves through Envoy', async () => {
    vault.fault({ status: 503 });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, [...vault.tokens][0] ?? '', { mode: 0o600 });
    const keys = mintTestKeys();
    const path = writeConfig(dir, keys, `${upstream.url}/v1`, { address: vault.address, auth: { method: 'token', tokenFile }, retries: 0 });
    tollgate = spawnServe(path);
    const m = await tollgate.waitFor(/^tollgate listening, not ready \((.*)\): grpc=\S+:(\d+) admin=\S+:(\d+)$/m);
    const [grpcPort, adminPort] = [Number(m[2]), Number(m[3])];
    const notReady = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(await notReady.text(), /^not ready: vault login failed \(sealed_or_unavailable\); retrying/);
    assert.match(tollgate.output(), /"event":"vault_start_failed".*"cause":"sealed_or_unavailable"/);
    assert.equal(tollgate.child.exitCode, null, 'still running');
    assert.equal(await healthStatus(grpcPort), 'NOT_SERVING');

    vault.clearFaults();
    await tollgate.waitFor(/^tollgate ready: grpc=/m);
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await healthStatus(grpcPort), 'SERVING');
    envoy = await startEnvoy({
      bin: findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN),
      configYaml: renderEnvoyConfig(testConfig({ ...baseConfigInput(keys, `${upstream.url}/v1`, join(dir, 'unused-key')) }), {
        listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: grpcPort, caFile: DEFAULT_CA_FILE,
      }),
    });
    const r = await fetch(`http://127.0.0.1:${envoy.listenerPort}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 200, await r.text());
    assert.equal(upstream.requests.at(-1)?.headers.authorization, `Bearer ${key}`);
    assert.ok(!tollgate.output().includes(key));
  });
});
