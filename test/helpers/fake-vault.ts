// A fault-injecting fake Vault on 127.0.0.1 (HTTP or HTTPS), for what a dev server cannot do:
// sealed 503, 429, 412, 403, slow answers, connection resets, and the aws/gcp engine shapes OpenBao
// lacks. Also a manual scheduler for driving refresh timing by hand.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Scheduler } from '../../extproc/credentials/timing.ts';

export interface Fault {
  /** Which requests: a path prefix such as "/v1/secret/" (default: every path). */
  readonly path?: string;
  readonly status?: number;
  readonly body?: unknown;
  readonly delayMs?: number;
  /** Destroy the socket without an answer. */
  readonly reset?: boolean;
  /** How many matching requests it applies to (default: until cleared). */
  times?: number;
}

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly token: string | undefined;
  readonly namespace: string | undefined;
  readonly body: unknown;
}

export interface FakeVault {
  readonly address: string;
  readonly calls: RecordedCall[];
  /** KV v2 data by "mount/path": every put adds a version. */
  kvPut(mountAndPath: string, data: Record<string, string>): number;
  /** Pushes a fault; faults are matched in order. */
  fault(f: Fault): void;
  clearFaults(): void;
  /** Issued leases still live (not revoked). */
  readonly liveLeases: ReadonlySet<string>;
  /** Lease and token TTLs, seconds. */
  leaseTtlS: number;
  tokenTtlS: number;
  /** Renewals stop extending beyond this (max TTL), seconds from issue; undefined = unlimited. */
  leaseMaxTtlS: number | undefined;
  /** The aws shape: which token field names to send. */
  awsTokenFields: readonly ('security_token' | 'session_token')[];
  /** Every AWS credential issued, by access key id: what a fake AWS service checks signatures against. */
  readonly awsIssued: ReadonlyMap<string, IssuedAwsCredential>;
  /** Lifetime of GCP access tokens (expires_at_seconds = now + this), seconds. Default 3600. */
  gcpTokenTtlS: number;
  /** Every GCP token issued, with its expiry (epoch ms): what a fake Google API checks bearer tokens against. */
  readonly gcpIssued: ReadonlyMap<string, number>;
  /** Valid client tokens; approle login mints one. The root token is always valid unless revoked. */
  readonly tokens: Set<string>;
  close(): Promise<void>;
}

export interface IssuedAwsCredential {
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Epoch ms: the lease's expiry at issue. */
  readonly expiresAt: number;
}

export interface FakeVaultOptions {
  readonly rootToken?: string;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer; readonly requestCert?: boolean };
  readonly approle?: { readonly roleId: string; readonly secretId: string };
  readonly now?: () => number;
}

const readBody = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

