// The only module that calls node-vault. Every HTTP call to Vault goes through send(): counted,
// timed, retried, guarded by the circuit breaker, and turned into a VaultError that carries no token.
import type nodeVaultFactory from 'node-vault';
import { lazyModule } from '../../core/lazy.ts';

const nodeVault = lazyModule<typeof nodeVaultFactory>('node-vault');
import type { Secret } from '../../core/secret.ts';
import { CircuitBreaker } from './breaker.ts';
import { outcomeOf, VaultError } from './errors.ts';
import type { VaultPath } from './paths.ts';

/** What an auth event carries for its log line: never a token. `err` is a VaultError or a file error. */
export interface AuthEventDetail {
  readonly cause?: string;
  readonly ttl_s?: number;
  readonly err?: unknown;
}

/** Callbacks for metrics and lifecycle log lines. Arguments never hold secrets. */
export interface VaultObserver {
  /** One HTTP call to Vault (retries are separate calls). */
  vaultCall?(op: string, outcome: string, seconds: number): void;
  /** A call the open breaker refused: no HTTP call was made. */
  breakerRejected?(op: string): void;
  /** The breaker changed state; `cause` names the failure that opened it. */
  breakerState?(state: string, cause?: string): void;
  /**
   * Tollgate's own token: login, lookup, renewed, max_ttl, relogin, renew_failed, login_failed,
   * token_file_changed, token_file_unreadable, token_file_unwatched.
   */
  authEvent?(kind: string, detail?: AuthEventDetail): void;
}

export interface VaultTlsOptions {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Turns certificate verification off. Only from explicit config (see vault-schema.ts). */
  readonly skipVerify?: boolean;
}

