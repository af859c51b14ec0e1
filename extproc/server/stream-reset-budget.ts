// Envoy ends every ext_proc side stream with RST_STREAM (ADR 0006: the graceful half-close is off, because
// it crashed Envoy 1.40 on long-paused streams). Node's HTTP/2 server (nghttp2) limits incoming resets to a
// burst of 1000 and then 33 per second, and past that closes the connection with every request in flight
// on it: at a few hundred requests per second that limit trips within seconds. One reset per finished
// request is Envoy's normal behaviour, not an attack, and the gRPC port must be reachable by Envoy only
// (docs/security-model.md), so the budget is raised to well above what one replica serves.
import type { Server } from '@grpc/grpc-js';

/** Resets per second (and burst) Tollgate's gRPC server accepts: one per ext_proc stream Envoy ends. */
export const STREAM_RESET_BUDGET = Object.freeze({ burst: 20_000, perSecond: 20_000 });

interface Http2ResetOptions {
  streamResetBurst?: number;
  streamResetRate?: number;
}

/**
 * Raises the HTTP/2 stream-reset budget of a grpc-js server, before it binds. grpc-js 1.14 has no channel
 * option for it, so this sets Node's `streamResetBurst` and `streamResetRate` on the options grpc-js passes
 * to `http2.createServer`; if grpc-js no longer has them, start-up fails rather than running without.
 */
export function raiseStreamResetBudget(server: Server): void {
  const options = (server as unknown as { commonServerOptions?: Http2ResetOptions }).commonServerOptions;
  if (typeof options !== 'object') throw new Error('grpc-js has no commonServerOptions: cannot raise the HTTP/2 stream reset budget (see ADR 0006)');
  options.streamResetBurst = STREAM_RESET_BUDGET.burst;
  options.streamResetRate = STREAM_RESET_BUDGET.perSecond;
}
