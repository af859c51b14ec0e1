import { createCheckHandler } from './authz/check-handler.ts';
import type { Env } from './config/env.ts';
import { buildRuntime, type Runtime } from './config/runtime.ts';
import type { Config } from './config/schema.ts';
import { createProcessHandler } from './processing/stream-handler.ts';
import { startAdminServer, type AdminServer } from './server/admin-http.ts';
import { startGrpcServer, type GrpcServer } from './server/grpc-server.ts';
import { MemoryStateStore } from './state/state-store.ts';
import { createAuditSink, type AuditSink } from './telemetry/audit.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { createMetrics, type Metrics } from './telemetry/metrics.ts';

/** Room for headers, metadata and framing on top of the largest body a gRPC message carries. */
const GRPC_MESSAGE_HEADROOM_BYTES = 256 * 1024;

export interface AppOptions {
  readonly env: Env;
  readonly logger?: Logger;
  readonly audit?: AuditSink;
}

export interface Listening {
  readonly grpc: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number };
}

export interface App {
  readonly runtime: Runtime;
  readonly logger: Logger;
  readonly metrics: Metrics;
  start(): Promise<Listening>;
  /** Graceful stop: NOT_SERVING, drain, shut down with a deadline, flush audit. Idempotent. */
  stop(options?: { drainMs?: number }): Promise<void>;
}

/** The composition root: config → runtime → servers. */
export function createApp(config: Config, options: AppOptions): App {
  const logger = options.logger ?? createLogger(config.logging.level);
  const runtime = buildRuntime(config, options.env);
  const audit = options.audit ?? createAuditSink(config.audit.sink);
  const metrics = createMetrics();
  let grpc: GrpcServer | undefined;
  let admin: AdminServer | undefined;
  let ready = false;
  let stopping: Promise<void> | undefined;

  const state = new MemoryStateStore();
  const deps = { runtime: () => runtime, state, audit, metrics, logger };

  return {
    runtime,
    logger,
    metrics,
    async start() {
      const limits = config.limits;
      grpc = await startGrpcServer({
        host: config.server.grpc.host,
        port: config.server.grpc.port,
        ...(runtime.grpcTls === undefined ? {} : { tls: runtime.grpcTls }),
        maxMessageBytes: Math.max(limits.maxRequestBodyBytes, limits.maxResponseBodyBytes) + GRPC_MESSAGE_HEADROOM_BYTES,
        check: createCheckHandler(deps),
        process: createProcessHandler(deps),
      });
      admin = await startAdminServer({ host: config.server.admin.host, port: config.server.admin.port, registry: metrics.registry, ready: () => ready });
      ready = true;
      const listening = { grpc: { host: config.server.grpc.host, port: grpc.port }, admin: { host: config.server.admin.host, port: admin.port } };
      logger.info({ grpc: listening.grpc, admin: listening.admin, policy_revision: runtime.policyRevision, providers: [...runtime.providers.keys()] }, 'tollgate ready');
      return listening;
    },
    stop(stopOptions) {
      stopping ??= (async () => {
        ready = false;
        grpc?.setServing(false);
        const drainMs = stopOptions?.drainMs ?? config.server.drainSeconds * 1000;
        if (drainMs > 0) {
          logger.info({ drain_ms: drainMs }, 'draining');
          await new Promise((r) => setTimeout(r, drainMs));
        }
        await grpc?.stop(config.server.shutdownGraceSeconds * 1000);
        await admin?.close();
        await runtime.credentials.close();
        await state.close();
        await audit.flush();
        logger.info('tollgate stopped');
        await new Promise<void>((resolve) => { logger.flush(() => { resolve(); }); });
      })();
      return stopping;
    },
  };
}
