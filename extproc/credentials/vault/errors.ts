// Vault errors: status and a short reason, never a token, a secret or a lease id.

export type VaultErrorKind = 'http' | 'transport' | 'timeout' | 'breaker_open' | 'invalid_response';

export class VaultError extends Error {
  readonly op: string;
  readonly kind: VaultErrorKind;
  /** The HTTP status for kind "http". */
  readonly status: number | undefined;

  /** For kind "transport": the socket or TLS error code (ECONNREFUSED, ECONNRESET, ENOTFOUND, ...). */
  readonly transportCode: string | undefined;

  constructor(op: string, kind: VaultErrorKind, status: number | undefined, reason: string, transportCode?: string) {
    super(`vault ${op}: ${kind === 'http' ? `HTTP ${status ?? '?'}` : kind}${reason === '' ? '' : ` (${reason})`}`);
    this.name = 'VaultError';
    this.op = op;
    this.kind = kind;
    this.status = status;
    this.transportCode = transportCode;
  }

  /**
   * What went wrong, named for an operator's log line: connection_refused, connection_reset,
   * dns_failure, tls_failure, timeout, sealed_or_unavailable, denied, not_found, breaker_open, ...
   */
  get condition(): string {
    if (this.kind === 'transport') {
      const c = this.transportCode ?? '';
      if (c === 'ECONNREFUSED') return 'connection_refused';
      if (c === 'ECONNRESET' || c === 'EPIPE') return 'connection_reset';
      if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return 'dns_failure';
      if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(c)) return 'tls_failure';
      return 'transport_failure';
    }
    return outcomeOf(this);
  }

  /**
   * Asking again will not help until something changes in Vault or in the config: 4xx other than
   * 429 and 412 (a missing path, a policy gap after a fresh login), or an answer of the wrong shape.
   */
  get permanent(): boolean {
    if (this.kind === 'invalid_response') return true;
    return this.kind === 'http' && this.status !== undefined && this.status >= 400 && this.status < 500 && this.status !== 429 && this.status !== 412;
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