export async function startFakeVault(options: FakeVaultOptions = {}): Promise<FakeVault> {
  const root = options.rootToken ?? 'fake-root-token';
  const now = options.now ?? Date.now;
  const kv = new Map<string, { version: number; data: Record<string, string> }[]>();
  const faults: Fault[] = [];
  const leases = new Map<string, { issuedAt: number; expiresAt: number }>();
  const live = new Set<string>();
  const calls: RecordedCall[] = [];
  const tokens = new Set<string>([root]);
  let seq = 0;
  const sockets = new Set<Socket>();
  const awsIssued = new Map<string, IssuedAwsCredential>();
  const gcpIssued = new Map<string, number>();
  // Random per issue, so tests can grep output for values that were never printed anywhere.
  const rand = (): string => randomBytes(12).toString('hex');

  const state = {
    leaseTtlS: 3600,
    tokenTtlS: 3600,
    leaseMaxTtlS: undefined as number | undefined,
    awsTokenFields: ['security_token'] as readonly ('security_token' | 'session_token')[],
    gcpTokenTtlS: 3600,
  };

  const send = (res: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  const error = (res: ServerResponse, status: number, msg: string): void => { send(res, status, { errors: [msg] }); };
  const lease = (prefix: string): { lease_id: string; lease_duration: number; renewable: boolean } => {
    const id = `${prefix}/${(++seq).toString(36)}x${Math.random().toString(36).slice(2, 10)}`;
    leases.set(id, { issuedAt: now(), expiresAt: now() + state.leaseTtlS * 1000 });
    live.add(id);
    return { lease_id: id, lease_duration: state.leaseTtlS, renewable: true };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const body = await readBody(req);
    const token = req.headers['x-vault-token'] as string | undefined;
    calls.push({ method: req.method ?? '', path: `${path}${url.search}`, token, namespace: req.headers['x-vault-namespace'] as string | undefined, body });

    const f = faults.find((x) => x.path === undefined || path.startsWith(x.path));
    if (f !== undefined) {
      if (f.times !== undefined && --f.times <= 0) faults.splice(faults.indexOf(f), 1);
      if (f.delayMs !== undefined) await new Promise((r) => setTimeout(r, f.delayMs));
      if (f.reset === true) {
        req.socket.destroy();
        return;
      }
      if (f.status !== undefined) {
        send(res, f.status, f.body ?? { errors: [f.status === 503 ? 'Vault is sealed' : `injected ${f.status}`] });
        return;
      }
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;

    if (path === '/v1/sys/health') { send(res, 200, { initialized: true, sealed: false }); return; }
    if (path === '/v1/auth/approle/login') {
      if (options.approle === undefined || b.role_id !== options.approle.roleId || b.secret_id !== options.approle.secretId) { error(res, 400, 'invalid role or secret ID'); return; }
      const t = `hvs.CAESfake${(++seq).toString().padStart(4, '0')}${Math.random().toString(36).slice(2, 14)}`;
      tokens.add(t);
      send(res, 200, { data: null, auth: { client_token: t, accessor: `acc-${seq}`, lease_duration: state.tokenTtlS, renewable: true, policies: ['default'] } }); return;
    }
    if (token === undefined || !tokens.has(token)) { error(res, 403, 'permission denied'); return; }
    if (path === '/v1/auth/token/lookup-self') { send(res, 200, { data: { ttl: token === root ? 0 : state.tokenTtlS, renewable: token !== root, policies: ['default'] } }); return; }
    if (path === '/v1/auth/token/renew-self') { send(res, 200, { auth: { client_token: token, lease_duration: state.tokenTtlS, renewable: true } }); return; }
    if (path === '/v1/auth/token/revoke-self') {
      tokens.delete(token);
      send(res, 204); return;
    }
    if (path === '/v1/sys/leases/renew') {
      const id = String(b.lease_id);
      const l = leases.get(id);
      if (l === undefined || !live.has(id) || l.expiresAt <= now()) { error(res, 400, 'lease not found or lease is not renewable'); return; }
      let ttl = state.leaseTtlS;
      if (state.leaseMaxTtlS !== undefined) ttl = Math.max(0, Math.min(ttl, Math.floor((l.issuedAt + state.leaseMaxTtlS * 1000 - now()) / 1000)));
      l.expiresAt = now() + ttl * 1000;
      send(res, 200, { lease_id: id, lease_duration: ttl, renewable: true }); return;
    }
    if (path === '/v1/sys/leases/revoke') {
      live.delete(String(b.lease_id));
      send(res, 204); return;
    }
    if (path.startsWith('/v1/sys/leases/revoke/')) {
      live.delete(decodeURIComponent(path.slice('/v1/sys/leases/revoke/'.length)));
      send(res, 204); return;
    }
    const kvm = /^\/v1\/(.+?)\/data\/(.+)$/.exec(path);
    if (kvm !== null && req.method === 'GET') {
      const versions = kv.get(`${kvm[1] ?? ''}/${kvm[2] ?? ''}`);
      if (versions === undefined) { error(res, 404, ''); return; }
      const want = url.searchParams.get('version');
      const v = want === null ? versions.at(-1) : versions.find((x) => x.version === Number(want));
      if (v === undefined) { error(res, 404, ''); return; }
      send(res, 200, { lease_id: '', lease_duration: 0, renewable: false, data: { data: v.data, metadata: { version: v.version, created_time: new Date().toISOString(), destroyed: false } } }); return;
    }
    const leasedm = /^\/v1\/leased\/(.+)$/.exec(path);
    if (leasedm !== null) { send(res, 200, { ...lease(`leased/${leasedm[1] ?? ''}`), data: { api_key: `leased-key-${seq}` } }); return; }
    const awsm = /^\/v1\/aws\/(creds|sts)\/([^/]+)$/.exec(path);
    if (awsm !== null) {
      const tok = `FwoGZXIvYXdzEJr-session-${++seq}-${rand()}`;
      const fields = Object.fromEntries(state.awsTokenFields.map((k) => [k, tok]));
      const sts = awsm[1] === 'sts';
      const l = sts ? { lease_id: `aws/sts/${awsm[2] ?? ''}/${seq}`, lease_duration: state.leaseTtlS, renewable: false } : lease(`aws/creds/${awsm[2] ?? ''}`);
      if (sts) { leases.set(l.lease_id, { issuedAt: now(), expiresAt: now() + state.leaseTtlS * 1000 }); live.add(l.lease_id); }
      const accessKey = `AKIAFAKE${seq.toString().padStart(4, '0')}${rand().slice(0, 8).toUpperCase()}`;
      const secretKey = `fake-aws-secret-${seq}-${rand()}`;
      awsIssued.set(accessKey, { secretAccessKey: secretKey, sessionToken: tok, expiresAt: now() + state.leaseTtlS * 1000 });
      send(res, 200, { ...l, data: { access_key: accessKey, secret_key: secretKey, ...fields } }); return;
    }
    const gcpm = /^\/v1\/gcp\/(roleset|static-account)\/([^/]+)\/token$/.exec(path);
    if (gcpm !== null) {
      const tokenValue = `ya29.fake-gcp-${++seq}-${rand()}`;
      const expiresAtS = Math.floor(now() / 1000) + state.gcpTokenTtlS;
      gcpIssued.set(tokenValue, expiresAtS * 1000);
      send(res, 200, { lease_id: '', lease_duration: 0, renewable: false, data: { token: tokenValue, expires_at_seconds: expiresAtS, token_ttl: state.gcpTokenTtlS - 1 } }); return;
    }
    error(res, 404, `no handler for ${path}`);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => { res.destroy(); });
  };
  const server: Server = options.tls === undefined
    ? createHttpServer(listener)
    : createHttpsServer({ cert: options.tls.cert, key: options.tls.key, ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }), requestCert: options.tls.requestCert ?? false, rejectUnauthorized: options.tls.requestCert ?? false }, listener);
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('secureConnection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    address: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    calls,
    tokens,
    liveLeases: live,
    get leaseTtlS() { return state.leaseTtlS; },
    set leaseTtlS(v) { state.leaseTtlS = v; },
    get tokenTtlS() { return state.tokenTtlS; },
    set tokenTtlS(v) { state.tokenTtlS = v; },
    get leaseMaxTtlS() { return state.leaseMaxTtlS; },
    set leaseMaxTtlS(v) { state.leaseMaxTtlS = v; },
    get awsTokenFields() { return state.awsTokenFields; },
    set awsTokenFields(v) { state.awsTokenFields = v; },
    awsIssued,
    get gcpTokenTtlS() { return state.gcpTokenTtlS; },
    set gcpTokenTtlS(v) { state.gcpTokenTtlS = v; },
    gcpIssued,
    kvPut(mountAndPath, data) {
      const versions = kv.get(mountAndPath) ?? [];
      const version = versions.length + 1;
      versions.push({ version, data });
      kv.set(mountAndPath, versions);
      return version;
    },
    fault: (f) => { faults.push(f); },
    clearFaults: () => { faults.length = 0; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => { resolve(); });
    }),
  };
}

