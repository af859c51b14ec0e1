import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { lazyModule } from '../core/lazy.ts';

// The SDK, the exporter and their dependencies (about 300 modules) load only when tracing is on.
const exporterModule = lazyModule<typeof import('@opentelemetry/exporter-trace-otlp-http')>('@opentelemetry/exporter-trace-otlp-http');
const resourcesModule = lazyModule<typeof import('@opentelemetry/resources')>('@opentelemetry/resources');
const sdkModule = lazyModule<typeof import('@opentelemetry/sdk-trace')>('@opentelemetry/sdk-trace');

/**
 * OpenTelemetry traces, optional and off by default (`telemetry.tracing`). The caller's W3C trace
 * context (`traceparent`: Envoy passes the request's headers to ext_authz and ext_proc
 * alike) parents Tollgate's spans, so a request's Check and its ext_proc stream join the caller's trace:
 *
 *   tollgate.ext_authz.check          (SERVER, one per Check)
 *   tollgate.ext_proc                 (SERVER, one per ext_proc stream, i.e. per request)
 *     ├─ tollgate.ext_proc.<message>  (INTERNAL, one per Envoy message: request_headers, request_body, …)
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

/** What a message hook reads from the request (processing/ProcRequest satisfies it, so nothing is copied). */
export interface TraceFacts {
  readonly decisionId: string;
  readonly requestId: string | undefined;
  /** Where the stream is (`upstream` and `response_body` mean the request went to the provider). */
  readonly position: string;
  readonly route: {
    readonly provider: { readonly name: string; readonly config: { readonly kind: string } };
    readonly model: string | undefined;
    readonly translator: { readonly operation: string } | undefined;
  } | undefined;
  readonly usage: { readonly reported: { readonly inputTokens: number; readonly outputTokens: number } | undefined };
  readonly response: {
    readonly status: number | undefined;
    /** The response body never finished through ext_proc. */
    readonly incomplete: boolean;
  };
  readonly denial: { readonly code: string } | undefined;
}

/** Per ext_proc stream: the stream span, one span per message, and the model-call span. */
export interface StreamTrace {
  /**
   * Opens the span for one Envoy message of type `kind`; the first message also opens the stream span,
   * parented by the `traceparent` among `headers` (the message's headers, read once by the Session).
   */
  message(kind: string, headers: ReadonlyMap<string, string>): void;
  /** Closes the message span opened last; starts the model-call span once the request goes upstream. */
  messageDone(facts: TraceFacts): void;
  /** The stream is over (how the gRPC stream ended): closes whatever is open. Idempotent. */
  end(facts: TraceFacts, streamEnd: 'ended' | 'cancelled' | 'failed'): void;
}

export interface CheckTrace {
  end(attrs: { readonly decision: string; readonly reason: string; readonly provider: string | undefined; readonly identity: string | undefined; readonly decisionId: string }): void;
}

const NOOP_STREAM: StreamTrace = Object.freeze({ message: () => undefined, messageDone: () => undefined, end: () => undefined });
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
  const { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } = sdkModule();
  const { resourceFromAttributes } = resourcesModule();
  const exporter = options.exporter ?? new (exporterModule().OTLPTraceExporter)({ url: cfg.endpoint, timeoutMillis: 5_000 });
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
  #message: Span | undefined;
  #model: Span | undefined;
  #ended = false;

  constructor(t: Tracer) {
    this.#tracer = t;
  }

  message(kind: string, headers: ReadonlyMap<string, string>): void {
    if (this.#ended) return;
    if (this.#stream === undefined) {
      this.#stream = this.#tracer.startSpan('tollgate.ext_proc', { kind: SpanKind.SERVER }, parentFromHeaders((n) => headers.get(n)));
      this.#ctx = trace.setSpan(ROOT_CONTEXT, this.#stream);
    }
    this.#message = this.#tracer.startSpan(`tollgate.ext_proc.${kind}`, { kind: SpanKind.INTERNAL }, this.#ctx);
  }

  messageDone(facts: TraceFacts): void {
    const p = this.#message;
    this.#message = undefined;
    p?.end();
    // The request is on its way to the provider: the model call starts now.
    const route = facts.route;
    if (this.#model === undefined && !this.#ended && (facts.position === 'upstream' || facts.position === 'response_body') && route !== undefined) {
      const op = route.translator?.operation ?? 'custom';
      const name = GENAI_OPERATION[op] ?? op;
      const attrs: Attributes = { 'gen_ai.operation.name': name, 'gen_ai.system': GENAI_SYSTEM[route.provider.config.kind] ?? '_OTHER', 'tollgate.provider': route.provider.name };
      if (route.model !== undefined) attrs['gen_ai.request.model'] = route.model;
      this.#model = this.#tracer.startSpan(route.model === undefined ? name : `${name} ${route.model}`, { kind: SpanKind.CLIENT, attributes: attrs }, this.#ctx);
    }
  }

  end(facts: TraceFacts, streamEnd: 'ended' | 'cancelled' | 'failed'): void {
    if (this.#ended) return;
    const { status, incomplete } = facts.response;
    const outcome = streamEnd === 'failed' ? 'failed' : facts.denial !== undefined ? 'denied' : incomplete || status === undefined ? 'cancelled' : 'completed';
    this.#ended = true;
    this.#message?.end();
    this.#message = undefined;
    const m = this.#model;
    if (m !== undefined) {
      const usage = facts.usage.reported;
      if (usage !== undefined) m.setAttributes({ 'gen_ai.usage.input_tokens': usage.inputTokens, 'gen_ai.usage.output_tokens': usage.outputTokens });
      if (status !== undefined) m.setAttribute('http.response.status_code', status);
      if (outcome !== 'completed' || (status !== undefined && status >= 400)) m.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      m.end();
    }
    const s = this.#stream;
    if (s === undefined) return;
    const attrs: Attributes = { 'tollgate.decision_id': facts.decisionId, 'tollgate.outcome': outcome };
    if (facts.requestId !== undefined) attrs['tollgate.request_id'] = facts.requestId;
    if (facts.route !== undefined) attrs['tollgate.provider'] = facts.route.provider.name;
    if (status !== undefined) attrs['http.response.status_code'] = status;
    if (facts.denial !== undefined) attrs['tollgate.reason'] = facts.denial.code;
    s.setAttributes(attrs);
    if (outcome === 'failed' || outcome === 'denied') s.setStatus({ code: SpanStatusCode.ERROR, message: facts.denial?.code ?? outcome });
    s.end();
  }
}
