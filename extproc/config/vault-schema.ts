// The `vault:` config section, the Vault variants of providers[].credential, and Vault's env conventions.
import { z } from 'zod';
import { Secret } from '../core/secret.ts';
import type { Env } from './env.ts';

/** Mount names and literal path segments: the same charset the Vault client enforces. */
const segment = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/;
const placeholder = /^\{(tenant|identity|provider)\}$/;
const mount = z.string().refine((s) => s.split('/').every((p) => segment.test(p)), { message: 'a Vault mount: segments of letters, digits, _ - . @ +, separated by /' });
/** A path below a mount: literal segments or whole-segment placeholders {tenant}, {identity}, {provider}. */
const pathTemplate = z.string().refine((s) => s.split('/').every((p) => segment.test(p) || placeholder.test(p)), {
  message: 'a Vault path: segments of letters, digits, _ - . @ +, or a whole segment {tenant}, {identity} or {provider}',
});
const field = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/);
const filePath = z.string().min(1);
const ms = z.number().int().positive();

export const vaultLoginSchema = z.discriminatedUnion('method', [
  /** A token from `tokenFile`, else from VAULT_TOKEN. */
  z.strictObject({ method: z.literal('token'), tokenFile: filePath.optional() }),
  z.strictObject({ method: z.literal('approle'), mount: mount.default('approle'), roleId: z.string().min(1), secretIdFile: filePath }),
  z.strictObject({ method: z.literal('kubernetes'), mount: mount.default('kubernetes'), role: z.string().min(1), jwtFile: filePath.default('/var/run/secrets/kubernetes.io/serviceaccount/token') }),
  z.strictObject({ method: z.literal('jwt'), mount: mount.default('jwt'), role: z.string().min(1).optional(), jwtFile: filePath }),
]);

export const vaultSchema = z.strictObject({
  /** Default: VAULT_ADDR. */
  address: z.url({ protocol: /^https?$/ }).optional(),
  /** Default: VAULT_NAMESPACE. */
  namespace: z.string().min(1).optional(),
  timeoutMs: ms.default(5_000),
  retries: z.number().int().min(0).max(5).default(2),
  tls: z
    .strictObject({
      /** Default: VAULT_CACERT. */
      caFile: filePath.optional(),
      certFile: filePath.optional(),
      keyFile: filePath.optional(),
      /** Never verify Vault's certificate. Also set by VAULT_SKIP_VERIFY=true (parsed as a boolean: "false" means false). */
      skipVerify: z.boolean().default(false),
    })
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile go together' })
    .default({ skipVerify: false }),
  auth: vaultLoginSchema.default({ method: 'token' }),
  breaker: z.strictObject({ failureThreshold: z.number().int().positive().default(5), openMs: ms.default(5_000) }).default({ failureThreshold: 5, openMs: 5_000 }),
  /** How often KV v2 keys are re-read in the background. */
  kvRefreshMs: ms.default(300_000),
  /** A credential is not served within this margin of its hard expiry (lease, STS or token expiry). */
  expiryMarginMs: ms.default(60_000),
  /** A scope whose path is missing, refused or too short-lived fails at once for this long (0: never remembered). */
  negativeCacheMs: z.number().int().min(0).default(30_000),
  /** Vault unreachable, sealed or refusing the login at start: retry (listen, not ready, retry with backoff) or exit 1. */
  onStartFailure: z.enum(['retry', 'exit']).default('retry'),
});
export type VaultConfig = z.infer<typeof vaultSchema>;

const kvFields = { mount: mount.default('secret'), path: pathTemplate, field: field.default('api_key'), version: z.number().int().positive().optional() };

/** The Vault variants of providers[].credential; config/schema.ts puts them next to env, file and none. */
export const vaultCredentialSourceSchemas = [
  z.strictObject({ source: z.literal('vault-kv2'), ...kvFields, as: z.enum(['api-key', 'bearer']).default('api-key') }),
  z.strictObject({ source: z.literal('vault-azure-kv2'), ...kvFields }),
  z.strictObject({ source: z.literal('vault-leased'), path: pathTemplate, field: field.default('api_key'), as: z.enum(['api-key', 'bearer']).default('api-key'), renewIncrementS: z.number().int().positive().optional() }),
  z.strictObject({
    source: z.literal('vault-aws'),
    mount: mount.default('aws'),
    endpoint: z.enum(['creds', 'sts']),
    role: pathTemplate.refine((s) => !s.includes('/'), { message: 'one segment' }),
    roleArn: z.string().min(1).optional(),
    ttl: z.string().regex(/^\d+[smh]?$/).optional(),
    roleSessionName: z.string().regex(/^[\w+=,.@-]{2,64}$/).optional(),
  }),
  z.strictObject({ source: z.literal('vault-gcp'), mount: mount.default('gcp'), kind: z.enum(['roleset', 'static-account']), name: pathTemplate.refine((s) => !s.includes('/'), { message: 'one segment' }) }),
] as const;
export const vaultCredentialSourceSchema = z.discriminatedUnion('source', vaultCredentialSourceSchemas);
export type VaultCredentialSourceConfig = z.infer<typeof vaultCredentialSourceSchema>;

export class VaultConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultConfigError';
  }
}

/** The connection after Vault's environment conventions are applied. Files are named, not read. */
export interface ResolvedVaultConnection {
  readonly address: string;
  readonly namespace: string | undefined;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly skipVerify: boolean;
  /** For auth.method "token" without tokenFile: VAULT_TOKEN, wrapped. */
  readonly envToken: Secret | undefined;
}

const envFlag = z.stringbool();
const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

/**
 * Applies VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, VAULT_NAMESPACE and VAULT_SKIP_VERIFY. Config wins
 * over the environment. VAULT_SKIP_VERIFY is parsed as a boolean ("true"/"1"/"yes" → skip,
 * "false"/"0"/"no" → verify, anything else is an error), unlike node-vault, which skips for any
 * non-empty value.
 */
export function resolveVaultConnection(cfg: VaultConfig, env: Env): ResolvedVaultConnection {
  const address = cfg.address ?? nonEmpty(env.VAULT_ADDR);
  if (address === undefined) throw new VaultConfigError('vault.address is not set and VAULT_ADDR is empty');
  if (!/^https?:\/\/[^/]+\/?$/.test(address)) throw new VaultConfigError('vault.address (or VAULT_ADDR) must be http(s)://host[:port] without a path');
  const rawSkip = nonEmpty(env.VAULT_SKIP_VERIFY);
  let envSkip = false;
  if (rawSkip !== undefined) {
    const r = envFlag.safeParse(rawSkip);
    if (!r.success) throw new VaultConfigError('VAULT_SKIP_VERIFY must be a boolean such as true or false');
    envSkip = r.data;
  }
  const token = nonEmpty(env.VAULT_TOKEN);
  if (cfg.auth.method === 'token' && cfg.auth.tokenFile === undefined && token === undefined) {
    throw new VaultConfigError('vault.auth.method is "token" but neither vault.auth.tokenFile nor VAULT_TOKEN is set');
  }
  return Object.freeze({
    address: address.replace(/\/$/, ''),
    namespace: cfg.namespace ?? nonEmpty(env.VAULT_NAMESPACE),
    timeoutMs: cfg.timeoutMs,
    retries: cfg.retries,
    caFile: cfg.tls.caFile ?? nonEmpty(env.VAULT_CACERT),
    certFile: cfg.tls.certFile,
    keyFile: cfg.tls.keyFile,
    skipVerify: cfg.tls.skipVerify || envSkip,
    envToken: token === undefined ? undefined : new Secret(token),
  });
}