/** Lets pending promise chains (and I/O callbacks already queued) run. */
export const settle = async (rounds = 5): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => { setImmediate(r); });
};

export interface ManualScheduler extends Scheduler {
  /** Moves time forward, running each due timer at its due time and letting its promises settle. */
  advance(ms: number): Promise<void>;
  /** Delays of the timers pending now, relative to now. */
  pending(): number[];
  set(t: number): void;
}

export function manualScheduler(start = 1_000_000): ManualScheduler {
  let t = start;
  let id = 0;
  const timers = new Map<number, { due: number; fn: () => void }>();
  return {
    now: () => t,
    schedule(fn, delayMs) {
      const k = ++id;
      timers.set(k, { due: t + Math.max(0, delayMs), fn });
      return () => { timers.delete(k); };
    },
    async advance(ms) {
      const target = t + ms;
      for (;;) {
        let next: [number, { due: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].due <= target && (next === undefined || e[1].due < next[1].due)) next = e;
        if (next === undefined) break;
        timers.delete(next[0]);
        t = Math.max(t, next[1].due);
        next[1].fn();
        await settle();
      }
      t = target;
      await settle();
    },
    pending: () => [...timers.values()].map((x) => x.due - t).sort((a, b) => a - b),
    set(v) { t = v; },
  };
}
