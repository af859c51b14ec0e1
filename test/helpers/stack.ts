// The end-to-end stack: a real Envoy, `tollgate serve` as a child process, and a recording fake upstream.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig, type EnvoyRenderOptions } from '../../extproc/envoy/render.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream, type Responder } from '../../extproc/dev/fake-upstream.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { baseConfigInput, mintTestKeys, testConfig, type TestKeys } from './config.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TOLLGATE_BIN = join(PROJECT_ROOT, 'bin', 'tollgate.mjs');

export interface TollgateProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly adminPort: number;
  output(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns `tollgate serve --config FILE` under this Node and waits for its ready line. */
export async function spawnTollgate(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<TollgateProcess> {
  const child = spawn(process.execPath, [TOLLGATE_BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
  const ready = await new Promise<{ grpc: { port: number }; admin: { port: number } }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`tollgate did not become ready:\n${out}`)); }, 15_000);
    const scan = (): void => {
      const m = /^tollgate ready: grpc=\S+:(\d+) admin=\S+:(\d+) /m.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve({ grpc: { port: Number(m[1]) }, admin: { port: Number(m[2]) } });
    };
    child.stderr.on('data', scan);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`tollgate exited with ${code} before ready:\n${out}`)); });
  });
  return {
    child,
    grpcPort: ready.grpc.port,
    adminPort: ready.admin.port,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Stack {
  readonly dir: string;
  readonly keys: TestKeys;
  readonly providerKey: string;
  readonly upstream: FakeUpstream;
  readonly tollgate: TollgateProcess;
  readonly envoy: EnvoyProcess;
  readonly url: string;
  readonly auditPath: string;
  /** Parsed audit records written so far. */
  audit(): AuditRecord[];
  stop(): Promise<void>;
}

/** Starts upstream, Tollgate (child process, debug logging) and Envoy, wired together on loopback. */
export async function startStack(opts: { respond?: (providerKey: string) => Responder; tweak?: (c: ConfigInput) => ConfigInput; tollgateTls?: EnvoyRenderOptions['tollgateTls']; maxDownstreamConnections?: number } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  const keys = mintTestKeys();
  const providerKey = `sk-test-${randomBytes(18).toString('hex')}`;
  const credFile = join(dir, 'openai-key');
  writeFileSync(credFile, providerKey + '\n', { mode: 0o600 });
  const upstream = await startFakeUpstream({ respond: (opts.respond ?? openAiResponder)(providerKey) });
  const auditPath = join(dir, 'audit.jsonl');
  let input: ConfigInput = { ...baseConfigInput(keys, `${upstream.url}/v1`, credFile), audit: { sink: { type: 'file', path: auditPath } }, logging: { level: 'debug' } };
  if (opts.tweak !== undefined) input = opts.tweak(input);
  const config = testConfig(input);
  const configPath = join(dir, 'tollgate.yaml');
  writeFileSync(configPath, stringify(input));
  const tollgate = await spawnTollgate(configPath);
  let envoy: EnvoyProcess;
  try {
    envoy = await startEnvoy({
      bin: findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN),
      configYaml: renderEnvoyConfig(config, {
        listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: tollgate.grpcPort, caFile: DEFAULT_CA_FILE,
        ...(opts.tollgateTls === undefined ? {} : { tollgateTls: opts.tollgateTls }),
        ...(opts.maxDownstreamConnections === undefined ? {} : { maxDownstreamConnections: opts.maxDownstreamConnections }),
      }),
    });
  } catch (err) {
    await tollgate.stop();
    await upstream.close();
    throw err;
  }
  return {
    dir,
    keys,
    providerKey,
    upstream,
    tollgate,
    envoy,
    url: `http://127.0.0.1:${envoy.listenerPort}`,
    auditPath,
    audit: () => (existsSync(auditPath) ? readFileSync(auditPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord) : []),
    stop: async () => {
      await envoy.stop();
      await tollgate.stop();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `probe` returns true or the deadline passes. */
export async function eventually(probe: () => boolean, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What a chat completion through the stack answered: status, body, and Tollgate's error code if any. */
export interface ChatReply {
  readonly status: number;
  readonly body: string;
  readonly code: string | undefined;
}

/** One chat completion through Envoy as the caller holding `callerKey` (the agent's key by default). */
export async function chat(stack: Stack, callerKey: string = stack.keys.agent): Promise<ChatReply> {
  const r = await fetch(`${stack.url}/openai/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${callerKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = await r.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: r.status, body, code };
}

/** The sum of a metric's samples whose labels include `labels` (e.g. 'kind="login"'), from Tollgate's /metrics. */
export async function metricSum(stack: Stack, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${stack.tollgate.adminPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labels)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** The JSON log lines Tollgate printed whose "event" is `event`. */
export const logEvents = (stack: Stack, event: string): Record<string, unknown>[] =>
  stack.tollgate.output().split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
