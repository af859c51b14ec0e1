// From the validated `vault:` config to a running Vault identity and its credential sources.
import { readFileSync } from 'node:fs';
import type { ResolvedVaultConnection, VaultConfig, VaultCredentialSourceConfig } from '../../config/vault-schema.ts';
import { Secret } from '../../core/secret.ts';
import type { CredentialSource } from '../credential-source.ts';
import type { Scheduler } from '../timing.ts';
import { createVaultAuth, type VaultAuth, type VaultLogin } from './auth.ts';
import { CircuitBreaker } from './breaker.ts';
import { createVaultClient, type VaultClient } from './client.ts';
import { vaultAwsSource, vaultAzureKv2Source, vaultGcpSource, vaultKv2Source, vaultLeasedSource } from './sources.ts';
import { createVaultTransport, type VaultObserver, type VaultTransport } from './transport.ts';

export interface VaultRuntime {
  readonly client: VaultClient;
  readonly auth: VaultAuth;
  readonly transport: VaultTransport;
  /** A credential source for one provider's `credential:` entry. */
  source(cfg: VaultCredentialSourceConfig): CredentialSource;
  /** Logs in. Call at start so a bad Vault setup fails the start, not the first request. */
  start(): Promise<void>;
  /** Revokes Tollgate's own login token. Close the broker (which revokes leases) first. */
  close(): Promise<void>;
}

export interface VaultRuntimeOptions {
  readonly observer?: VaultObserver;
  readonly scheduler?: Scheduler;
  readonly random?: () => number;
  readonly now?: () => number;
}

const readPem = (what: string, path: string | undefined): Buffer | undefined => {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`vault.tls.${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
  }
};

function loginFrom(cfg: VaultConfig, conn: ResolvedVaultConnection): VaultLogin {
  const a = cfg.auth;
  switch (a.method) {
    case 'token': {
      if (a.tokenFile !== undefined) {
        const t = readFileSync(a.tokenFile, 'utf8').trim();
        if (t === '') throw new Error(`vault.auth.tokenFile ${a.tokenFile} is empty`);
        return { method: 'token', token: new Secret(t), tokenFile: a.tokenFile };
      }
      if (conn.envToken === undefined) throw new Error('VAULT_TOKEN is not set');
      return { method: 'token', token: conn.envToken };
    }
    case 'approle':
      return { method: 'approle', mount: a.mount, roleId: a.roleId, secretIdFile: a.secretIdFile };
    case 'kubernetes':
      return { method: 'kubernetes', mount: a.mount, role: a.role, jwtFile: a.jwtFile };
    case 'jwt':
      return { method: 'jwt', mount: a.mount, jwtFile: a.jwtFile, ...(a.role === undefined ? {} : { role: a.role }) };
  }
}

/** One Vault identity per process: one transport (one node-vault client), one login, many sources. */
export function createVaultRuntime(cfg: VaultConfig, conn: ResolvedVaultConnection, options: VaultRuntimeOptions = {}): VaultRuntime {
  const obs = options.observer ?? {};
  const scheduler = options.scheduler;
  const now = options.now ?? (scheduler === undefined ? Date.now : () => scheduler.now());
  const tls = {
    ...(conn.skipVerify ? { skipVerify: true } : {}),
    ...((): { ca?: Buffer } => { const ca = readPem('caFile', conn.caFile); return ca === undefined ? {} : { ca }; })(),
    ...((): { cert?: Buffer; key?: Buffer } => {
      const cert = readPem('certFile', conn.certFile);
      const key = readPem('keyFile', conn.keyFile);
      return cert === undefined || key === undefined ? {} : { cert, key };
    })(),
  };
  const transport = createVaultTransport({
    address: conn.address,
    ...(conn.namespace === undefined ? {} : { namespace: conn.namespace }),
    timeoutMs: conn.timeoutMs,
    retries: conn.retries,
    tls,
    breaker: new CircuitBreaker({ ...cfg.breaker, now, onStateChange: (s, cause) => obs.breakerState?.(s, cause) }),
    observer: obs,
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const auth = createVaultAuth({
    login: loginFrom(cfg, conn),
    transport,
    observer: obs,
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const client = createVaultClient(transport, auth);
  return {
    client,
    auth,
    transport,
    source(s) {
      switch (s.source) {
        case 'vault-kv2':
          return vaultKv2Source({ client, mount: s.mount, path: s.path, field: s.field, credentialKind: s.as, ...(s.version === undefined ? {} : { version: s.version }) });
        case 'vault-azure-kv2':
          return vaultAzureKv2Source({ client, mount: s.mount, path: s.path, field: s.field, ...(s.version === undefined ? {} : { version: s.version }) });
        case 'vault-leased':
          // A renewal asking for no more than the margin could never be served: refused at load.
          if (s.renewIncrementS !== undefined && s.renewIncrementS * 1000 <= cfg.expiryMarginMs)
            throw new Error(`renewIncrementS (${s.renewIncrementS} s) is not longer than vault.expiryMarginMs (${cfg.expiryMarginMs} ms): every renewed lease would be refused`);
          return vaultLeasedSource({ client, now, path: s.path, field: s.field, credentialKind: s.as, ...(s.renewIncrementS === undefined ? {} : { renewIncrementS: s.renewIncrementS }) });
        case 'vault-aws':
          return vaultAwsSource({
            client, now, mount: s.mount, endpoint: s.endpoint, role: s.role,
            ...(s.roleArn === undefined ? {} : { roleArn: s.roleArn }),
            ...(s.ttl === undefined ? {} : { ttl: s.ttl }),
            ...(s.roleSessionName === undefined ? {} : { roleSessionName: s.roleSessionName }),
          });
        case 'vault-gcp':
          return vaultGcpSource({ client, mount: s.mount, kind: s.kind, name: s.name });
      }
    },
    start: () => auth.start(),
    close: () => auth.close(),
  };
}
