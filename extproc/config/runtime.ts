import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createAuthzSealer, type AuthzSealer } from '../core/authz-seal.ts';
import { compileModelPatterns, type ModelMatcher } from '../core/model-pattern.ts';
import { createCredentialBroker, type CredentialBroker } from '../credentials/broker.ts';
import type { CredentialSource } from '../credentials/credential-source.ts';
import { envCredentialSource, fileCredentialSource, noCredentialSource } from '../credentials/static-sources.ts';
import { TollgateError } from '../errors.ts';
import type { ProviderAdapter } from '../providers/provider.ts';
import { providerAdapter } from '../providers/registry.ts';
import type { Env } from './env.ts';
import { ConfigError } from './load.ts';
import type { Config, CredentialSourceConfig, ProviderConfig } from './schema.ts';

export interface ProviderRuntime {
  readonly name: string;
  readonly config: ProviderConfig;
  readonly adapter: ProviderAdapter;
  /** Requests for this provider arrive under this path prefix, e.g. "/openai/". */
  readonly pathPrefix: string;
  readonly allowsModel: ModelMatcher;
}

export interface IdentityRuntime {
  readonly id: string;
  readonly tenant: string;
  /** Allowed providers, each with the identity's own model restriction (undefined: the provider's list). */
  readonly providers: ReadonlyMap<string, ModelMatcher | undefined>;
}

/** Everything expensive, done once at load, frozen. A reload builds a new one and swaps it whole. */
export interface Runtime {
  readonly config: Config;
  readonly policyRevision: string;
  readonly providers: ReadonlyMap<string, ProviderRuntime>;
  readonly identitiesByKeyHash: ReadonlyMap<string, IdentityRuntime>;
  readonly identitiesById: ReadonlyMap<string, IdentityRuntime>;
  readonly credentials: CredentialBroker;
  readonly authzSealer: AuthzSealer;
  /** PEM material for the gRPC port's mTLS, read at load. */
  readonly grpcTls: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa: Buffer } | undefined;
}

function credentialSource(cfg: CredentialSourceConfig, env: Env): CredentialSource {
  switch (cfg.source) {
    case 'env':
      return envCredentialSource(cfg.name, env);
    case 'file':
      return fileCredentialSource(cfg.path);
    case 'none':
      return noCredentialSource();
  }
}

export function policyRevisionOf(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** The provider a request path addresses: its first segment. */
export function providerForPath(runtime: Runtime, path: string): ProviderRuntime | undefined {
  const end = path.indexOf('/', 1);
  if (!path.startsWith('/') || end < 0) return undefined;
  return runtime.providers.get(path.slice(1, end));
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

function readPem(field: string, path: string): Buffer {
  const pem = readAtLoad(field, path);
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${field}: ${path} is not PEM`);
  return pem;
}

function grpcTls(config: Config): Runtime['grpcTls'] {
  const tls = config.server.grpc.tls;
  if (tls === undefined) return undefined;
  return {
    cert: readPem('server.grpc.tls.certFile', tls.certFile),
    key: readPem('server.grpc.tls.keyFile', tls.keyFile),
    clientCa: readPem('server.grpc.tls.clientCaFile', tls.clientCaFile),
  };
}

export function buildRuntime(config: Config, env: Env): Runtime {
  const providers = new Map<string, ProviderRuntime>();
  const sources = new Map<string, CredentialSource>();
  config.providers.forEach((p, i) => {
    try {
      sources.set(p.name, credentialSource(p.credential, env));
    } catch (err) {
      const why = err instanceof TollgateError ? (err.detail ?? err.code) : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      throw new ConfigError(`providers[${i}].credential (${p.name}): ${why}`, { cause: err });
    }
    providers.set(p.name, Object.freeze({ name: p.name, config: p, adapter: providerAdapter(p.kind), pathPrefix: `/${p.name}/`, allowsModel: compileModelPatterns(p.models) }));
  });

  const identitiesByKeyHash = new Map<string, IdentityRuntime>();
  const identitiesById = new Map<string, IdentityRuntime>();
  for (const ident of config.identities) {
    const allowed = new Map<string, ModelMatcher | undefined>();
    for (const a of ident.allow) allowed.set(a.provider, a.models === undefined ? undefined : compileModelPatterns(a.models));
    const rt: IdentityRuntime = Object.freeze({ id: ident.id, tenant: ident.tenant, providers: allowed });
    identitiesById.set(ident.id, rt);
    for (const h of ident.apiKeyHashes) identitiesByKeyHash.set(h, rt);
  }

  return Object.freeze({
    config,
    policyRevision: policyRevisionOf(config),
    providers,
    identitiesByKeyHash,
    identitiesById,
    credentials: createCredentialBroker(sources, { refreshMs: 5_000, expiryMarginMs: 30_000 }),
    authzSealer: createAuthzSealer(authzContextKey(config, env)),
    grpcTls: grpcTls(config),
  });
}
