import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CredentialSource } from '../credentials/credential-source.ts';
import { envCredentialSource, fileCredentialSource, noCredentialSource } from '../credentials/static-sources.ts';
import { createVaultRuntime, type VaultRuntime } from '../credentials/vault/build.ts';
import type { VaultObserver } from '../credentials/vault/transport.ts';
import { resolveVaultConnection } from './vault-schema.ts';
import { Secret } from '../core/secret.ts';
import { TollgateError } from '../errors.ts';
import type { Env } from './env.ts';
import { ConfigError } from './load.ts';
import type { Config, CredentialSourceConfig } from './schema.ts';
import type { StateSectionConfig } from './state-schema.ts';

/**
 * What the process reads once at start and keeps for its lifetime: credential sources (Vault leases
 * live in them), the authz context key, TLS material. A policy reload never rebuilds these.
 */
export interface ServiceMaterial {
  readonly credentialSources: ReadonlyMap<string, CredentialSource>;
  /** Tollgate's own Vault identity and client, when the config has a vault section. */
  readonly vault: VaultRuntime | undefined;
  readonly authzContextKey: Buffer;
  /** The admin kill switch's bearer token, if the switch is configured. */
  readonly killSwitchToken: Buffer | undefined;
  /** PEM material for the gRPC port's mTLS, read at load. */
  readonly grpcTls: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa: Buffer } | undefined;
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

/** Reads a file the config names, once at load; failure is a ConfigError naming the field and the path. */
function readAtLoad(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${field}: ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
  }
}

function authzContextKey(config: Config, env: Env): Buffer {
  const src = config.server.authzContextKey;
  if (src === undefined) return randomBytes(32);
  const text = src.source === 'env' ? env[src.name] : readAtLoad('server.authzContextKey', src.path).toString('utf8');
  const key = Buffer.from(text?.trim() ?? '', 'utf8');
  if (key.length < 32) throw new ConfigError(`server.authzContextKey: must hold at least 32 bytes (${src.source === 'env' ? `environment variable ${src.name}` : src.path})`);
  return key;
}

/** Reads a secret the config names by source (env or file), trimmed; for request-proof keys and the like. */
export function readSecretSource(field: string, src: { readonly source: 'env'; readonly name: string } | { readonly source: 'file'; readonly path: string }, env: Env): Secret {
  const text = src.source === 'env' ? env[src.name] : readAtLoad(field, src.path).toString('utf8');
  const value = text?.trim() ?? '';
  if (value === '') throw new ConfigError(`${field}: ${src.source === 'env' ? `environment variable ${src.name}` : src.path} is empty`);
  return new Secret(value);
}

/** The Redis state store's secrets, read at start: `state.password` and the `state.tls.caFile` bundle. */
export function stateStoreSecrets(cfg: StateSectionConfig, env: Env): { readonly password?: Secret; readonly ca?: Buffer } {
  if (cfg.backend === 'memory') return {};
  return {
    ...(cfg.password === undefined ? {} : { password: readSecretSource('state.password', cfg.password, env) }),
    ...(cfg.tls?.caFile === undefined ? {} : { ca: Buffer.from(readConfigFile(cfg.tls.caFile)) }),
  };
}

/** Reads a text file the config names (trust bundles), once at load. */
export function readConfigFile(path: string): string {
  return readAtLoad(path, path).toString('utf8');
}

function killSwitchToken(config: Config, env: Env): Buffer | undefined {
  const src = config.server.admin.killSwitchToken;
  if (src === undefined) return undefined;
  const text = src.source === 'env' ? env[src.name] : readAtLoad('server.admin.killSwitchToken', src.path).toString('utf8');
  const token = Buffer.from(text?.trim() ?? '', 'utf8');
  if (token.length < 32) throw new ConfigError('server.admin.killSwitchToken: must hold at least 32 bytes');
  return token;
}

function readPem(field: string, path: string): Buffer {
  const pem = readAtLoad(field, path);
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${field}: ${path} is not PEM`);
  return pem;
}

function grpcTls(config: Config): ServiceMaterial['grpcTls'] {
  const tls = config.server.grpc.tls;
  if (tls === undefined) return undefined;
  return {
    cert: readPem('server.grpc.tls.certFile', tls.certFile),
    key: readPem('server.grpc.tls.keyFile', tls.keyFile),
    clientCa: readPem('server.grpc.tls.clientCaFile', tls.clientCaFile),
  };
}

export function loadServiceMaterial(config: Config, env: Env, vaultObserver?: VaultObserver): ServiceMaterial {
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
  return Object.freeze({ credentialSources, vault, authzContextKey: authzContextKey(config, env), killSwitchToken: killSwitchToken(config, env), grpcTls: grpcTls(config) });
}
