// Starting and stopping the benchmark's processes: the upstream, the service replicas (Tollgate, or the
// no-op floor) and one Envoy per set-up, all on 127.0.0.1, each stopped by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import type { Config, ConfigInput } from '../../extproc/config/schema.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { testConfig } from '../helpers/config.ts';
import type { FloorMetadata } from './floor-service.ts';
import { setTollgateEndpoints, type BenchSetup, type EnvoyConfig, type FloorStack, type SetupContext } from './setups.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOLLGATE_BIN = join(PROJECT_ROOT, 'bin', 'tollgate.mjs');
const UPSTREAM_MAIN = fileURLToPath(new URL('./upstream.ts', import.meta.url));
const FLOOR_MAIN = fileURLToPath(new URL('./floor-service.ts', import.meta.url));
const CONNECT_FLOOR_MAIN = fileURLToPath(new URL('./floor-connect-service.ts', import.meta.url));
const PROBE_MODULE = fileURLToPath(new URL('./probe.ts', import.meta.url));

/**
 * The heap flags `tollgate serve` runs with (HEAP_FLAGS in bin/tollgate.mjs; a unit test keeps the two
 * equal). The harness gives them to Tollgate and to the floor alike, so both run on the same heap; with
 * them on the command line, bin/tollgate.mjs does not re-execute itself.
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=96'];

/** Room for headers and framing above the body limit in the gRPC message limit (GRPC_MESSAGE_HEADROOM_BYTES in extproc/app.ts). */
export const GRPC_MESSAGE_HEADROOM_BYTES = 256 * 1024;

/** The gRPC message limit `tollgate serve` sets for a config (extproc/app.ts), which the floor sets too. */
export function serveMaxMessageBytes(config: Config): number {
  return Math.max(config.limits.maxRequestBodyBytes, config.limits.maxResponseBodyBytes) + GRPC_MESSAGE_HEADROOM_BYTES;
}

/** Node flags that preload the bench probe (test/bench/probe.ts) into a service process. */
export const PROBE_NODE_FLAGS: readonly string[] = ['--import', PROBE_MODULE];

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

/** A process in the `tollgate` cluster: Tollgate itself, or the floor. */
export interface ServiceChild extends Child {
  readonly grpcPort: number;
  /** Tollgate's admin port (/metrics); undefined for the floor. */
  readonly adminPort: number | undefined;
  /** The bench probe's port; undefined when the process runs without it. */
  readonly probePort: number | undefined;
}

/**
 * Tollgate and the floor both read the compile cache `serve` uses (bin/tollgate.mjs): named in the environment
 * so that it is on before the probe (a TypeScript module preloaded with --import) is loaded, or that module
 * alone would bring the type stripper back into both.
 */
const SERVICE_ENV: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(PROJECT_ROOT, '.cache', 'node-compile') };

async function startService(what: string, args: readonly string[], ready: RegExp, withProbe: boolean): Promise<{ t: ReturnType<typeof track>; m: RegExpExecArray; probePort: number | undefined }> {
  const t = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: SERVICE_ENV }), what);
  try {
    const m = await waitForLine(what, t.out, t.exited, ready, 20_000);
    // The probe listens while the service starts; its line may still be on its way.
    const p = withProbe ? await waitForLine(`${what} probe`, t.out, t.exited, /^bench probe listening (\d+)$/m, 5_000) : undefined;
    return { t, m, probePort: p === undefined ? undefined : Number(p[1]) };
  } catch (err) {
    await t.child.stop();
    throw err;
  }
}

/** `tollgate serve` under this Node, with serve's heap flags (or `heapFlags`), the probe and extra Node flags (e.g. --cpu-prof). */
export async function startTollgate(configPath: string, nodeFlags: readonly string[] = [], withProbe = true, heapFlags: readonly string[] = SERVE_NODE_FLAGS): Promise<ServiceChild> {
  const args = [...heapFlags, ...(withProbe ? PROBE_NODE_FLAGS : []), ...nodeFlags, TOLLGATE_BIN, 'serve', '--config', configPath];
  const { t, m, probePort } = await startService('tollgate', args, /^tollgate ready: grpc=\S+:(\d+) admin=\S+:(\d+) /m, withProbe);
  return { ...t.child, grpcPort: Number(m[1]), adminPort: Number(m[2]), probePort };
}

export interface FloorInputs {
  readonly keyFile: string;
  readonly maxMessageBytes: number;
  readonly metadata: FloorMetadata;
  /** Default 'grpc-js'. */
  readonly stack?: FloorStack;
}

