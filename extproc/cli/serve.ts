import { createApp, peerTrustProblem } from '../app.ts';
import { snapshotEnv } from '../config/env.ts';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { Running } from './running.ts';
import { watchPolicy } from './watch-policy.ts';

/**
 * `tollgate serve --config FILE`: the production entry point, the gRPC service alone. It refuses SPIFFE
 * identities on a gRPC port that does not authenticate Envoy (exit 2, naming the field).
 */
export async function runServe(configPath: string): Promise<Running> {
  const config = loadConfigFile(configPath);
  const problem = peerTrustProblem(config);
  if (problem !== undefined) throw new ConfigError(problem);
  const app = createApp(config, { env: snapshotEnv() });
  const l = await app.start();
  const watcher = watchPolicy(configPath, app);
  // SIGHUP also forces a credential re-read; its own listener, so the policy reload is not disturbed.
  const onHup = (): void => { void app.refreshCredentials('SIGHUP').catch(() => undefined); };
  process.on('SIGHUP', onHup);
  const where = `grpc=${l.grpc.host}:${l.grpc.port} admin=${l.admin.host}:${l.admin.port}`;
  const notReady = app.notReadyReason();
  if (notReady !== undefined) process.stderr.write(`tollgate listening, not ready (${notReady}): ${where}\n`);
  // The ready line harnesses wait for; printed whatever the log level, once the process is ready.
  void app.whenReady().then(() => { process.stderr.write(`tollgate ready: ${where} policy_revision=${app.policy().revision}\n`); });
  return { stop: () => { watcher.close(); process.off('SIGHUP', onHup); return app.stop(); } };
}
