// The set-up the benchmark's e2e suites share: the bench harness's own set-ups (test/bench/setups.ts),
// started by its startSetup behind the same rendered Envoy config as `npm run bench`, in front of a recording
// fake upstream that answers only the provider key.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findEnvoyBinary } from '../../extproc/dev/envoy-process.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { startSetup, type SetupStack } from '../bench/processes.ts';
import { rssBytes } from '../bench/proc.ts';
import { selectSetups, type SetupContext } from '../bench/setups.ts';
import { baseConfigInput, mintTestKeys } from './config.ts';

export interface BenchHarness {
  readonly providerKey: string;
  readonly ctx: SetupContext;
  readonly upstream: FakeUpstream;
  /** Starts the named set-ups one after the other, as the bench does. */
  start(names: readonly string[]): Promise<SetupStack[]>;
  /** Stops every set-up started and the upstream, and removes the files. */
  stop(): Promise<void>;
}

export async function startBenchHarness(): Promise<BenchHarness> {
  const keys = mintTestKeys();
  const providerKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const ctx: SetupContext = { providerKey, callerKey: keys.agent };
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-e2e-'));
  const credFile = join(dir, 'provider-key');
  writeFileSync(credFile, providerKey, { mode: 0o600 });
  const authzKeyFile = join(dir, 'authz-key');
  writeFileSync(authzKeyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const upstream = await startFakeUpstream({ respond: openAiResponder(providerKey) });
  const baseConfig = { ...baseConfigInput(keys, upstream.url, credFile), logging: { level: 'warn' as const } };
  const envoyBin = findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN);
  const started: SetupStack[] = [];
  return {
    providerKey,
    ctx,
    upstream,
    start: async (names) => {
      const stacks: SetupStack[] = [];
      for (const setup of selectSetups(names)) {
        const stack = await startSetup(setup, { dir, envoyBin, baseConfig, ctx, authzKeyFile, serviceNodeFlags: [], providerKeyFile: credFile, rssOf: rssBytes });
        started.push(stack);
        stacks.push(stack);
      }
      return stacks;
    },
    stop: async () => {
      for (const s of started) await s.stop();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
