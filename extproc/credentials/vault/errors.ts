// Vault errors: status and a short reason, never a token, a secret or a lease id.

export type VaultErrorKind = 'http' | 'transport' | 'timeout' | 'breaker_open' | 'invalid_response';

export class VaultError extends Error {
  readonly op: string;
  readonly kind: VaultErrorKind;
  /** The HTTP status for kind "http". */
  readonly status: number | undefined;

  constructor(op: string, kind: VaultErrorKind, status: number | undefined, reason: string) {
    super(`vault ${op}: ${kind === 'http' ? `HTTP ${status ?? '?'}` : kind}${reason === '' ? '' : ` (${reason})`}`);
    this.name = 'VaultError';
    this.op = op;
    this.kind = kind;
    this.status = status;
  }

  /** Worth retrying later: unreachable, timeouts, 5xx other than 501, 429, 412. */
  get retryable(): boolean {
    if (this.kind === 'transport' || this.kind === 'timeout') return true;
    if (this.kind !== 'http' || this.status === undefined) return false;
    return this.status === 429 || this.status === 412 || (this.status >= 500 && this.status !== 501);
  }

  /** A 403: a bad or expired token or a missing policy; worth one fresh login. */
  get permissionDenied(): boolean {
    return this.kind === 'http' && this.status === 403;
  }
}

/** The outcome label for metrics, from an error or success. */
export function outcomeOf(err: unknown): string {
  if (!(err instanceof VaultError)) return err === undefined ? 'ok' : 'error';
  if (err.kind !== 'http') return err.kind;
  const s = err.status ?? 0;
  if (s === 403) return 'denied';
  if (s === 404) return 'not_found';
  if (s === 429) return 'rate_limited';
  if (s === 412) return 'not_replicated';
  if (s === 503) return 'sealed_or_unavailable';
  if (s >= 500) return 'server_error';
  return 'client_error';
}
