// Credential sources backed by Vault: KV v2 keys, leased secrets, AWS, GCP and Azure OpenAI keys.
import { createHash } from 'node:crypto';
import type { Credential, CredentialMeta } from '../../core/credential.ts';
import { Secret } from '../../core/secret.ts';
import type { CredentialSource } from '../credential-source.ts';
import type { VaultClient } from './client.ts';
import { parseResponse } from './client.ts';
import { VaultError } from './errors.ts';
import { compilePathTemplate, splitPath } from './paths.ts';
import { awsData, gcpTokenData, type SecretEnvelope } from './responses.ts';

/** A short, stable, non-reversible label for a lease id (audit and metrics only). */
export const leaseIdHash = (leaseId: string): string => createHash('sha256').update(leaseId).digest('hex').slice(0, 16);

interface Common {
  readonly client: VaultClient;
  readonly now?: () => number;
}

const stringField = (op: string, data: Readonly<Record<string, unknown>> | null, field: string): string => {
  const v = data?.[field];
  if (typeof v !== 'string' || v.trim() === '') throw new VaultError(op, 'invalid_response', undefined, `field ${JSON.stringify(field)} is missing or empty`);
  return v.trim();
};

/** Lease bookkeeping shared by the leased sources: the lease id never leaves this closure. */
function leaseBook(client: VaultClient, now: () => number, incrementS: number | undefined) {
  const leases = new WeakMap<Credential, Secret>();
  const metaOf = (c: Credential): CredentialMeta => {
    if (c.kind === 'none') throw new Error('no lease on an empty credential');
    return c.meta;
  };
  const withMeta = (c: Credential, meta: CredentialMeta): Credential => (c.kind === 'none' ? c : Object.freeze({ ...c, meta: Object.freeze(meta) }));
  return {
    /** Registers the lease of an envelope on a credential; returns the credential with its meta. */
    track(c: Credential, env: SecretEnvelope, extraExpiry?: number): Credential {
      const meta = metaOf(c);
      const leaseExpiry = env.lease_duration > 0 ? now() + env.lease_duration * 1000 : undefined;
      const expiresAt = leaseExpiry === undefined ? extraExpiry : extraExpiry === undefined ? leaseExpiry : Math.min(leaseExpiry, extraExpiry);
      const out = withMeta(c, {
        ...meta,
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(env.lease_id === '' ? {} : { leaseIdHash: leaseIdHash(env.lease_id), renewable: env.renewable }),
      });
      if (env.lease_id !== '') leases.set(out, new Secret(env.lease_id));
      return out;
    },
    async renew(c: Credential): Promise<Credential> {
      const lease = leases.get(c);
      if (lease === undefined) throw new VaultError('lease_renew', 'invalid_response', undefined, 'no lease is known for this credential');
      const r = await client.leaseRenew(lease, incrementS);
      const out = withMeta(c, { ...metaOf(c), expiresAt: now() + r.leaseDurationS * 1000, renewable: r.renewable });
      leases.set(out, lease);
      return out;
    },
    async revoke(c: Credential): Promise<boolean> {
      const lease = leases.get(c);
      if (lease === undefined) return false;
      await client.leaseRevoke(lease);
      leases.delete(c);
      return true;
    },
  };
}

export interface Kv2SourceOptions extends Common {
  readonly mount: string;
  /** Path below the mount; may use {tenant}, {identity}, {provider} as whole segments. */
  readonly path: string;
  /** The key in the secret's data holding the value. Default "api_key". */
  readonly field?: string;
  /** Pin a version; default the latest (re-read on the broker's schedule and on invalidate). */
  readonly version?: number;
  readonly credentialKind?: 'api-key' | 'bearer';
  /** The source label, e.g. "vault-kv2" or "vault-azure-kv2". */
  readonly label?: string;
}

/** A provider API key from KV v2. Each read returns the current version, so a rotation in Vault lands on the next refresh. */
export function vaultKv2Source(o: Kv2SourceOptions): CredentialSource {
  const mount = splitPath(o.mount, 'mount').join('/');
  const render = compilePathTemplate(o.path);
  const field = o.field ?? 'api_key';
  const label = o.label ?? 'vault-kv2';
  return {
    description: `${label}:${mount}/${o.path}#${field}`,
    async fetch(scope) {
      const segs = render(scope);
      const secret = await o.client.kvRead(mount, segs, o.version);
      const value = stringField('kv2_read', secret.data, field);
      return Object.freeze({
        kind: o.credentialKind ?? 'api-key',
        secret: new Secret(value),
        meta: Object.freeze({ source: `${label}:${mount}/${segs.join('/')}`, version: secret.version }),
      });
    },
    close: () => Promise.resolve(),
  };
}

