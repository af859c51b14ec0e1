import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { ProcessingRequest } from '../wire/ext-proc.ts';

/**
 * OpenTelemetry traces, optional and off by default (`telemetry.tracing`). The caller's W3C trace
 * context (`traceparent`: Envoy passes the request's headers to ext_authz and ext_proc
 * alike) parents Tollgate's spans, so a request's Check and its ext_proc stream join the caller's trace:
 *
 *   tollgate.ext_authz.check          (SERVER, one per Check)
 *   tollgate.ext_proc                 (SERVER, one per ext_proc stream, i.e. per request)
 *     ├─ tollgate.ext_proc.<phase>    (INTERNAL, one per Envoy message: request_headers, request_body, …)
 *     └─ <operation> <model>          (CLIENT, the model call as Envoy makes it: from the request body
 *                                      going upstream to the end of the response; GenAI semantic conventions)
 *
 * Attributes are identifiers, sizes, statuses and token counts only: never prompt or response text,
 * headers, keys or credentials. Without a `traceparent` each side starts its own trace. When tracing
 * is off every hook is a shared no-op, so the request path pays one branch.
 */

export interface TracingConfig {
  readonly enabled: boolean;
  /** The OTLP/HTTP traces endpoint (JSON encoding), e.g. http://collector:4318/v1/traces. */
  readonly endpoint: string;
  /** Fraction of new traces sampled; a caller's sampled flag is followed either way (parent-based). */
  readonly sampleRatio: number;
  readonly serviceName: string;
}

/** What a phase hook reads from the request's state (processing/RequestState satisfies it). */
export interface TraceFacts {
  readonly decisionId: string;
  readonly requestId: string | undefined;
  readonly provider: { readonly name: string; readonly config: { readonly kind: string } } | undefined;
  readonly model: string | undefined;
  readonly translator: { readonly operation: string } | undefined;
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number } | undefined;
  readonly status: number | undefined;
  readonly denial: { readonly code: string } | undefined;
  readonly stage: string;
  /** The response body never finished through ext_proc. */
  readonly incomplete: boolean;
}

/** Per ext_proc stream: the stream span, one span per phase, and the model-call span. */
export interface StreamTrace {
  /** Opens the span for one Envoy message; the first message also opens the stream span. */
  phase(msg: ProcessingRequest): void;
  /** Closes the phase span opened last; starts the model-call span once the request goes upstream. */
  phaseDone(facts: TraceFacts): void;
  /** The stream is over (how the gRPC stream ended): closes whatever is open. Idempotent. */
  end(facts: TraceFacts, streamEnd: 'ended' | 'cancelled' | 'failed'): void;
}

export interface CheckTrace {
  end(attrs: { readonly decision: string; readonly reason: string; readonly provider: string | undefined; readonly identity: string | undefined; readonly decisionId: string }): void;
}

const NOOP_STREAM: StreamTrace = Object.freeze({ phase: () => undefined, phaseDone: () => undefined, end: () => undefined });
const NOOP_CHECK: CheckTrace = Object.freeze({ end: () => undefined });

const TRACER_NAME = 'tollgate';
let tracer: Tracer | undefined;

/** gen_ai.system for a provider kind (the OpenTelemetry GenAI registry's well-known values). */
const GENAI_SYSTEM: Readonly<Record<string, string>> = {
  openai: 'openai', 'azure-openai': 'az.ai.openai', anthropic: 'anthropic', bedrock: 'aws.bedrock', vertex: 'gcp.vertex_ai', 'openai-compatible': '_OTHER',
};
/** gen_ai.operation.name for a provider operation; anything else keeps its own name. */
const GENAI_OPERATION: Readonly<Record<string, string>> = {
  chat: 'chat', messages: 'chat', converse: 'chat', converse_stream: 'chat', completions: 'text_completion', embeddings: 'embeddings',
  generate_content: 'generate_content', stream_generate_content: 'generate_content', responses: 'chat',
};

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/**
 * The W3C trace context of `traceparent` as a parent Context, or ROOT_CONTEXT when absent or malformed
 * (version ff, all-zero ids). Only the parent's ids and sampled flag are used; `tracestate` is not carried.
 */
export function parentFromHeaders(get: (name: string) => string | undefined): Context {
  const tp = get('traceparent')?.trim().toLowerCase();
  const m = tp === undefined ? null : TRACEPARENT_RE.exec(tp);
  if (m === null) return ROOT_CONTEXT;
  const [, version, traceId = '', spanId = '', flags = '00'] = m;
  if (version === 'ff' || (version === '00' && tp !== undefined && tp.length !== 55) || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, isRemote: true, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED });
}

/** A header of an ext_proc headers message, by lower-case name. */
function procHeader(msg: ProcessingRequest, name: string): string | undefined {
  const h = msg.request_headers ?? msg.response_headers;
  for (const hv of h?.headers?.headers ?? []) {
    if ((hv.key ?? '').toLowerCase() !== name) continue;
    return hv.raw_value !== undefined && hv.raw_value.length > 0 ? hv.raw_value.toString('latin1') : (hv.value ?? '');
  }
  return undefined;
}

