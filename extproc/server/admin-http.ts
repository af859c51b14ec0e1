import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { handleKillSwitch, type KillSwitchAdmin } from './kill-switch-http.ts';

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * /healthz (alive), /readyz (serving and not draining), /metrics (Prometheus), and, only when a kill
 * switch is configured, its API under /admin/kill-switch (kill-switch-http.ts).
 */
export async function startAdminServer(opts: { host: string; port: number; registry: Registry; ready: () => boolean; revision?: () => string; killSwitch?: KillSwitchAdmin }): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (opts.killSwitch !== undefined && handleKillSwitch(req, res, path, opts.killSwitch)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, 'method not allowed\n');
      return;
    }
    if (path === '/healthz') reply(200, 'ok\n');
    else if (path === '/readyz') {
      const revision = opts.revision === undefined ? '' : ` policy_revision=${opts.revision()}`;
      reply(opts.ready() ? 200 : 503, `${opts.ready() ? 'ready' : 'not ready'}${revision}\n`);
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
