// The set-up the Vault end-to-end suites share: a stack whose providers read their credential from Vault
// (OpenBao or the fake), the files Tollgate reads for its own login, and lease lookups.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import type { OpenBao } from './openbao.ts';
import { startStack, type Stack } from './stack.ts';

/** What docs/vault.md recommends for leased secrets: read the paths, revoke only leases under them (renew is in "default"). */
export const LEASED_POLICY = `
path "secret/tollgate/*" { capabilities = ["read"] }
path "sys/leases/revoke/secret/tollgate/*" { capabilities = ["update"] }
`;

type CredentialInput = ConfigInput['providers'][number]['credential'];
/** A KV v2 secret per tenant. */
export const KV_CREDENTIAL: CredentialInput = { source: 'vault-kv2', mount: 'secret', path: 'tollgate/{tenant}/openai' };
/** A leased secret per tenant (OpenBao's leased KV). */
export const LEASED_CREDENTIAL: CredentialInput = { source: 'vault-leased', path: 'secret/tollgate/{tenant}/openai', field: 'api_key' };

export interface VaultStackOptions {
  /** Files Tollgate reads (a token file, a secret id, an admin token): name → content, written 0600 before start. */
  readonly files: Readonly<Record<string, string>>;
  /** The vault section, given the path of each file. */
  readonly vault: (file: (name: string) => string) => NonNullable<ConfigInput['vault']>;
  readonly credential: CredentialInput;
  /** The provider key the upstream expects (any key if omitted). */
  readonly key?: string;
  /** Any other change to the config, given the path of each file. */
  readonly tweak?: (c: ConfigInput, file: (name: string) => string) => ConfigInput;
}

export interface VaultStack extends Stack {
  /** The path of one of the files written at start. */
  file(name: string): string;
}

/** Starts the stack; stop() also removes the files. */
export async function startVaultStack(opts: VaultStackOptions): Promise<VaultStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-'));
  const file = (name: string): string => join(dir, name);
  for (const [name, content] of Object.entries(opts.files)) writeFileSync(file(name), content, { mode: 0o600 });
  let stack: Stack;
  try {
    stack = await startStack({
      respond: () => openAiResponder(opts.key),
      tweak: (c) => {
        const withVault: ConfigInput = { ...c, vault: opts.vault(file), providers: c.providers.map((p) => ({ ...p, credential: opts.credential })) };
        return opts.tweak === undefined ? withVault : opts.tweak(withVault, file);
      },
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...stack,
    file,
    stop: async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The lease ids Vault holds live under `prefix`. */
export async function liveLeaseIds(bao: OpenBao, prefix: string): Promise<string[]> {
  const r = await bao.raw('LIST', `sys/leases/lookup/${prefix}/`);
  if (r.status === 404) return [];
  return (r.body as { data: { keys: string[] } }).data.keys.map((k) => `${prefix}/${k}`);
}
