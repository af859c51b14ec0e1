// A small typed Vault client over the transport: validated paths in, zod-validated responses out.
import type { z } from 'zod';
import { Secret } from '../../core/secret.ts';
import { VaultError } from './errors.ts';
import { splitPath, vaultPath, type VaultPath } from './paths.ts';
import { kv2Read, leaseRenew, secretEnvelope, type AuthInfo, type SecretEnvelope } from './responses.ts';
import type { VaultRequest, VaultTransport } from './transport.ts';

export interface Kv2Secret {
  readonly data: Readonly<Record<string, unknown>>;
  readonly version: number;
}

export interface LeaseInfo {
  readonly leaseDurationS: number;
  readonly renewable: boolean;
}

/** Supplies the token for each call and a fresh one after a 403 (see auth.ts). */
export interface TokenProvider {
  token(): Promise<Secret>;
  /** Logs in again after a 403; resolves the new token, or rejects if this identity cannot log in again. */
  reauthenticate(): Promise<Secret>;
}

export interface VaultClient {
  /** KV v2 read of mount/path (each a "/"-separated list of checked segments). */
  kvRead(mount: string, path: readonly string[], version?: number): Promise<Kv2Secret>;
  /** GET of an engine path, e.g. ["aws", "creds", "bedrock"]. */
  read(op: string, segments: readonly string[], query?: Readonly<Record<string, string>>): Promise<SecretEnvelope>;
  /** POST of an engine path; the answer parsed as a secret envelope. */
  write(op: string, segments: readonly string[], body: Readonly<Record<string, unknown>>): Promise<SecretEnvelope>;
  leaseRenew(leaseId: Secret, incrementS?: number): Promise<LeaseInfo>;
  leaseRevoke(leaseId: Secret): Promise<void>;
}

export function parseResponse<T extends z.ZodType>(op: string, schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body);
  if (!r.success) {
    const where = r.error.issues.slice(0, 3).map((i) => i.path.join('.') || '(root)').join(', ');
    throw new VaultError(op, 'invalid_response', undefined, `unexpected response shape at ${where}`);
  }
  return r.data;
}

export function createVaultClient(transport: VaultTransport, auth: TokenProvider): VaultClient {
  /** One call with the current token; after a 403, one fresh login and one more try. */
  const call = async (req: Omit<VaultRequest, 'token'>): Promise<unknown> => {
    const token = await auth.token();
    try {
      return (await transport.send({ ...req, token })).body;
    } catch (err) {
      if (!(err instanceof VaultError) || !err.permissionDenied) throw err;
      let fresh: Secret;
      try {
        fresh = await auth.reauthenticate();
      } catch {
        throw err;
      }
      return (await transport.send({ ...req, token: fresh })).body;
    }
  };

  return {
    async kvRead(mount, path, version) {
      const p = vaultPath(...splitPath(mount, 'mount'), 'data', ...path);
      const body = await call({ op: 'kv2_read', method: 'GET', path: p, ...(version === undefined ? {} : { query: { version: String(version) } }) });
      const r = parseResponse('kv2_read', kv2Read, body);
      if (r.data.data === null) throw new VaultError('kv2_read', 'http', 404, 'the version is deleted or destroyed');
      return { data: r.data.data, version: r.data.metadata.version };
    },
    async read(op, segments, query) {
      return parseResponse(op, secretEnvelope, await call({ op, method: 'GET', path: vaultPath(...segments), ...(query === undefined ? {} : { query }) }));
    },
    async write(op, segments, body) {
      return parseResponse(op, secretEnvelope, await call({ op, method: 'POST', path: vaultPath(...segments), body }));
    },
    async leaseRenew(leaseId, incrementS) {
      const body = await call({ op: 'lease_renew', method: 'PUT', path: vaultPath('sys', 'leases', 'renew'), body: { lease_id: leaseId.reveal(), ...(incrementS === undefined ? {} : { increment: incrementS }) } });
      const r = parseResponse('lease_renew', leaseRenew, body);
      return { leaseDurationS: r.lease_duration, renewable: r.renewable };
    },
    async leaseRevoke(leaseId) {
      // The lease id goes in the path (sys/leases/revoke/<lease id>), so a policy can allow revoking only
      // the leases under Tollgate's own secret paths. The body form needs "update" on sys/leases/revoke
      // itself, which revokes any lease in the namespace. An id outside the segment charset (never seen
      // from Vault) falls back to the body form.
      const id = leaseId.reveal();
      let byPath: VaultPath | undefined;
      try {
        byPath = vaultPath('sys', 'leases', 'revoke', ...splitPath(id, 'lease id'));
      } catch {
        byPath = undefined;
      }
      await call(byPath === undefined
        ? { op: 'lease_revoke', method: 'PUT', path: vaultPath('sys', 'leases', 'revoke'), body: { lease_id: id } }
        : { op: 'lease_revoke', method: 'PUT', path: byPath });
    },
  };
}

/** The secret behind a login answer, wrapped at once. */
export const tokenOf = (auth: AuthInfo): Secret => new Secret(auth.client_token);
