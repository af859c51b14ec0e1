// Builders for test configurations. Keys are minted per test run; nothing here is a real secret.
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import { validateConfig } from '../../extproc/config/load.ts';
import type { Config, ConfigInput } from '../../extproc/config/schema.ts';

export interface TestKeys {
  /** Allowed on provider "openai" for models gpt-4o-mini and gpt-4o*. */
  readonly agent: string;
  /** Allowed on provider "openai" for gpt-4o-mini only. */
  readonly restricted: string;
  /** A valid identity with no providers at all. */
  readonly noProviders: string;
}

export function mintTestKeys(): TestKeys {
  return { agent: mintApiKey(), restricted: mintApiKey(), noProviders: mintApiKey() };
}

/** The raw config the suites start from: one OpenAI-kind provider at `upstream`, three identities. */
export function baseConfigInput(keys: TestKeys, upstream: string, credentialFile: string): ConfigInput {
  return {
    version: 1,
    server: { grpc: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, drainSeconds: 0, shutdownGraceSeconds: 2 },
    limits: { maxRequestBodyBytes: 64 * 1024, maxResponseBodyBytes: 256 * 1024 },
    providers: [
      { name: 'openai', kind: 'openai', upstream, models: ['gpt-4o-mini', 'gpt-4o*'], credential: { source: 'file', path: credentialFile } },
    ],
    identities: [
      { id: 'agent-1', tenant: 'team-a', apiKeyHashes: [hashApiKey(keys.agent)], allow: [{ provider: 'openai' }] },
      { id: 'restricted-1', tenant: 'team-b', apiKeyHashes: [hashApiKey(keys.restricted)], allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }] },
      { id: 'nobody', tenant: 'team-c', apiKeyHashes: [hashApiKey(keys.noProviders)], allow: [] },
    ],
    audit: { sink: { type: 'stdout' } },
    logging: { level: 'silent' },
  };
}

export function testConfig(input: ConfigInput): Config {
  return validateConfig(input, 'test');
}
