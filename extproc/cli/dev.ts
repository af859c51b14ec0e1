import { createServer } from 'node:net';
import { createApp, isLoopback, peerTrustProblem, type App } from '../app.ts';
import { ConfigError } from '../config/load.ts';
import { envoyBinFromEnv, snapshotEnv } from '../config/env.ts';
import type { Config } from '../config/schema.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig, type EnvoyRenderOptions } from '../envoy/render.ts';
import { EnvoyPortInUseError, findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../dev/envoy-process.ts';
import type { Running } from './running.ts';
import { watchPolicy } from './watch-policy.ts';

export interface DevStack {
  readonly app: App;
  readonly envoy: EnvoyProcess;
  readonly url: string;
  /** Resolves with Envoy's exit code if Envoy exits on its own; never after stop(). */
  readonly died: Promise<number | null>;
  stop(): Promise<void>;
}

/** Tollgate in-process and a real Envoy in front of it, on loopback. */
export interface DevOptions {
  readonly port: number;
  readonly caFile?: string;
  readonly tollgateTls?: EnvoyRenderOptions['tollgateTls'];
  /** Downstream mTLS on the listener (the URL becomes https). */
  readonly listenerTls?: EnvoyRenderOptions['listenerTls'];
  readonly envoyLogLevel?: string;
}

const LISTEN_HOST = '127.0.0.1';

/**
 * Fails with EnvoyPortInUseError if `host:port` cannot be bound, before anything is started. Envoy's
 * listener refuses a busy port too (`enable_reuse_port: false` in the template); this check gives the
 * same clear error without starting Tollgate first. Port 0 (any free port) needs no check.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new EnvoyPortInUseError(`${host}:${port}`) : err);
    });
    server.listen({ host, port, exclusive: true }, () => { resolve(); });
  });
  await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
}

/**
 * `dev` is a loopback tool: with SPIFFE callers (identity.mtls) and a gRPC port that does not
 * authenticate Envoy, it sets server.grpc.trustUnauthenticatedPeers, which Tollgate logs as a warning
 * at start, rather than refusing as `serve` does. Beyond loopback it refuses like `serve`.
 */
export function devConfig(config: Config): Config {
  const problem = peerTrustProblem(config);
  if (problem === undefined) return config;
  const host = config.server.grpc.host;
  if (!host.startsWith('unix:') && !isLoopback(host)) throw new ConfigError(problem);
  return { ...config, server: { ...config.server, grpc: { ...config.server.grpc, trustUnauthenticatedPeers: true } } };
}

export async function startDevStack(input: Config, opts: DevOptions): Promise<DevStack> {
  const config = devConfig(input);
  const bin = findEnvoyBinary(envoyBinFromEnv());
  await assertPortFree(LISTEN_HOST, opts.port);
  const app = createApp(config, { env: snapshotEnv() });
  const listening = await app.start();
  let envoy: EnvoyProcess;
  try {
    envoy = await startEnvoy({
      bin,
      logLevel: opts.envoyLogLevel ?? 'warn',
      configYaml: renderEnvoyConfig(config, {
        listenHost: LISTEN_HOST,
        listenPort: opts.port,
        adminPort: 0,
        tollgateHost: listening.grpc.host === '0.0.0.0' ? '127.0.0.1' : listening.grpc.host,
        tollgatePort: listening.grpc.port,
        caFile: opts.caFile ?? DEFAULT_CA_FILE,
        ...(opts.tollgateTls === undefined ? {} : { tollgateTls: opts.tollgateTls }),
        ...(opts.listenerTls === undefined ? {} : { listenerTls: opts.listenerTls }),
      }),
    });
  } catch (err) {
    await app.stop({ drainMs: 0 });
    throw err;
  }
  let stopping = false;
  return {
    app,
    envoy,
    url: `${opts.listenerTls === undefined ? 'http' : 'https'}://${LISTEN_HOST}:${envoy.listenerPort}`,
    died: envoy.exited.then((code) => (stopping ? new Promise<never>(() => undefined) : code)),
    stop: async () => {
      stopping = true;
      await envoy.stop();
      await app.stop({ drainMs: 0 });
    },
  };
}

/**
 * `tollgate dev --config FILE`. Like `serve`, the policy reloads when the file changes and on SIGHUP
 * (which would otherwise end the process and leave Envoy's temporary directory behind).
 */
export async function runDev(configPath: string, config: Config, opts: DevOptions): Promise<Running> {
  const stack = await startDevStack(config, opts);
  const watcher = watchPolicy(configPath, stack.app);
  process.stdout.write(`tollgate dev: envoy listening on ${stack.url}\n`);
  return {
    stop: () => { watcher.close(); return stack.stop(); },
    ended: stack.died.then((code) => {
      stack.app.logger.error({ code, output: stack.envoy.output().slice(-2000) }, 'envoy exited unexpectedly');
      return 1;
    }),
  };
}
