// What the process reads once at start and keeps for its lifetime: credential sources (Vault leases live in
// them), the authz context key, the kill-switch token, TLS material, and the secrets and files other sections
// name. A policy reload never rebuilds these. config/ only parses and validates; this is where what it names
// is read.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Env } from './config/env.ts';
import { ConfigError } from './config/load.ts';
import type { Config } from './config/schema.ts';
import type { StateSectionConfig } from './config/state-schema.ts';
import { Secret } from './core/secret.ts';
import { buildCredentials, type CredentialRuntime } from './credentials/build.ts';
import type { VaultObserver } from './credentials/vault/transport.ts';

export interface ServiceMaterial extends CredentialRuntime {
  readonly authzContextKey: Buffer;
  /** The admin kill switch's bearer token, if the switch is configured. */
  readonly killSwitchToken: Buffer | undefined;
  /** PEM material for the gRPC port's mTLS, read at load. */
  readonly grpcTls: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa: Buffer } | undefined;
}

/** Where the config says a secret is: an environment variable or a file. */
type SecretPlace = { readonly source: 'env'; readonly name: string } | { readonly source: 'file'; readonly path: string };

/** Reads a file the config names, once at load; failure is a ConfigError naming the field and the path. */
function readAtLoad(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${field}: ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
  }
}

/** The secret's text, trimmed ("" when the variable is unset). */
const placeText = (field: string, src: SecretPlace, env: Env): string => (src.source === 'env' ? env[src.name] : readAtLoad(field, src.path).toString('utf8'))?.trim() ?? '';
const placeName = (src: SecretPlace): string => (src.source === 'env' ? `environment variable ${src.name}` : src.path);

function authzContextKey(config: Config, env: Env): Buffer {
  const src = config.server.authzContextKey;
  if (src === undefined) return randomBytes(32);
  const key = Buffer.from(placeText('server.authzContextKey', src, env), 'utf8');
  if (key.length < 32) throw new ConfigError(`server.authzContextKey: must hold at least 32 bytes (${placeName(src)})`);
  return key;
}

/** Reads a secret the config names by source (env or file), trimmed; for request-proof keys and the like. */
export function readSecretSource(field: string, src: SecretPlace, env: Env): Secret {
  const value = placeText(field, src, env);
  if (value === '') throw new ConfigError(`${field}: ${placeName(src)} is empty`);
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
  const token = Buffer.from(placeText('server.admin.killSwitchToken', src, env), 'utf8');
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
  const credentials = buildCredentials(config, env, vaultObserver);
  return Object.freeze({ ...credentials, authzContextKey: authzContextKey(config, env), killSwitchToken: killSwitchToken(config, env), grpcTls: grpcTls(config) });
}