export interface VaultTransportOptions {
  readonly address: string;
  readonly namespace?: string;
  /** Per HTTP call. Default 5 s. */
  readonly timeoutMs?: number;
  readonly tls?: VaultTlsOptions;
  /** Retries of a retryable failure inside one send(). Default 2 (as Vault's Go client). */
  readonly retries?: number;
  readonly retryWaitMinMs?: number;
  readonly retryWaitMaxMs?: number;
  readonly breaker?: CircuitBreaker;
  readonly observer?: VaultObserver;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface VaultRequest {
  /** A short operation name for metrics and errors, e.g. "kv2_read". */
  readonly op: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: VaultPath;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: Readonly<Record<string, unknown>>;
  readonly token?: Secret | undefined;
  /** Do not retry inside send() (the caller handles it, e.g. logins). */
  readonly noRetry?: boolean;
}

export interface VaultResponse {
  readonly status: number;
  /** The parsed JSON body; undefined for 204. */
  readonly body: unknown;
}

export interface VaultTransport {
  send(req: VaultRequest): Promise<VaultResponse>;
  readonly breaker: CircuitBreaker;
  /** HTTP calls made so far (every attempt). */
  readonly calls: number;
}

interface NodeVaultFailure {
  response?: { statusCode?: number; body?: unknown };
  code?: string;
  message?: string;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => { setTimeout(r, ms).unref(); });

/** Vault's first error string, trimmed, with the token and anything token-like cut out, for an error message. */
function reasonFrom(body: unknown, token: string | undefined): string {
  let text = '';
  if (typeof body === 'object' && body !== null && 'errors' in body && Array.isArray(body.errors)) {
    const first: unknown = body.errors[0];
    if (typeof first === 'string') text = first;
  }
  if (token !== undefined && token !== '' && text.includes(token)) text = text.split(token).join('[redacted]');
  // Vault's text can echo what it was sent (keys, lease ids, paths): every token-like run of 16 or
  // more characters is cut, keeping the words ("permission denied", "invalid audience", ...).
  return text.replace(/\s+/g, ' ').replace(/^1 error occurred: \* /, '').replace(/[A-Za-z0-9_\-.+/=:@]{16,}/g, '[…]').trim().slice(0, 160);
}

export function createVaultTransport(options: VaultTransportOptions): VaultTransport {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const retries = options.retries ?? 2;
  const waitMin = options.retryWaitMinMs ?? 1_000;
  const waitMax = options.retryWaitMaxMs ?? 1_500;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? defaultSleep;
  const obs = options.observer ?? {};
  const breaker = options.breaker ?? new CircuitBreaker({ onStateChange: (s, cause) => obs.breakerState?.(s, cause) });
  const tls = options.tls ?? {};
  const strictSSL = tls.skipVerify !== true;

  // node-vault reads VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX and VAULT_SKIP_VERIFY
  // from process.env as defaults (and treats VAULT_SKIP_VERIFY=false as "skip"). We pass every one
  // explicitly and reset the rest after construction, so only the validated config counts.
  const vaultOptions: NonNullable<Parameters<typeof nodeVaultFactory>[0]> & { rpDefaults: { strictSSL: boolean } } = {
    endpoint: options.address,
    apiVersion: 'v1',
    rpDefaults: { strictSSL },
    requestOptions: {
      strictSSL,
      timeout: timeoutMs,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
    },
  };
  const client = nodeVault()(vaultOptions) as ReturnType<typeof nodeVaultFactory> & { pathPrefix: string; namespace: string | undefined };
  client.token = '';
  client.pathPrefix = '';
  client.namespace = undefined;

  let calls = 0;

  const attempt = async (req: VaultRequest): Promise<VaultResponse> => {
    if (!breaker.tryAcquire()) {
      obs.breakerRejected?.(req.op);
      throw new VaultError(req.op, 'breaker_open', undefined, 'Vault has failed repeatedly; calls are paused');
    }
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    const token = req.token?.reveal();
    if (token !== undefined && token !== '') headers['X-Vault-Token'] = token;
    if (options.namespace !== undefined && options.namespace !== '') headers['X-Vault-Namespace'] = options.namespace;
    const qs = req.query === undefined ? '' : `?${new URLSearchParams(req.query).toString()}`;
    calls += 1;
    const started = performance.now();
    let result: VaultResponse | undefined;
    let error: VaultError | undefined;
    try {
      const body: unknown = await client.request({
        path: `${req.path}${qs}`,
        method: req.method,
        headers,
        timeout: timeoutMs,
        strictSSL,
        ...(req.body === undefined ? {} : { json: req.body }),
      });
      result = { status: body === '' || body === undefined ? 204 : 200, body: body === '' ? undefined : body };
    } catch (raw) {
      // Never rethrow raw: axios errors carry the request config, headers and token included.
      const f = (typeof raw === 'object' && raw !== null ? raw : {}) as NodeVaultFailure;
      const status = f.response?.statusCode;
      if (typeof status === 'number') {
        error = new VaultError(req.op, 'http', status, reasonFrom(f.response?.body, token));
      } else if (f.code === 'ECONNABORTED' || f.code === 'ETIMEDOUT' || (f.message ?? '').includes('timeout')) {
        error = new VaultError(req.op, 'timeout', undefined, `no answer within ${timeoutMs} ms`);
      } else {
        error = new VaultError(req.op, 'transport', undefined, typeof f.code === 'string' ? f.code : 'connection failed', typeof f.code === 'string' ? f.code : undefined);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    obs.vaultCall?.(req.op, outcomeOf(error), seconds);
    if (error === undefined) {
      breaker.success();
      return result as VaultResponse;
    }
    if (error.retryable) breaker.failure(error.condition);
    else breaker.neutral();
    throw error;
  };

  return {
    breaker,
    get calls() {
      return calls;
    },
    async send(req) {
      const tries = req.noRetry === true ? 1 : retries + 1;
      for (let i = 1; ; i++) {
        try {
          return await attempt(req);
        } catch (err) {
          if (!(err instanceof VaultError) || !err.retryable || err.kind === 'breaker_open' || i >= tries) throw err;
          await sleep(waitMin + random() * (waitMax - waitMin));
        }
      }
    },
  };
}
