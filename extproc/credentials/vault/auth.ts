// Tollgate's own Vault identity: a token, or a login (AppRole, Kubernetes, JWT) renewed at about 2/3 of its TTL.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Secret } from '../../core/secret.ts';
import { backoffDelay, DEFAULT_BACKOFF, renewDelay, systemScheduler, type BackoffPolicy, type Cancel, type Scheduler } from '../timing.ts';
import { parseResponse, tokenOf, type TokenProvider } from './client.ts';
import { VaultError } from './errors.ts';
import { splitPath, vaultPath } from './paths.ts';
import { authEnvelope, tokenLookup } from './responses.ts';
import type { VaultObserver, VaultTransport } from './transport.ts';

export type VaultLogin =
  | { readonly method: 'token'; readonly token: Secret; readonly tokenFile?: string }
  | { readonly method: 'approle'; readonly mount: string; readonly roleId: string; readonly secretIdFile: string }
  | { readonly method: 'kubernetes'; readonly mount: string; readonly role: string; readonly jwtFile: string }
  | { readonly method: 'jwt'; readonly mount: string; readonly role?: string; readonly jwtFile: string };

export interface VaultAuthOptions {
  readonly login: VaultLogin;
  readonly transport: VaultTransport;
  readonly scheduler?: Scheduler;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly observer?: VaultObserver;
  /** Renewal increment asked of renew-self, in seconds. Default: the token's last TTL. */
  readonly renewIncrementS?: number;
  /** Revoke a token obtained by login on close. Default true (a configured static token is never revoked). */
  readonly revokeOnClose?: boolean;
  readonly readSecretFile?: (path: string) => Promise<string>;
  /** Method token with tokenFile: re-read the file when it changes. Default true. */
  readonly watchTokenFile?: boolean;
}

/** Why Tollgate's token changed: a login that replaced an earlier token, or a new token in `tokenFile`. */
export type TokenChangeCause = 'relogin' | 'token_file';

export interface VaultAuth extends TokenProvider {
  /**
   * Logs in (or looks up a static token) now; rejects if Vault refuses. Renewal then runs in the
   * background. Resolves at once when a background retry has already logged in.
   */
  start(): Promise<void>;
  /**
   * Called after the token changed (not after the first login). Leases are children of the token that
   * read them: Vault revokes them with it, so the caller fetches them anew under the new token.
   */
  onTokenChange(listener: (cause: TokenChangeCause) => void): void;
  /** Re-reads `tokenFile` (method token); adopts a changed token. Resolves true when it changed. */
  rereadTokenFile(): Promise<boolean>;
  /** Epoch ms when the current token expires; undefined for a non-expiring token or before login. */
  readonly expiresAt: number | undefined;
  close(): Promise<void>;
}

const readTrimmed = async (path: string): Promise<string> => (await readFile(path, 'utf8')).trim();

