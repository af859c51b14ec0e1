import type { AnomalyConfig, AnomalyFlag } from '../config/state-schema.ts';
import { StateUnavailableError, type OnStateError } from './state-errors.ts';
import type { BaselineParams, BaselineSnapshot, StateStore } from './state-store.ts';

export interface Observation {
  readonly identity: string;
  readonly provider: string;
  /**
   * A normalised operation, e.g. "POST /v1/chat/completions". Never a raw path with ids in it: each
   * distinct value is remembered (up to maxDistinct per identity).
   */
  readonly endpoint: string;
  /** The body size; undefined for a request without a body (it counts, but is no size sample). */
  readonly requestBytes: number | undefined;
}

export interface AnomalyResult {
  /** Flags for the audit record and metrics, in a fixed order. */
  readonly flags: readonly AnomalyFlag[];
  /** The subset of flags the config says to refuse. */
  readonly deny: readonly AnomalyFlag[];
  /** True when the store was unavailable and anomaly.onStateError let the request through unobserved. */
  readonly degraded: boolean;
  readonly baseline: BaselineSnapshot | undefined;
}

export type AnomalySettings = Omit<AnomalyConfig, 'enabled' | 'onStateError'>;

/**
 * The flags a sample earns against its identity's baseline as it stood before the sample. All flags
 * wait for warm-up, so a new identity first builds a baseline:
 * - prompt_size_spike: after warmupRequests with a body, bytes ≥ promptSpikeMinBytes and > promptSpikeFactor × EWMA(bytes);
 * - burst: after warmupBuckets closed buckets, requests in this bucket ≥ burstMinRequests and > burstFactor × EWMA(requests per bucket);
 * - first_provider / first_endpoint: after warmupRequests, a provider or endpoint this identity never used.
 */
export function anomalyFlags(s: BaselineSnapshot, bytes: number | undefined, c: AnomalySettings): AnomalyFlag[] {
  const flags: AnomalyFlag[] = [];
  const warm = s.requestsBefore >= c.warmupRequests;
  if (bytes !== undefined && s.sizedBefore >= c.warmupRequests && bytes >= c.promptSpikeMinBytes && bytes * 1000 > c.promptSpikeFactor * s.bytesEwmaMilli) flags.push('prompt_size_spike');
  if (s.bucketsSeen >= c.warmupBuckets && s.bucketCount >= c.burstMinRequests && s.bucketCount * 1000 > c.burstFactor * s.rateEwmaMilli) flags.push('burst');
  if (warm && s.newProvider) flags.push('first_provider');
  if (warm && s.newEndpoint) flags.push('first_endpoint');
  return flags;
}

/** Per-identity egress baselines kept in the state store, so every replica reads and feeds the same one. */
export class AnomalyDetector {
  readonly #store: StateStore;
  readonly #settings: AnomalySettings;
  readonly #params: BaselineParams;
  readonly #onError: OnStateError;

  constructor(store: StateStore, config: AnomalyConfig, options: { onError: OnStateError }) {
    this.#store = store;
    this.#settings = config;
    this.#params = { bucketMs: config.bucket, alpha: config.alpha, maxDistinct: config.maxDistinct, idleTtlMs: config.idleTtl };
    this.#onError = config.onStateError ?? options.onError;
  }

  async observe(o: Observation): Promise<AnomalyResult> {
    let baseline: BaselineSnapshot;
    try {
      baseline = await this.#store.observeBaseline(`id:${o.identity}`, {
        bytes: o.requestBytes === undefined ? undefined : Math.max(0, Math.floor(o.requestBytes)), provider: o.provider, endpoint: `${o.provider} ${o.endpoint}`.slice(0, 300),
      }, this.#params);
    } catch (err) {
      if (err instanceof StateUnavailableError && this.#onError === 'allow') return { flags: [], deny: [], degraded: true, baseline: undefined };
      throw err;
    }
    const flags = anomalyFlags(baseline, o.requestBytes, this.#settings);
    return { flags, deny: flags.filter((f) => this.#settings.deny.includes(f)), degraded: false, baseline };
  }
}