/** An Azure OpenAI api-key kept in KV v2 (the broker refreshes it like any KV v2 key). */
export const vaultAzureKv2Source = (o: Omit<Kv2SourceOptions, 'label' | 'credentialKind'>): CredentialSource =>
  vaultKv2Source({ ...o, label: 'vault-azure-kv2', credentialKind: 'api-key' });

export interface LeasedSourceOptions extends Common {
  /** The full path (engine mount included), e.g. "database/creds/{tenant}" or a leased KV path. */
  readonly path: string;
  readonly field?: string;
  readonly credentialKind?: 'api-key' | 'bearer';
  /** Increment asked for on renewal, seconds; default: Vault's choice. */
  readonly renewIncrementS?: number;
}

/** A leased secret: renewed by the broker while renewals extend it, revoked on shutdown and by the kill switch. */
export function vaultLeasedSource(o: LeasedSourceOptions): CredentialSource {
  const render = compilePathTemplate(o.path);
  const field = o.field ?? 'api_key';
  const now = o.now ?? Date.now;
  const book = leaseBook(o.client, now, o.renewIncrementS);
  return {
    description: `vault-leased:${o.path}#${field}`,
    async fetch(scope) {
      const segs = render(scope);
      const env = await o.client.read('leased_read', segs);
      if (env.lease_id === '' || env.lease_duration <= 0) throw new VaultError('leased_read', 'invalid_response', undefined, 'the secret carries no lease');
      const base: Credential = { kind: o.credentialKind ?? 'api-key', secret: new Secret(stringField('leased_read', env.data, field)), meta: { source: `vault-leased:${segs.join('/')}` } };
      return book.track(base, env);
    },
    renew: (c) => book.renew(c),
    revoke: (c) => book.revoke(c),
    close: () => Promise.resolve(),
  };
}

export interface AwsSourceOptions extends Common {
  readonly mount: string;
  /** The Vault role; may be a placeholder such as "{tenant}". */
  readonly role: string;
  /** "creds" (GET aws/creds/role) or "sts" (POST aws/sts/role). */
  readonly endpoint: 'creds' | 'sts';
  readonly roleArn?: string;
  readonly ttl?: string;
  readonly roleSessionName?: string;
  readonly renewIncrementS?: number;
}

/** AWS credentials for SigV4; accepts session_token (Vault >= 1.16) and security_token (OpenBao, older Vault). */
export function vaultAwsSource(o: AwsSourceOptions): CredentialSource {
  const mount = splitPath(o.mount, 'mount');
  const role = compilePathTemplate(o.role);
  const now = o.now ?? Date.now;
  const book = leaseBook(o.client, now, o.renewIncrementS);
  const params: Record<string, string> = {
    ...(o.roleArn === undefined ? {} : { role_arn: o.roleArn }),
    ...(o.ttl === undefined ? {} : { ttl: o.ttl }),
    ...(o.roleSessionName === undefined ? {} : { role_session_name: o.roleSessionName }),
  };
  return {
    description: `vault-aws:${mount.join('/')}/${o.endpoint}/${o.role}`,
    async fetch(scope) {
      const segs = [...mount, o.endpoint, ...role(scope)];
      const op = `aws_${o.endpoint}`;
      const env = o.endpoint === 'creds' ? await o.client.read(op, segs, params) : await o.client.write(op, segs, params);
      const d = parseResponse(op, awsData, env.data);
      const session = d.session_token ?? d.security_token ?? undefined;
      const base: Credential = {
        kind: 'aws',
        accessKeyId: d.access_key,
        secretAccessKey: new Secret(d.secret_key),
        sessionToken: session === undefined || session === '' ? undefined : new Secret(session),
        meta: { source: `vault-aws:${segs.join('/')}` },
      };
      return book.track(base, env);
    },
    renew: (c) => book.renew(c),
    revoke: (c) => book.revoke(c),
    close: () => Promise.resolve(),
  };
}

export interface GcpSourceOptions extends Common {
  readonly mount: string;
  readonly kind: 'roleset' | 'static-account';
  readonly name: string;
}

/** A GCP OAuth access token: no lease, no renewal; tracked by expires_at_seconds and fetched anew before it. */
export function vaultGcpSource(o: GcpSourceOptions): CredentialSource {
  const mount = splitPath(o.mount, 'mount');
  const name = compilePathTemplate(o.name);
  return {
    description: `vault-gcp:${mount.join('/')}/${o.kind}/${o.name}`,
    async fetch(scope) {
      const segs = [...mount, o.kind, ...name(scope), 'token'];
      const env = await o.client.read('gcp_token', segs);
      const d = parseResponse('gcp_token', gcpTokenData, env.data);
      return Object.freeze({
        kind: 'bearer',
        secret: new Secret(d.token),
        meta: Object.freeze({ source: `vault-gcp:${segs.join('/')}`, expiresAt: d.expires_at_seconds * 1000 }),
      });
    },
    close: () => Promise.resolve(),
  };
}