export function createVaultAuth(options: VaultAuthOptions): VaultAuth {
  const { login, transport } = options;
  const scheduler = options.scheduler ?? systemScheduler();
  const random = options.random ?? Math.random;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const obs = options.observer ?? {};
  const readSecret = options.readSecretFile ?? readTrimmed;
  const now = (): number => scheduler.now();

  let token: Secret | undefined = login.method === 'token' ? login.token : undefined;
  /** The static token in force (method token): the configured one, or the latest from tokenFile. */
  let staticToken: Secret | undefined = login.method === 'token' ? login.token : undefined;
  let loggedIn = false;
  const listeners: ((cause: TokenChangeCause) => void)[] = [];
  const changed = (cause: TokenChangeCause): void => { for (const l of listeners) l(cause); };
  let expiresAt: number | undefined;
  let lastTtlS = 0;
  let cancel: Cancel | undefined;
  let inflight: Promise<Secret> | undefined;
  let failures = 0;
  let closed = false;

  const schedule = (fn: () => void, ms: number): void => {
    cancel?.();
    cancel = closed ? undefined : scheduler.schedule(fn, ms);
  };

  const adopt = (ttlS: number, renewable: boolean): void => {
    lastTtlS = ttlS;
    expiresAt = ttlS > 0 ? now() + ttlS * 1000 : undefined;
    failures = 0;
    if (ttlS > 0 && renewable) schedule(() => void renew(), renewDelay(ttlS * 1000, random));
    else if (ttlS > 0 && login.method !== 'token') schedule(() => void relogin().catch(() => undefined), renewDelay(ttlS * 1000, random));
    else { cancel?.(); cancel = undefined; }
  };

  const doLogin = async (): Promise<Secret> => {
    if (login.method === 'token') {
      // A static token: learn its TTL, so it can be renewed. A 403 here means it is invalid.
      const t = staticToken ?? login.token;
      const body = (await transport.send({ op: 'token_lookup_self', method: 'GET', path: vaultPath('auth', 'token', 'lookup-self'), token: t })).body;
      const r = parseResponse('token_lookup_self', tokenLookup, body);
      token = t;
      adopt(r.data.ttl, r.data.renewable ?? false);
      return t;
    }
    let body: Record<string, string>;
    if (login.method === 'approle') body = { role_id: login.roleId, secret_id: await readSecret(login.secretIdFile) };
    else if (login.method === 'kubernetes') body = { role: login.role, jwt: await readSecret(login.jwtFile) };
    else body = { ...(login.role === undefined ? {} : { role: login.role }), jwt: await readSecret(login.jwtFile) };
    const res = await transport.send({ op: `login_${login.method}`, method: 'POST', path: vaultPath('auth', ...splitPath(login.mount, 'auth mount'), 'login'), body });
    const auth = parseResponse(`login_${login.method}`, authEnvelope, res.body).auth;
    const fresh = tokenOf(auth);
    token = fresh;
    adopt(auth.lease_duration, auth.renewable);
    return fresh;
  };

  /** Single-flight login. On failure, retry in the background with backoff while the process runs. */
  const relogin = (): Promise<Secret> => {
    if (inflight !== undefined) return inflight;
    const p = doLogin()
      .then((t) => {
        const again = loggedIn;
        loggedIn = true;
        obs.authEvent?.(login.method === 'token' ? 'lookup' : 'login', { ...(expiresAt === undefined ? {} : { ttl_s: Math.round((expiresAt - now()) / 1000) }), ...(again ? { cause: 'relogin' } : {}) });
        if (again && login.method !== 'token') changed('relogin');
        return t;
      })
      .catch((err: unknown) => {
        obs.authEvent?.('login_failed', { err });
        failures += 1;
        if (login.method !== 'token') schedule(() => void relogin().catch(() => undefined), backoffDelay(failures, random, backoff));
        throw err;
      })
      .finally(() => { inflight = undefined; });
    inflight = p;
    return p;
  };

  const renew = async (): Promise<void> => {
    if (closed || token === undefined) return;
    const before = expiresAt;
    try {
      const inc = options.renewIncrementS ?? lastTtlS;
      const res = await transport.send({ op: 'token_renew_self', method: 'POST', path: vaultPath('auth', 'token', 'renew-self'), token, body: inc > 0 ? { increment: `${inc}s` } : {} });
      const auth = parseResponse('token_renew_self', authEnvelope, res.body).auth;
      const newExpiry = auth.lease_duration > 0 ? now() + auth.lease_duration * 1000 : undefined;
      obs.authEvent?.('renewed', { ttl_s: auth.lease_duration });
      // Renewal that stops extending the token means max TTL: log in again before it runs out.
      const extends_ = newExpiry !== undefined && before !== undefined && newExpiry > before + 1000;
      if (!extends_ && login.method !== 'token' && newExpiry !== undefined) {
        expiresAt = newExpiry;
        obs.authEvent?.('max_ttl', { ttl_s: auth.lease_duration });
        schedule(() => void relogin().catch(() => undefined), renewDelay(newExpiry - now(), random));
        return;
      }
      adopt(auth.lease_duration, auth.renewable);
    } catch (err) {
      obs.authEvent?.('renew_failed', { err });
      if (err instanceof VaultError && err.permissionDenied && login.method !== 'token') {
        await relogin().catch(() => undefined);
        return;
      }
      failures += 1;
      const left = expiresAt === undefined ? Infinity : expiresAt - now();
      if (left <= 0 && login.method !== 'token') {
        await relogin().catch(() => undefined);
        return;
      }
      schedule(() => void renew(), Math.min(backoffDelay(failures, random, backoff), Math.max(0, left)));
    }
  };

  /** Re-reads tokenFile; a different, non-empty token is looked up and adopted, else the old one stays. */
  const rereadTokenFile = async (): Promise<boolean> => {
    if (login.method !== 'token' || login.tokenFile === undefined || closed) return false;
    let text: string;
    try {
      text = await readSecret(login.tokenFile);
    } catch (err) {
      obs.authEvent?.('token_file_unreadable', { err });
      return false;
    }
    if (text === '' || text === staticToken?.reveal()) return false;
    const previous = staticToken;
    staticToken = new Secret(text);
    try {
      await relogin();
    } catch (err) {
      staticToken = previous; // the new token is refused: keep the one that works
      throw err;
    }
    obs.authEvent?.('token_file_changed');
    changed('token_file');
    return true;
  };

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (login.method === 'token' && login.tokenFile !== undefined && options.watchTokenFile !== false) {
    const name = basename(login.tokenFile);
    try {
      // The directory is watched, so an agent that replaces the file (rename) is seen too.
      watcher = watch(dirname(login.tokenFile), (_event, file) => {
        if (file !== null && file !== name && !file.startsWith('..')) return;
        if (debounce !== undefined) clearTimeout(debounce);
        debounce = setTimeout(() => { debounce = undefined; void rereadTokenFile().catch(() => undefined); }, 100);
        debounce.unref();
      });
      watcher.unref();
    } catch (err) {
      obs.authEvent?.('token_file_unwatched', { err });
    }
  }

  return {
    get expiresAt() {
      return expiresAt;
    },
    async start() {
      if (loggedIn && token !== undefined && (expiresAt === undefined || expiresAt > now())) return;
      await relogin();
    },
    onTokenChange(listener) {
      listeners.push(listener);
    },
    rereadTokenFile,
    async token() {
      if (closed) throw new VaultError('token', 'transport', undefined, 'the Vault client is closed');
      if (token !== undefined && (expiresAt === undefined || expiresAt > now())) return token;
      if (login.method === 'token') return staticToken ?? login.token;
      return relogin();
    },
    async reauthenticate() {
      if (login.method === 'token') {
        // A token written by Vault Agent next to Tollgate: the agent may have logged in again.
        if (await rereadTokenFile().catch(() => false)) return staticToken ?? login.token;
        throw new VaultError('login_token', 'http', 403, 'the configured token is refused and cannot log in again');
      }
      obs.authEvent?.('relogin', { cause: 'permission_denied' });
      return relogin();
    },
    async close() {
      if (closed) return;
      closed = true;
      cancel?.();
      cancel = undefined;
      watcher?.close();
      if (debounce !== undefined) clearTimeout(debounce);
      if ((options.revokeOnClose ?? true) && login.method !== 'token' && token !== undefined) {
        try {
          await transport.send({ op: 'token_revoke_self', method: 'POST', path: vaultPath('auth', 'token', 'revoke-self'), token, noRetry: true });
        } catch {
          // Best effort: the token expires on its own.
        }
      }
      token = undefined;
    },
  };
}
