// A circuit breaker for Vault: after repeated failures, calls fail fast for a cool-down, then one probe.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before one probe is let through. Default 5 s. */
  readonly openMs?: number;
  readonly now?: () => number;
  /** `cause`: the failure that opened it, cool_down_over (half-open) or probe_succeeded / probe_failed. */
  readonly onStateChange?: (state: BreakerState, cause: string) => void;
}

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #openMs: number;
  readonly #now: () => number;
  readonly #onChange: ((s: BreakerState, cause: string) => void) | undefined;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(options: BreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? 5;
    this.#openMs = options.openMs ?? 5_000;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onStateChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** May a call go out now? In half-open state only one probe at a time. */
  tryAcquire(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') {
      if (this.#now() - this.#openedAt < this.#openMs) return false;
      this.#set('half_open', 'cool_down_over');
    }
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== 'closed') this.#set('closed', 'probe_succeeded');
  }

  /** `condition` names the failure (connection_refused, sealed_or_unavailable, ...) for the log line. */
  failure(condition = 'failure'): void {
    this.#probing = false;
    this.#failures += 1;
    if (this.#state === 'half_open' || this.#failures >= this.#threshold) {
      this.#openedAt = this.#now();
      if (this.#state !== 'open') this.#set('open', this.#state === 'half_open' ? `probe_failed: ${condition}` : `${this.#failures} consecutive failures, last: ${condition}`);
    }
  }

  /** A call that ended without telling us about Vault's health (e.g. a 404): frees a probe slot. */
  neutral(): void {
    if (this.#state === 'half_open') this.success();
    this.#probing = false;
  }

  #set(s: BreakerState, cause: string): void {
    this.#state = s;
    this.#onChange?.(s, cause);
  }
}
