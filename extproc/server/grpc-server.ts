import { Server, ServerCredentials, status, type ChannelOptions, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatusMap } from 'grpc-health-check';
import type { CheckRequest, CheckResponse } from '../wire/ext-authz.ts';
import { envoyServices } from '../wire/proto.ts';
import type { ProcessCall } from '../processing/stream-handler.ts';
import { raiseStreamResetBudget } from './stream-reset-budget.ts';

export const AUTHZ_SERVICE = 'envoy.service.auth.v3.Authorization';
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

/** The TLS context grpc-js gives a call (peer certificate and whether it was verified). */
export type PeerAuthContext = ReturnType<ServerUnaryCall<unknown, unknown>['getAuthContext']>;

export interface GrpcServerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM material for mTLS; without it the port is plaintext and must stay private. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa: Buffer };
  /** The largest message either side may send: the body limit plus room for headers and framing. */
  readonly maxMessageBytes: number;
  /** The HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
  /**
   * Turns every failure into a deny itself; a throw or rejection here is a bug and answers INTERNAL.
   * `peerTrusted`: the call came from a client whose word on the caller's certificate counts (Envoy).
   */
  readonly check: (req: CheckRequest, peerTrusted: boolean) => CheckResponse | Promise<CheckResponse>;
  readonly process: (call: ProcessCall) => void;
  /** Called for every Check with the peer's TLS context; false answers PERMISSION_DENIED. */
  readonly authorizePeer?: (ctx: PeerAuthContext) => boolean;
  /** Whether a Check's source.principal, source.certificate and XFCC may be believed from this peer; unset: never. */
  readonly peerClaimsTrusted?: (ctx: PeerAuthContext) => boolean;
}

export interface GrpcServer {
  readonly port: number;
  setServing(serving: boolean): void;
  /** Graceful shutdown with a deadline, then force. */
  stop(graceMs: number): Promise<void>;
}

/**
 * grpc-js server options. Channelz is off: it is a debugging registry that Tollgate does not serve,
 * and with it on grpc-js takes a slower per-stream path (call counters, per-session child tracking,
 * traces) for every Check and Process call. Measured in ADR 0004. `grpc.max_concurrent_streams` is
 * HTTP/2's per-connection stream limit: one client connection cannot hold more streams open than that.
 */
export function grpcServerOptions(maxMessageBytes: number, maxConcurrentStreams: number): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.enable_channelz': 0,
    'grpc.max_concurrent_streams': maxConcurrentStreams,
  };
}

function credentialsFor(tls: GrpcServerOptions['tls']): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  // checkClientCertificate: a client without a certificate signed by clientCa fails the handshake.
  return ServerCredentials.createSsl(tls.clientCa, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServer> {
  const server = new Server(grpcServerOptions(opts.maxMessageBytes, opts.maxConcurrentStreams));
  raiseStreamResetBudget(server);
  const services = envoyServices();
  server.addService(services.authorization, {
    Check: (call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) => {
      // With mTLS and an allow-list of clients, only Envoy's own certificate may ask for a decision.
      const ctx = call.getAuthContext();
      if (opts.authorizePeer !== undefined && !opts.authorizePeer(ctx)) {
        callback({ code: status.PERMISSION_DENIED, details: 'tollgate_peer_not_allowed' });
        return;
      }
      const peerTrusted = opts.peerClaimsTrusted?.(ctx) ?? false;
      // The check handler turns every failure into a deny; this guard only catches a bug in that.
      let answer: CheckResponse | Promise<CheckResponse>;
      try {
        answer = opts.check(call.request, peerTrusted);
      } catch {
        callback({ code: status.INTERNAL, details: 'tollgate_internal' });
        return;
      }
      if (!(answer instanceof Promise)) {
        callback(null, answer);
        return;
      }
      answer.then(
        (res) => { callback(null, res); },
        () => { callback({ code: status.INTERNAL, details: 'tollgate_internal' }); },
      );
    },
  });
  server.addService(services.externalProcessor, { Process: opts.process });

  const statusMap: ServingStatusMap = { '': 'SERVING', [AUTHZ_SERVICE]: 'SERVING', [EXT_PROC_SERVICE]: 'SERVING' };
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    const address = opts.host.startsWith('unix:') ? opts.host : `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
    server.bindAsync(address, credentialsFor(opts.tls), (err, bound) => {
      if (err === null) resolve(bound);
      else reject(err);
    });
  });

  return {
    port,
    setServing(serving) {
      const s = serving ? 'SERVING' : 'NOT_SERVING';
      for (const name of Object.keys(statusMap)) health.setStatus(name, s);
    },
    stop(graceMs) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
        server.tryShutdown(() => { clearTimeout(timer); resolve(); });
      });
    },
  };
}
