import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { hashApiKey, mintApiKey } from '../identity/api-key.ts';
import { validateConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import { openAiResponder, startFakeUpstream } from '../dev/fake-upstream.ts';
import { startDevStack } from './dev.ts';
import type { Running } from './running.ts';

const DEMO_CONFIG_PATH = fileURLToPath(new URL('../config/demo.yaml', import.meta.url));

/** `tollgate demo` (`npm start`): Envoy, Tollgate and a local upstream on the embedded default config. */
export async function runDemo(port: number): Promise<Running> {
  const providerKey = `demo-provider-${randomBytes(16).toString('hex')}`;
  const upstream = await startFakeUpstream({ respond: openAiResponder(providerKey), maxRecorded: 1000 });
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-'));
  const keyFile = join(dir, 'provider-key');
  writeFileSync(keyFile, providerKey + '\n', { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const callerKey = mintApiKey();

  const base = parseYaml(readFileSync(DEMO_CONFIG_PATH, 'utf8')) as ConfigInput;
  const [provider] = base.providers;
  const [identity] = base.identities;
  if (provider === undefined || identity === undefined) throw new Error(`${DEMO_CONFIG_PATH}: needs one provider and one identity`);
  const config = validateConfig(
    {
      ...base,
      providers: [{ ...provider, upstream: upstream.url, credential: { source: 'file', path: keyFile } }],
      identities: [{ ...identity, apiKeyHashes: [hashApiKey(callerKey)] }],
    },
    DEMO_CONFIG_PATH,
  );
  let stack;
  try {
    stack = await startDevStack(config, { port });
  } catch (err) {
    // E.g. the port is taken: leave no upstream running and no provider key file behind.
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Installed before the banner: whoever reads it may signal at once. The demo's config is embedded and generated, so
  // there is nothing to reload; without a handler SIGHUP would end the process and leave the provider key file
  // behind.
  const onHup = (): void => { stack.app.logger.info('demo: SIGHUP ignored (the demo config is embedded; nothing to reload)'); };
  process.on('SIGHUP', onHup);
  process.stdout.write(
    [
      `tollgate dev: envoy listening on ${stack.url}`,
      '',
      'Tollgate demo is running: Envoy -> Tollgate (ext_authz + ext_proc) -> a local OpenAI-compatible upstream.',
      `Your demo key (shown once): ${callerKey}`,
      'Try it (allowed):',
      `  curl -sS ${stack.url}/demo/v1/chat/completions -H 'authorization: Bearer ${callerKey}' -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'`,
      'Denied (model not allowed for this identity):',
      `  curl -sS ${stack.url}/demo/v1/chat/completions -H 'authorization: Bearer ${callerKey}' -H 'content-type: application/json' -d '{"model":"gpt-4o","messages":[]}'`,
      'Audit records are printed below as JSON lines. Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  return {
    stop: async () => {
      process.off('SIGHUP', onHup);
      await stack.stop();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
    ended: stack.died.then(() => 1),
  };
}
