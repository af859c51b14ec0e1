// Builds, once at start, the credential source each provider names and Tollgate's own Vault runtime (when the
// config has a vault section). They live for the process: a policy reload never rebuilds them.
import type { Env } from '../config/env.ts';
import { ConfigError } from '../config/load.ts';
import type { Config, CredentialSourceConfig } from '../config/schema.ts';
import { resolveVaultConnection } from '../config/vault-schema.ts';
import { TollgateError } from '../errors.ts';
import type { CredentialSource } from './credential-source.ts';
import { envCredentialSource, fileCredentialSource, noCredentialSource } from './static-sources.ts';
import { createVaultRuntime, type VaultRuntime } from './vault/build.ts';
import type { VaultObserver } from './vault/transport.ts';

export interface CredentialRuntime {
  /** Per provider name. */
  readonly credentialSources: ReadonlyMap<string, CredentialSource>;
  /** Tollgate's own Vault identity and client, when the config has a vault section. */
  readonly vault: VaultRuntime | undefined;
}

function credentialSource(cfg: CredentialSourceConfig, env: Env, vault: VaultRuntime | undefined): CredentialSource {
  switch (cfg.source) {
    case 'env':
      return envCredentialSource(cfg.name, env);
    case 'file':
      return fileCredentialSource(cfg.path);
    case 'none':
      return noCredentialSource();
    default:
      if (vault === undefined) throw new Error('a vault-* credential source needs the vault section');
      return vault.source(cfg);
  }
}

/** Throws ConfigError naming the field (`vault`, `providers[i].credential`) when a source cannot be built. */
export function buildCredentials(config: Pick<Config, 'providers' | 'vault'>, env: Env, vaultObserver?: VaultObserver): CredentialRuntime {
  let vault: VaultRuntime | undefined;
  if (config.vault !== undefined) {
    try {
      vault = createVaultRuntime(config.vault, resolveVaultConnection(config.vault, env), vaultObserver === undefined ? {} : { observer: vaultObserver });
    } catch (err) {
      throw new ConfigError(`vault: ${(err as Error).message}`, { cause: err });
    }
  }
  const credentialSources = new Map<string, CredentialSource>();
  config.providers.forEach((p, i) => {
    try {
      credentialSources.set(p.name, credentialSource(p.credential, env, vault));
    } catch (err) {
      const why = err instanceof TollgateError ? (err.detail ?? err.code) : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      throw new ConfigError(`providers[${i}].credential (${p.name}): ${why}`, { cause: err });
    }
  });
  return { credentialSources, vault };
}
