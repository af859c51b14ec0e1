import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Registry } from 'prom-client';

/** The kill switch: revoke every lease an identity holds and deny it until re-enabled. */
export interface KillSwitch {
  /** The bearer token an operator must present (compared by SHA-256, constant time). */
  readonly token: Buffer;
  revoke(tenant: string, identity: string): Promise<{ revoked: number }>;
  enable(tenant: string, identity: string): void;
  /** Audit hook: every call, accepted or not, is logged by the caller. */
  onCall(event: { action: string; tenant: string; identity: string; accepted: boolean }): void;
}

/** The forced credential refresh: re-read every cached credential (and vault.auth.tokenFile). Same token as the kill switch. */
export interface CredentialRefresh {
  readonly token: Buffer;
  refresh(): Promise<{ refreshed: number; failed: number; forgotten: number }>;
  onCall(accepted: boolean): void;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * /healthz (alive), /readyz (serving and not draining), /metrics (Prometheus), and, only when a kill
 * switch is configured, POST /admin/identities/{tenant}/{identity}/(revoke|enable) with its bearer token.
 */
export async function startAdminServer(opts: {
  host: string; port: number; registry: Registry; ready: () => boolean; notReadyReason?: () => string | undefined; revision?: () => string; killSwitch?: KillSwitch; credentialRefresh?: CredentialRefresh;
}): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    const cr = opts.credentialRefresh;
    if (cr !== undefined && (req.url ?? '').split('?', 1)[0] === '/admin/credentials/refresh') {
      const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      const accepted = req.method === 'POST' && presented !== undefined && timingSafeEqual(digest(Buffer.from(presented)), digest(cr.token));
      cr.onCall(accepted);
      if (!accepted) {
        reply(req.method === 'POST' ? 401 : 405, req.method === 'POST' ? 'unauthorized\n' : 'method not allowed\n');
        return;
      }
      cr.refresh().then(
        (r) => { reply(200, JSON.stringify(r) + '\n', 'application/json'); },
        () => { reply(500, 'refresh failed\n'); },
      );
      return;
    }
    const ks = opts.killSwitch;
    const m = /^\/admin\/identities\/([^/]+)\/([^/]+)\/(revoke|enable)$/.exec((req.url ?? '').split('?', 1)[0] ?? '');
    if (m !== null && ks !== undefined) {
      const [, tenant = '', identity = '', action = ''] = m;
      const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      const accepted = req.method === 'POST' && presented !== undefined && SEGMENT.test(tenant) && SEGMENT.test(identity)
        && timingSafeEqual(digest(Buffer.from(presented)), digest(ks.token));
      ks.onCall({ action, tenant: SEGMENT.test(tenant) ? tenant : '(invalid)', identity: SEGMENT.test(identity) ? identity : '(invalid)', accepted });
      if (!accepted) {
        reply(req.method === 'POST' ? 401 : 405, req.method === 'POST' ? 'unauthorized\n' : 'method not allowed\n');
        return;
      }
      if (action === 'enable') {
        ks.enable(tenant, identity);
        reply(200, JSON.stringify({ tenant, identity, enabled: true }) + '\n', 'application/json');
        return;
      }
      ks.revoke(tenant, identity).then(
        (r) => { reply(200, JSON.stringify({ tenant, identity, disabled: true, revoked_leases: r.revoked }) + '\n', 'application/json'); },
        () => { reply(500, 'revocation failed; the identity is disabled\n'); },
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, 'method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/healthz') reply(200, 'ok\n');
    else if (path === '/readyz') {
      const revision = opts.revision === undefined ? '' : ` policy_revision=${opts.revision()}`;
      const why = opts.ready() ? undefined : opts.notReadyReason?.();
      reply(opts.ready() ? 200 : 503, `${opts.ready() ? 'ready' : 'not ready'}${why === undefined ? '' : `: ${why}`}${revision}\n`);
    }
    else if (path === '/metrics')
      opts.registry.metrics().then(
        (text) => { reply(200, text, opts.registry.contentType); },
        () => { reply(500, 'metrics unavailable\n'); },
      );
    else reply(404, 'not found\n');
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}