/** The no-op floor (test/bench/floor-service.ts, or floor-connect-service.ts) with the same Node flags as Tollgate gets. */
export async function startFloor(inp: FloorInputs, nodeFlags: readonly string[] = [], withProbe = true, heapFlags: readonly string[] = SERVE_NODE_FLAGS): Promise<ServiceChild> {
  if (inp.stack === 'connect' && inp.metadata !== 'none') throw new Error('the connect floor answers without metadata only');
  const main = inp.stack === 'connect' ? [CONNECT_FLOOR_MAIN] : [FLOOR_MAIN, '--metadata', inp.metadata];
  const args = [...heapFlags, ...(withProbe ? PROBE_NODE_FLAGS : []), ...nodeFlags, ...main, '--key-file', inp.keyFile, '--max-message-bytes', String(inp.maxMessageBytes)];
  const { t, m, probePort } = await startService('floor', args, /^floor ready: grpc=\S+:(\d+)$/m, withProbe);
  return { ...t.child, grpcPort: Number(m[1]), adminPort: undefined, probePort };
}

export interface SetupStack {
  readonly setup: BenchSetup;
  readonly envoy: EnvoyProcess;
  /** The processes of the `tollgate` cluster: Tollgate replicas, or the floor's. */
  readonly services: readonly ServiceChild[];
  readonly url: string;
  /** Service RSS a second after it became ready, before any load (one value per replica). */
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
  /** Extra Node flags for every service process (Tollgate or floor), e.g. --cpu-prof. */
  readonly serviceNodeFlags: readonly string[];
  /** V8 heap flags for every service process instead of serve's (bench --heap-flags); default SERVE_NODE_FLAGS. */
  readonly heapFlags?: readonly string[];
  /** The provider key file the floor reads (Tollgate reads its own from the config). */
  readonly providerKeyFile: string;
  readonly rssOf: (pid: number) => number;
}

/**
 * Starts a set-up's service replicas and its Envoy. A floor row validates and renders the same Tollgate
 * config as a Tollgate row, so its Envoy is the same; only the process behind the cluster differs.
 */
export async function startSetup(setup: BenchSetup, inp: StackInputs): Promise<SetupStack> {
  let input: ConfigInput = { ...inp.baseConfig, audit: { sink: { type: 'file', path: join(inp.dir, `audit-${setup.name}.jsonl`) } } };
  if (setup.tollgateReplicas > 1) input = { ...input, server: { ...input.server, authzContextKey: { source: 'file', path: inp.authzKeyFile } } };
  if (setup.config !== undefined) input = setup.config(input);
  // A row's own services (e.g. an OpenBao) start first and stop last.
  const prepared = await setup.prepare?.({ dir: inp.dir, providerKey: inp.ctx.providerKey });
  const services: ServiceChild[] = [];
  const stopAll = async (envoy?: EnvoyProcess): Promise<void> => {
    await envoy?.stop();
    for (const t of services) await t.stop();
    await prepared?.stop();
  };
  try {
    if (prepared !== undefined) input = prepared.config(input);
    const config = testConfig(input);
    const configPath = join(inp.dir, `tollgate-${setup.name}.yaml`);
    writeFileSync(configPath, stringify(input), { mode: 0o600 });
    const floor = setup.floor;
    for (let i = 0; i < setup.tollgateReplicas; i++) {
      services.push(floor === undefined
        ? await startTollgate(configPath, inp.serviceNodeFlags, true, inp.heapFlags)
        : await startFloor({ keyFile: inp.providerKeyFile, maxMessageBytes: serveMaxMessageBytes(config), metadata: floor.metadata, ...(floor.stack === undefined ? {} : { stack: floor.stack }) }, inp.serviceNodeFlags, true, inp.heapFlags));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const idleRssBytes = services.map((t) => inp.rssOf(t.pid));
    const rendered = renderEnvoyConfig(config, {
      listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1',
      tollgatePort: services[0]?.grpcPort ?? 1, caFile: DEFAULT_CA_FILE,
    });
    const cfg = parseYaml(rendered) as EnvoyConfig;
    if (services.length > 1) setTollgateEndpoints(cfg, services.map((t) => t.grpcPort));
    setup.envoy?.(cfg, inp.ctx);
    writeFileSync(join(inp.dir, `envoy-${setup.name}.yaml`), stringify(cfg), { mode: 0o600 });
    const envoy = await startEnvoy({ bin: inp.envoyBin, configYaml: stringify(cfg), concurrency: setup.envoyConcurrency ?? 1 });
    return { setup, envoy, services, url: `http://127.0.0.1:${envoy.listenerPort}`, idleRssBytes, stop: () => stopAll(envoy) };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
