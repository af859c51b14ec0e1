import { TollgateError } from '../errors.ts';

/**
 * The state store could not answer in time (down, slow, or refusing). `reason` is for logs and metrics;
 * it never holds a key, a password or a URL with credentials. A TollgateError with the catalogue code
 * `state_unavailable` (503), so that any caller that does not handle it (the single-use claim on the
 * ext_authz context, for one) still fails closed with the documented status, not a generic 500.
 */
export class StateUnavailableError extends TollgateError {
  override readonly code = 'state_unavailable';
  readonly reason: 'timeout' | 'unavailable' | 'error';
  readonly operation: string;

  constructor(operation: string, reason: 'timeout' | 'unavailable' | 'error', options?: { cause?: unknown }) {
    super('state_unavailable', `state store ${reason} during ${operation}`, options);
    this.name = 'StateUnavailableError';
    this.operation = operation;
    this.reason = reason;
  }
}

/** What to do when the state store is unavailable: refuse the request (the default) or let it through unmetered. */
export type OnStateError = 'deny' | 'allow';

/** Retry-After in whole seconds, at least 1, from milliseconds (Infinity becomes the cap). */
export function retryAfterSeconds(ms: number, capSeconds = 86_400 * 31): number {
  if (!Number.isFinite(ms)) return capSeconds;
  return Math.min(capSeconds, Math.max(1, Math.ceil(ms / 1000)));
}
