import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { presentsAdminToken } from './admin-token.ts';
import { handleKillSwitch, type KillSwitchAdmin } from './kill-switch-http.ts';

/** The forced credential refresh: re-read every cached credential (and vault.auth.tokenFile). Same token as the kill switch. */
export interface CredentialRefresh {
  readonly token: Buffer;
  refresh(): Promise<{ refreshed: number; failed: number; forgotten: number }>;
  onCall(accepted: boolean): void;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * /healthz (alive), /readyz (serving and not draining, with the reason when not), /metrics (Prometheus),
 * and, only when an admin token is configured, the kill switch's API under /admin/kill-switch
 * (kill-switch-http.ts) and POST /admin/credentials/refresh.
 */
export async function startAdminServer(opts: {
  host: string; port: number; registry: Registry; ready: () => boolean; notReadyReason?: () => string | undefined; revision?: () => string; killSwitch?: KillSwitchAdmin; credentialRefresh?: CredentialRefresh;
}): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const cr = opts.credentialRefresh;
    if (cr !== undefined && path === '/admin/credentials/refresh') {
      const accepted = req.method === 'POST' && presentsAdminToken(req, cr.token);
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
    if (opts.killSwitch !== undefined && handleKillSwitch(req, res, path, opts.killSwitch)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, 'method not allowed\n');
      return;
    }
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
