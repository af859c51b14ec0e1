import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric Tollgate exports, declared in one place. `reason` labels are error-catalogue codes. */
export interface Metrics {
  readonly registry: Registry;
  readonly authzDecisions: Counter<'decision' | 'reason' | 'provider'>;
  readonly processedRequests: Counter<'outcome' | 'reason' | 'provider'>;
  readonly phaseSeconds: Histogram<'phase'>;
  readonly activeStreams: Gauge;
  readonly auditRecords: Counter<'stage'>;
  readonly tokens: Counter<'provider' | 'direction'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  const registers = [registry];
  return {
    registry,
    authzDecisions: new Counter({ name: 'tollgate_authz_decisions_total', help: 'ext_authz decisions.', labelNames: ['decision', 'reason', 'provider'], registers }),
    processedRequests: new Counter({ name: 'tollgate_requests_total', help: 'Requests that ended in ext_proc, by outcome.', labelNames: ['outcome', 'reason', 'provider'], registers }),
    phaseSeconds: new Histogram({
      name: 'tollgate_phase_duration_seconds',
      help: 'Time Tollgate spent answering one Envoy message, by phase.',
      labelNames: ['phase'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2],
      registers,
    }),
    activeStreams: new Gauge({ name: 'tollgate_extproc_active_streams', help: 'Open ext_proc streams.', registers }),
    auditRecords: new Counter({ name: 'tollgate_audit_records_total', help: 'Audit records written.', labelNames: ['stage'], registers }),
    tokens: new Counter({ name: 'tollgate_tokens_total', help: 'Tokens reported by providers.', labelNames: ['provider', 'direction'], registers }),
  };
}
