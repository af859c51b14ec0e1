import { createApp } from '../app.ts';
import { snapshotEnv } from '../config/env.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Running } from './running.ts';

/** `tollgate serve --config FILE`: the production entry point, the gRPC service alone. */
export async function runServe(configPath: string): Promise<Running> {
  const app = createApp(loadConfigFile(configPath), { env: snapshotEnv() });
  await app.start();
  return { stop: () => app.stop() };
}