export interface TracingHandle {
  /** Exports what is buffered and stops the provider; hooks become no-ops. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for this process when `cfg.enabled` (a process-wide tracer, as OpenTelemetry's API
 * keeps it). `exporter` replaces the OTLP/HTTP exporter (tests). Returns undefined when off.
 */
export function initTracing(cfg: TracingConfig, options: { exporter?: SpanExporter; scheduledDelayMs?: number } = {}): TracingHandle | undefined {
  if (!cfg.enabled) return undefined;
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: cfg.endpoint, timeoutMillis: 5_000 });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': cfg.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: options.scheduledDelayMs ?? 1_000, maxQueueSize: 8_192 })],
  });
  const own = provider.getTracer(TRACER_NAME);
  tracer = own;
  return {
    async shutdown() {
      if (tracer === own) tracer = undefined;
      await provider.shutdown();
    },
  };
}

/** True while a tracer is installed. */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

/** The span for one ext_authz Check, parented by the request's trace context. */
export function traceCheck(headers: Readonly<Record<string, string>>): CheckTrace {
  const t = tracer;
  if (t === undefined) return NOOP_CHECK;
  const span = t.startSpan('tollgate.ext_authz.check', { kind: SpanKind.SERVER }, parentFromHeaders((n) => headers[n]));
  return {
    end(a) {
      const attrs: Attributes = { 'tollgate.decision': a.decision, 'tollgate.reason': a.reason, 'tollgate.decision_id': a.decisionId };
      if (a.provider !== undefined) attrs['tollgate.provider'] = a.provider;
      if (a.identity !== undefined) attrs['tollgate.identity'] = a.identity;
      span.setAttributes(attrs);
      if (a.decision === 'deny') span.setStatus({ code: SpanStatusCode.ERROR, message: a.reason });
      span.end();
    },
  };
}

/** The trace of one ext_proc stream (a no-op when tracing is off). */
export function traceStream(): StreamTrace {
  const t = tracer;
  return t === undefined ? NOOP_STREAM : new ActiveStreamTrace(t);
}

class ActiveStreamTrace implements StreamTrace {
  readonly #tracer: Tracer;
  #stream: Span | undefined;
  #ctx: Context = ROOT_CONTEXT;
  #phase: Span | undefined;
  #model: Span | undefined;
  #ended = false;

  constructor(t: Tracer) {
    this.#tracer = t;
  }

  phase(msg: ProcessingRequest): void {
    if (this.#ended) return;
    if (this.#stream === undefined) {
      this.#stream = this.#tracer.startSpan('tollgate.ext_proc', { kind: SpanKind.SERVER }, parentFromHeaders((n) => procHeader(msg, n)));
      this.#ctx = trace.setSpan(ROOT_CONTEXT, this.#stream);
    }
    this.#phase = this.#tracer.startSpan(`tollgate.ext_proc.${msg.request ?? 'unknown'}`, { kind: SpanKind.INTERNAL }, this.#ctx);
  }

  phaseDone(facts: TraceFacts): void {
    const p = this.#phase;
    this.#phase = undefined;
    p?.end();
    // The request is on its way to the provider: the model call starts now.
    if (this.#model === undefined && !this.#ended && (facts.stage === 'upstream' || facts.stage === 'response_body') && facts.provider !== undefined) {
      const op = facts.translator?.operation ?? 'custom';
      const name = GENAI_OPERATION[op] ?? op;
      const attrs: Attributes = { 'gen_ai.operation.name': name, 'gen_ai.system': GENAI_SYSTEM[facts.provider.config.kind] ?? '_OTHER', 'tollgate.provider': facts.provider.name };
      if (facts.model !== undefined) attrs['gen_ai.request.model'] = facts.model;
      this.#model = this.#tracer.startSpan(facts.model === undefined ? name : `${name} ${facts.model}`, { kind: SpanKind.CLIENT, attributes: attrs }, this.#ctx);
    }
  }

  end(facts: TraceFacts, streamEnd: 'ended' | 'cancelled' | 'failed'): void {
    if (this.#ended) return;
    const outcome = streamEnd === 'failed' ? 'failed' : facts.denial !== undefined ? 'denied' : facts.incomplete || facts.status === undefined ? 'cancelled' : 'completed';
    this.#ended = true;
    this.#phase?.end();
    this.#phase = undefined;
    const m = this.#model;
    if (m !== undefined) {
      if (facts.usage !== undefined) m.setAttributes({ 'gen_ai.usage.input_tokens': facts.usage.inputTokens, 'gen_ai.usage.output_tokens': facts.usage.outputTokens });
      if (facts.status !== undefined) m.setAttribute('http.response.status_code', facts.status);
      if (outcome !== 'completed' || (facts.status !== undefined && facts.status >= 400)) m.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      m.end();
    }
    const s = this.#stream;
    if (s === undefined) return;
    const attrs: Attributes = { 'tollgate.decision_id': facts.decisionId, 'tollgate.outcome': outcome };
    if (facts.requestId !== undefined) attrs['tollgate.request_id'] = facts.requestId;
    if (facts.provider !== undefined) attrs['tollgate.provider'] = facts.provider.name;
    if (facts.status !== undefined) attrs['http.response.status_code'] = facts.status;
    if (facts.denial !== undefined) attrs['tollgate.reason'] = facts.denial.code;
    s.setAttributes(attrs);
    if (outcome === 'failed' || outcome === 'denied') s.setStatus({ code: SpanStatusCode.ERROR, message: facts.denial?.code ?? outcome });
    s.end();
  }
}
