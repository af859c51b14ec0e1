import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric Tollgate exports, declared in one place. `reason` labels are error-catalogue codes. */
export interface Metrics {
  readonly registry: Registry;
  readonly authzDecisions: Counter<'decision' | 'reason' | 'provider'>;
  /** `upstream_status_class`: what the upstream answered (`2xx`, `4xx`, …), `none` when nothing came back. */
  readonly processedRequests: Counter<'outcome' | 'reason' | 'provider' | 'upstream_status_class'>;
  /** Time Tollgate took to answer one ext_authz Check, by decision. */
  readonly checkSeconds: Histogram<'decision'>;
  readonly phaseSeconds: Histogram<'phase'>;
  readonly activeStreams: Gauge;
  /** ext_proc streams that ended without a single message: counted here, never audited one by one. */
  readonly emptyStreams: Counter;
  readonly auditRecords: Counter<'stage'>;
  /** `model`: see modelLabel (bounded). */
  readonly tokens: Counter<'provider' | 'model' | 'direction'>;
  readonly policyRevision: Gauge<'revision'>;
  readonly anomalyFlags: Counter<'flag' | 'provider'>;
  readonly findings: Counter<'type' | 'direction' | 'action'>;
  readonly costMicro: Counter<'provider' | 'model'>;
  /** The bounded `model` label value for tokens and cost (modelLabeller). */
  readonly modelLabel: (model: string | null | undefined) => string;
  readonly policyReloads: Counter<'result'>;
  readonly vaultCalls: Counter<'op' | 'outcome'>;
  readonly vaultCallSeconds: Histogram;
  readonly vaultAuthEvents: Counter<'kind'>;
  readonly vaultBreakerOpen: Gauge;
  /** Calls the open breaker refused: no HTTP call went to Vault (not counted in vaultCalls). */
  readonly vaultBreakerRejections: Counter<'op'>;
  /** Seconds since the source last confirmed the oldest cached credential, per source (read at scrape). */
  readonly credentialAge: Gauge<'source'>;
  /** Where credentialAge reads the ages from (the broker's ages(), in ms), set once by the composition root. */
  credentialAgesFrom(read: () => ReadonlyMap<string, number>): void;
  readonly leaseEvents: Counter<'kind' | 'source'>;
  readonly credentialRefreshFailures: Counter<'source'>;
  readonly credentialLookups: Counter<'result'>;
  /** Shared-state calls (Redis): latency by operation, and failures by operation and reason (timeout, unavailable, error). */
  readonly stateCallSeconds: Histogram<'operation'>;
  readonly stateErrors: Counter<'operation' | 'reason'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Node's process metrics under their standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), as dashboards expect.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let readAges: () => ReadonlyMap<string, number> = () => new Map();
  return {
    registry,
    authzDecisions: new Counter({ name: 'tollgate_authz_decisions_total', help: 'ext_authz decisions.', labelNames: ['decision', 'reason', 'provider'], registers }),
    processedRequests: new Counter({
      name: 'tollgate_requests_total',
      help: 'Requests that ended in ext_proc, by outcome and the class of the upstream status (none: nothing came back from upstream).',
      labelNames: ['outcome', 'reason', 'provider', 'upstream_status_class'],
      registers,
    }),
    checkSeconds: new Histogram({
      name: 'tollgate_authz_check_seconds',
      help: 'Time Tollgate took to answer one ext_authz Check (a credential lookup for a request without a body included), by decision.',
      labelNames: ['decision'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    phaseSeconds: new Histogram({
      name: 'tollgate_phase_duration_seconds',
      help: 'Time Tollgate spent answering one Envoy message, by message type (the phase label).',
      labelNames: ['phase'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2],
      registers,
    }),
    activeStreams: new Gauge({ name: 'tollgate_extproc_active_streams', help: 'Open ext_proc streams.', registers }),
    emptyStreams: new Counter({ name: 'tollgate_extproc_empty_streams_total', help: 'ext_proc streams that ended without carrying a message (no audit record).', registers }),
    auditRecords: new Counter({ name: 'tollgate_audit_records_total', help: 'Audit records written.', labelNames: ['stage'], registers }),
    tokens: new Counter({ name: 'tollgate_tokens_total', help: 'Tokens reported by providers.', labelNames: ['provider', 'model', 'direction'], registers }),
    findings: new Counter({ name: 'tollgate_dlp_findings_total', help: 'Detector findings, by data type, direction and action.', labelNames: ['type', 'direction', 'action'], registers }),
    anomalyFlags: new Counter({ name: 'tollgate_anomaly_flags_total', help: 'Egress anomaly flags raised.', labelNames: ['flag', 'provider'], registers }),
    costMicro: new Counter({ name: 'tollgate_cost_micro_total', help: 'Cost of provider usage, in millionths of the price catalog unit.', labelNames: ['provider', 'model'], registers }),
    modelLabel: modelLabeller(),
    policyRevision: new Gauge({ name: 'tollgate_policy_revision_info', help: 'The policy revision in force (value 1).', labelNames: ['revision'], registers }),
    policyReloads: new Counter({ name: 'tollgate_policy_reloads_total', help: 'Policy reloads: applied, or rejected (the old policy stays).', labelNames: ['result'], registers }),
    vaultCalls: new Counter({ name: 'tollgate_vault_calls_total', help: 'HTTP calls to Vault (each retry counts).', labelNames: ['op', 'outcome'], registers }),
    vaultCallSeconds: new Histogram({ name: 'tollgate_vault_call_seconds', help: 'Duration of one HTTP call to Vault.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    vaultAuthEvents: new Counter({ name: 'tollgate_vault_auth_events_total', help: "Tollgate's own Vault token: login, renewed, relogin, failures.", labelNames: ['kind'], registers }),
    vaultBreakerOpen: new Gauge({ name: 'tollgate_vault_breaker_open', help: '1 while the Vault circuit breaker is open.', registers }),
    vaultBreakerRejections: new Counter({ name: 'tollgate_vault_breaker_rejections_total', help: 'Vault calls refused by the open circuit breaker (no HTTP call was made).', labelNames: ['op'], registers }),
    credentialAge: new Gauge({
      name: 'tollgate_credential_age_seconds',
      help: 'Seconds since its source last confirmed (fetched or renewed) the oldest cached credential, per source.',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const [source, ms] of readAges()) this.set({ source }, Math.round(ms / 100) / 10);
      },
    }),
    credentialAgesFrom(read) {
      readAges = read;
    },
    leaseEvents: new Counter({ name: 'tollgate_credential_lease_events_total', help: 'Credential lease lifecycle events (renewed, refetched, revoked, expired...).', labelNames: ['kind', 'source'], registers }),
    credentialRefreshFailures: new Counter({ name: 'tollgate_credential_refresh_failures_total', help: 'Background credential refreshes that failed (a valid credential keeps serving).', labelNames: ['source'], registers }),
    stateCallSeconds: new Histogram({
      name: 'tollgate_state_call_seconds',
      help: 'Duration of one shared-state call (Redis), by operation, failures included.',
      labelNames: ['operation'],
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    stateErrors: new Counter({ name: 'tollgate_state_errors_total', help: 'Shared-state calls that failed: timeout (slow), unavailable (down) or error.', labelNames: ['operation', 'reason'], registers }),
    credentialLookups: new Counter({ name: 'tollgate_credential_lookups_total', help: 'Credential lookups on the request path: hit (cache), miss (waited for the source), negative (a remembered permanent failure answered), denied (kill switch).', labelNames: ['result'], registers }),
  };
}

/** Distinct model label values one process reports before the rest count as `other`. */
export const MAX_MODEL_LABELS = 64;

/**
 * The `model` label for a model name, with bounded cardinality: a model is a caller-chosen string (the
 * policy checks its charset and grants, which may allow any model), so the first MAX_MODEL_LABELS
 * distinct names keep their own series and later ones share `other`. `none`: the request named none.
 */
export function modelLabeller(max = MAX_MODEL_LABELS): (model: string | null | undefined) => string {
  const seen = new Set<string>();
  return (model) => {
    if (model === undefined || model === null || model === '') return 'none';
    if (seen.has(model)) return model;
    if (seen.size >= max) return 'other';
    seen.add(model);
    return model;
  };
}

/** The state store's observer (state/redis-store.ts StateObserver) feeding the state-store metrics. */
export function stateObserver(m: Metrics): { call(operation: string, seconds: number, failure: string | undefined): void } {
  return {
    call(operation, seconds, failure) {
      m.stateCallSeconds.observe({ operation }, seconds);
      if (failure !== undefined) m.stateErrors.inc({ operation, reason: failure });
    },
  };
}

type Child<T extends { labels: (...args: never[]) => unknown }> = ReturnType<T['labels']>;

/**
 * The request path's metrics with their fixed label sets bound once per process (a child skips the label
 * lookup on every call): audit records per stage, Check time per decision, message time per ext_proc
 * message type. Labels that vary per request (reason, provider, model) stay on the parent metric.
 */
export interface BoundMetrics {
  readonly auditRecords: Readonly<Record<'authz' | 'proc', Child<Metrics['auditRecords']>>>;
  readonly checkSeconds: Readonly<Record<'allow' | 'deny', Child<Metrics['checkSeconds']>>>;
  /** By ext_proc message type (the `phase` label); `unknown` for a message with none. */
  messageSeconds(kind: string): Child<Metrics['phaseSeconds']>;
}

const bound = new WeakMap<Metrics, BoundMetrics>();

export function boundMetrics(m: Metrics): BoundMetrics {
  let b = bound.get(m);
  if (b !== undefined) return b;
  const messages = new Map<string, Child<Metrics['phaseSeconds']>>();
  b = Object.freeze({
    auditRecords: Object.freeze({ authz: m.auditRecords.labels('authz'), proc: m.auditRecords.labels('proc') }),
    checkSeconds: Object.freeze({ allow: m.checkSeconds.labels('allow'), deny: m.checkSeconds.labels('deny') }),
    messageSeconds(kind: string) {
      let c = messages.get(kind);
      if (c === undefined) {
        c = m.phaseSeconds.labels(kind);
        messages.set(kind, c);
      }
      return c;
    },
  });
  bound.set(m, b);
  return b;
}
