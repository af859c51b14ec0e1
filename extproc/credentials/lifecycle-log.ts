// Vault and credential lifecycle → metrics and one structured log line per change, with its cause.
// Nothing here sees a secret: the observers get names, scopes, conditions and sanitised messages.
import { TollgateError } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { BrokerObserver, LeaseEventKind } from './broker.ts';
import type { CredentialScope } from './credential-source.ts';
import { VaultError } from './vault/errors.ts';
import type { VaultObserver } from './vault/transport.ts';

/** The Vault condition behind an error (connection_refused, sealed_or_unavailable, not_found, ...). */
export function conditionOf(err: unknown): string {
  const inner = err instanceof TollgateError && err.cause !== undefined ? err.cause : err;
  if (inner instanceof VaultError) return inner.condition;
  if (inner instanceof TollgateError) return inner.code;
  if (typeof inner === 'object' && inner !== null && typeof (inner as { code?: unknown }).code === 'string') return (inner as { code: string }).code;
  return 'error';
}

/**
 * The one line for a request refused because its provider credential could not be had (an operational
 * condition, not a bug): no stack, the scope and the cause. ext_authz and ext_proc each add their ids.
 */
export function logNoCredential(logger: Logger, e: TollgateError, scope: { readonly tenant?: string | undefined; readonly identity?: string | undefined; readonly provider?: string | undefined }, extra: Readonly<Record<string, unknown>>): void {
  logger.warn({ code: e.code, ...extra, tenant: scope.tenant, identity: scope.identity, provider: scope.provider, cause: conditionOf(e), error: e.message }, 'request failed: no provider credential');
}

/** A short message for a log line: our own errors only carry sanitised text (no token, no secret). */
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : 'failed').slice(0, 300);

const scopeFields = (s: CredentialScope | undefined): Record<string, string> => (s === undefined ? {} : { tenant: s.tenant, identity: s.identity, provider: s.provider });

const AUTH_LINES: Readonly<Record<string, { level: 'info' | 'warn' | 'error'; msg: string }>> = {
  login: { level: 'info', msg: 'vault login' },
  lookup: { level: 'info', msg: 'vault token looked up' },
  renewed: { level: 'info', msg: 'vault token renewed' },
  max_ttl: { level: 'info', msg: 'vault token reached its max TTL; logging in again before it expires' },
  relogin: { level: 'warn', msg: 'vault refused the token; logging in again' },
  renew_failed: { level: 'warn', msg: 'vault token renewal failed' },
  login_failed: { level: 'error', msg: 'vault login failed' },
  token_file_changed: { level: 'info', msg: 'vault token file changed; the new token is in use' },
  token_file_unreadable: { level: 'warn', msg: 'vault token file unreadable; the current token stays' },
  token_file_unwatched: { level: 'warn', msg: 'cannot watch the vault token file; it is re-read on 403 and on a forced refresh' },
};

const LEASE_WARN: ReadonlySet<LeaseEventKind> = new Set(['revoke_failed', 'expired', 'ttl_below_margin']);

/** The observers the composition root hands to the Vault runtime and to the credential broker. */
export function credentialObservers(metrics: Metrics, logger: Logger): { readonly vault: VaultObserver; readonly broker: BrokerObserver } {
  return {
    vault: {
      vaultCall: (op, outcome, seconds) => { metrics.vaultCalls.inc({ op, outcome }); metrics.vaultCallSeconds.observe(seconds); },
      breakerRejected: (op) => { metrics.vaultBreakerRejections.inc({ op }); },
      authEvent: (kind, detail) => {
        metrics.vaultAuthEvents.inc({ kind });
        const line = AUTH_LINES[kind] ?? { level: 'info', msg: `vault auth ${kind}` };
        const fields = {
          event: `vault_${kind}`,
          ...(detail?.cause === undefined ? {} : { cause: detail.cause }),
          ...(detail?.ttl_s === undefined ? {} : { ttl_s: detail.ttl_s }),
          ...(detail?.err === undefined ? {} : { cause: conditionOf(detail.err), error: messageOf(detail.err) }),
        };
        logger[line.level](fields, line.msg);
      },
      breakerState: (state, cause) => {
        metrics.vaultBreakerOpen.set(state === 'open' ? 1 : 0);
        const fields = { event: 'vault_breaker', state, ...(cause === undefined ? {} : { cause }) };
        if (state === 'open') logger.warn(fields, 'vault circuit breaker open; Vault calls are paused, cached credentials keep serving');
        else logger.info(fields, state === 'half_open' ? 'vault circuit breaker half-open; one probe call' : 'vault circuit breaker closed');
      },
    },
    broker: {
      leaseEvent: (kind, source, detail) => {
        metrics.leaseEvents.inc({ kind, source });
        const fields = {
          event: `credential_${kind}`, source, ...scopeFields(detail?.scope),
          ...(detail?.cause === undefined ? {} : { cause: detail.cause }),
          ...(detail?.ttlMs === undefined ? {} : { ttl_ms: detail.ttlMs, expiry_margin_ms: detail.marginMs }),
        };
        if (kind === 'ttl_below_margin') logger.warn(fields, 'credential refused: it lives no longer than vault.expiryMarginMs; give the lease a longer TTL or lower the margin');
        else if (LEASE_WARN.has(kind)) logger.warn(fields, `credential ${kind.replace('_', ' ')}`);
        else logger.info(fields, `credential lease ${kind.replace('_', ' ')}`);
      },
      refreshFailed: (source, n, err, scope) => {
        metrics.credentialRefreshFailures.inc({ source });
        logger.warn({ event: 'credential_refresh_failed', source, ...scopeFields(scope), cause: conditionOf(err), error: messageOf(err), consecutive_failures: n }, 'credential refresh failed; a valid credential keeps serving');
      },
      lookup: (result) => { metrics.credentialLookups.inc({ result }); },
    },
  };
}
