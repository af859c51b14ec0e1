// Starting and stopping the benchmark's processes: the upstream, Tollgate replicas and one Envoy per
// set-up, all on 127.0.0.1, each stopped by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { testConfig } from '../helpers/config.ts';
import { setTollgateEndpoints, type BenchSetup, type EnvoyConfig, type SetupContext } from './setups.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOLLGATE_BIN = join(PROJECT_ROOT, 'bin', 'tollgate.mjs');
const UPSTREAM_MAIN = fileURLToPath(new URL('./upstream.ts', import.meta.url));

export interface Child {
  readonly pid: number;
  output(): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves on exit. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

function track(child: ChildProcess, what: string): { child: Child; exited: Promise<number | null>; out: () => string } {
  if (child.pid === undefined) throw new Error(`cannot start ${what}`);
  const pid = child.pid;
  let out = '';
  const collect = (b: Buffer): void => { if (out.length < 1_000_000) out += b.toString('utf8'); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let done = false;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { done = true; resolve(code); }));
  const killOnExit = (): void => { if (!done) process.kill(pid, 'SIGKILL'); };
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  return {
    exited,
    out: () => out,
    child: {
      pid,
      output: () => out,
      stop: (graceMs = 5_000) => {
        stopping ??= (async () => {
          if (!done) {
            process.kill(pid, 'SIGTERM');
            const t = setTimeout(() => { if (!done) process.kill(pid, 'SIGKILL'); }, graceMs);
            await exited;
            clearTimeout(t);
          }
          process.off('exit', killOnExit);
        })();
        return stopping;
      },
    },
  };
}

async function waitForLine(what: string, out: () => string, exited: Promise<number | null>, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const state = { gone: false };
  void exited.then(() => { state.gone = true; });
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const m = re.exec(out());
    if (m !== null) return m;
    if (state.gone) throw new Error(`${what} exited before it was ready:\n${out().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${out().slice(-3000)}`);
}

export async function startUpstream(keyFile: string): Promise<Child & { url: string }> {
  const t = track(spawn(process.execPath, [UPSTREAM_MAIN, keyFile], { stdio: ['pipe', 'pipe', 'pipe'] }), 'upstream');
  try {
    const m = await waitForLine('upstream', t.out, t.exited, /^upstream listening (\d+)$/m, 10_000);
    return { ...t.child, url: `http://127.0.0.1:${m[1]}` };
  } catch (err) {
    await t.child.stop();
    throw err;
  }
}

export interface TollgateChild extends Child {
  readonly grpcPort: number;
  readonly adminPort: number;
}

/** `tollgate serve` under this Node, with extra Node flags (e.g. --cpu-prof). */
export async function startTollgate(configPath: string, nodeFlags: readonly string[] = []): Promise<TollgateChild> {
  const t = track(spawn(process.execPath, [...nodeFlags, TOLLGATE_BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }), 'tollgate');
  try {
    const m = await waitForLine('tollgate', t.out, t.exited, /^tollgate ready: grpc=\S+:(\d+) admin=\S+:(\d+) /m, 20_000);
    return { ...t.child, grpcPort: Number(m[1]), adminPort: Number(m[2]) };
  } catch (err) {
    await t.child.stop();
    throw err;
  }
}

export interface SetupStack {
  readonly setup: BenchSetup;
  readonly envoy: EnvoyProcess;
  readonly tollgates: readonly TollgateChild[];
  readonly url: string;
  /** Tollgate RSS a second after it became ready, before any load (one value per replica). */
  readonly idleRssBytes: readonly number[];
  stop(): Promise<void>;
}

export interface StackInputs {
  readonly dir: string;
  readonly envoyBin: string;
  readonly baseConfig: ConfigInput;
  readonly ctx: SetupContext;
  /** A file holding a shared authz context key (needed with more than one replica). */
  readonly authzKeyFile: string;
  readonly tollgateNodeFlags: readonly string[];
  readonly rssOf: (pid: number) => number;
}

/** Starts a set-up's Tollgate replicas and its Envoy. */
export async function startSetup(setup: BenchSetup, inp: StackInputs): Promise<SetupStack> {
  let input: ConfigInput = { ...inp.baseConfig, audit: { sink: { type: 'file', path: join(inp.dir, `audit-${setup.name}.jsonl`) } } };
  if (setup.tollgateReplicas > 1) input = { ...input, server: { ...input.server, authzContextKey: { source: 'file', path: inp.authzKeyFile } } };
  if (setup.config !== undefined) input = setup.config(input);
  // A row's own services (e.g. an OpenBao) start first and stop last.
  const prepared = await setup.prepare?.({ dir: inp.dir, providerKey: inp.ctx.providerKey });
  const tollgates: TollgateChild[] = [];
  const stopAll = async (envoy?: EnvoyProcess): Promise<void> => {
    await envoy?.stop();
    for (const t of tollgates) await t.stop();
    await prepared?.stop();
  };
  try {
    if (prepared !== undefined) input = prepared.config(input);
    const config = testConfig(input);
    const configPath = join(inp.dir, `tollgate-${setup.name}.yaml`);
    writeFileSync(configPath, stringify(input), { mode: 0o600 });
    for (let i = 0; i < setup.tollgateReplicas; i++) tollgates.push(await startTollgate(configPath, inp.tollgateNodeFlags));
    await new Promise((r) => setTimeout(r, 1_000));
    const idleRssBytes = tollgates.map((t) => inp.rssOf(t.pid));
    const rendered = renderEnvoyConfig(config, {
      listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1',
      tollgatePort: tollgates[0]?.grpcPort ?? 1, caFile: DEFAULT_CA_FILE,
    });
    const cfg = parseYaml(rendered) as EnvoyConfig;
    if (tollgates.length > 1) setTollgateEndpoints(cfg, tollgates.map((t) => t.grpcPort));
    setup.envoy?.(cfg, inp.ctx);
    writeFileSync(join(inp.dir, `envoy-${setup.name}.yaml`), stringify(cfg), { mode: 0o600 });
    const envoy = await startEnvoy({ bin: inp.envoyBin, configYaml: stringify(cfg), concurrency: setup.envoyConcurrency ?? 1 });
    return { setup, envoy, tollgates, url: `http://127.0.0.1:${envoy.listenerPort}`, idleRssBytes, stop: () => stopAll(envoy) };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
