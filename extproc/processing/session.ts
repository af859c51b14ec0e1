import { performance } from 'node:perf_hooks';
import { logNoCredential } from '../credentials/lifecycle-log.ts';
import { denialReply, ruleFor, TollgateError, toTollgateError, type Denial, type ErrorCode } from '../errors.ts';
import { finish } from '../outcome/finish.ts';
import type { Services } from '../services.ts';
import { auditCredential, type AuditFacts } from '../telemetry/audit-record.ts';
import { failureFields } from '../telemetry/logger.ts';
import { boundMetrics } from '../telemetry/metrics.ts';
import { traceStream } from '../telemetry/tracing.ts';
import type { HttpHeaders, ProcessingRequest, ProcessingResponse } from '../wire/ext-proc.ts';
import { pipelineFor } from './handlers.ts';
import { headerMap } from './headers.ts';
import { hasAuthzMetadata, open } from './open.ts';
import type { Answer } from './pipeline.ts';
import { ProcRequest, type Outcome } from './request.ts';
import { errorResponse, trailersResponse } from './responses.ts';
import { onLocalReply } from './steps/local-reply.ts';
// Provider kinds with their own pipeline register it when loaded.
import './mcp.ts';

export type StreamEnd = 'ended' | 'cancelled' | 'failed';

type Kind = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

const NO_HEADERS: ReadonlyMap<string, string> = new Map();
const EMPTY_HTTP_HEADERS: HttpHeaders = Object.freeze({});
const isDenial = (a: Answer): a is Denial => 'code' in a;

/** The header map of a headers message, read once per message (empty for any other). */
function headersOf(msg: ProcessingRequest): ReadonlyMap<string, string> {
  const h = msg.request_headers ?? msg.response_headers;
  return h === undefined ? NO_HEADERS : headerMap(h);
}

/**
 * One message, without the envelope: opens the request from the sealed context when this is the stream's
 * first message (the one place the seal is verified), then runs the handler for its type from the
 * request's pipeline. Returns an answer or a denial, synchronously unless something must wait; throws
 * (or rejects with) a failure.
 */
export function dispatch(req: ProcRequest, msg: ProcessingRequest, headers: ReadonlyMap<string, string> = headersOf(msg)): Answer | Promise<Answer> {
  const kind = msg.request;
  if (req.position === 'done') throw new TollgateError('protocol_violation', `message ${kind ?? 'unknown'} after the request ended`);
  switch (kind) {
    case 'request_trailers':
    case 'response_trailers':
      return trailersResponse(kind);
    case 'request_headers':
    case 'request_body':
    case 'response_headers':
    case 'response_body':
      break;
    default:
      throw new TollgateError('protocol_violation', 'ProcessingRequest with no known message');
  }
  if (req.position !== 'start' || kind === 'response_body') return run(req, msg, kind, headers);
  if (kind === 'request_headers') {
    req.headers = headers;
    req.requestId = headers.get('x-request-id');
  } else if (kind === 'response_headers' && !hasAuthzMetadata(msg)) {
    // A response with no request before it and no context: a reply Envoy made itself.
    return onLocalReply(req, msg.response_headers ?? EMPTY_HTTP_HEADERS, headers);
  }
  return open(req, msg).then(() => run(req, msg, kind, headers));
}

function run(req: ProcRequest, msg: ProcessingRequest, kind: Kind, headers: ReadonlyMap<string, string>): Answer | Promise<Answer> {
  const pipeline = pipelineFor(req);
  const h = pipeline.handlers;
  switch (kind) {
    case 'request_headers':
      return h.request_headers(req, msg.request_headers ?? EMPTY_HTTP_HEADERS, headers);
    case 'request_body':
      return h.request_body(req, msg.request_body ?? {}, pipeline);
    case 'response_headers':
      return h.response_headers(req, msg.response_headers ?? EMPTY_HTTP_HEADERS, headers);
    case 'response_body':
      return h.response_body(req, msg.response_body ?? {});
  }
}

/** The audit facts of an ext_proc request as it stands. */
function recordFacts(req: ProcRequest, outcome: Outcome, now: number): AuditFacts {
  const authz = req.caller?.authz;
  const route = req.route;
  const { denial, response, usage, content } = req;
  // The message being handled now counts towards the record written during it.
  const tollgateMs = req.busyMs + (req.messageStartedAt === undefined ? 0 : now - req.messageStartedAt);
  // The usage for the record: the provider's, or the reservation that stands for a request that went out without it.
  const reported = usage.reported;
  const estimate = usage.forwarded ? usage.estimate : undefined;
  const tokens = reported ?? estimate;
  const provider = route?.provider.name;
  const model = route?.model;
  return {
    stage: 'proc',
    authenticated: req.authenticated,
    outcome,
    decisionId: req.decisionId,
    requestId: req.requestId,
    identity: authz?.identity,
    provider,
    model,
    method: authz?.method,
    path: authz?.path,
    reason: denial?.code ?? (response.incomplete ? 'response_incomplete' : undefined),
    rule: denial?.rule ?? req.rule ?? (authz === undefined ? undefined : 'identity.allow'),
    shadow: req.shadow === undefined ? null : { rule: req.shadow.rule, reason: req.shadow.reason },
    status: response.status,
    upstreamStatus: response.upstreamStatus,
    request: req.body,
    response: response.status !== undefined && denial === undefined ? { body_bytes: response.bytes, streamed: response.streamed } : null,
    usage: reported !== undefined ? { input_tokens: reported.inputTokens, output_tokens: reported.outputTokens, total_tokens: reported.totalTokens }
      : estimate !== undefined ? { input_tokens: estimate.inputTokens, output_tokens: estimate.outputTokens, total_tokens: estimate.inputTokens + estimate.outputTokens, estimated: true } : null,
    credential: auditCredential(req.credential.meta),
    totalMs: now - req.startedAt,
    tollgateMs,
    policyRevision: authz?.policyRevision ?? req.policy.revision,
    costMicro: tokens === undefined || provider === undefined || model === undefined ? undefined : req.guards.prices.costMicro(provider, model, tokens),
    anomalyFlags: usage.anomalyFlags,
    route: route?.routeClass === undefined || route.routedFrom === undefined ? null : { class: route.routeClass, from: route.routedFrom.name },
    content: content.action === undefined && Object.keys(content.response).length === 0 ? null : { action: content.action ?? 'allow', request: content.request, response: content.response },
    stateDegraded: usage.stateDegraded,
    ...pipelineFor(req).facts?.(req),
  };
}

/**
 * One ext_proc stream, i.e. one HTTP request, over one ProcRequest. The envelope of every message is here
 * and only here: timing, the message metric, tracing, and mapping failures to denials. A denial becomes
 * an ImmediateResponse; a protocol violation or an unmaskable leak propagates so the stream handler ends
 * the stream with a gRPC error (never a clean close, which would let the request pass). Exactly one
 * audit record is written (outcome/finish.ts), however the stream ends.
 */
export class Session {
  readonly request: ProcRequest;
  readonly #trace = traceStream();

  constructor(services: Services) {
    this.request = new ProcRequest(services);
  }

  /** The answer to one message: synchronous unless a step had to wait. */
  handle(msg: ProcessingRequest): ProcessingResponse | Promise<ProcessingResponse> {
    const req = this.request;
    const t0 = performance.now();
    req.messageStartedAt = t0;
    const kind = msg.request ?? 'unknown';
    const headers = headersOf(msg);
    this.#trace.message(kind, headers);
    let out: Answer | Promise<Answer>;
    try {
      out = dispatch(req, msg, headers);
    } catch (err) {
      return this.#failedThen(err, kind, t0);
    }
    if (out instanceof Promise) return out.then((a) => this.#answeredThen(a, kind, t0), (err: unknown) => this.#failedThen(err, kind, t0));
    return this.#answeredThen(out, kind, t0);
  }

  #answeredThen(a: Answer, kind: string, t0: number): ProcessingResponse {
    try {
      if (isDenial(a)) return this.#deny(a);
      const req = this.request;
      if (req.outcome !== undefined) this.#finish(req.outcome);
      else if (req.position === 'done') this.#finish('completed');
      return a;
    } finally {
      this.#done(kind, t0);
    }
  }

  #failedThen(err: unknown, kind: string, t0: number): ProcessingResponse {
    try {
      const e = toTollgateError(err);
      // A protocol violation, or a stream that must not go on (a leak we could not mask): end the
      // gRPC stream with an error, never a clean close (which would let the rest through).
      if (e.code === 'protocol_violation' || e.code === 'response_leak') throw e;
      const req = this.request;
      // authz_context_invalid was already logged, as a security event, where it was detected.
      if (e.code === 'credential_unavailable') {
        const authz = req.caller?.authz;
        logNoCredential(req.log(), e, { tenant: authz?.identity.tenant, identity: authz?.identity.id, provider: req.route?.provider.name }, { phase: kind });
      } else if (e.code === 'internal' || (!e.entry.userFacing && e.code !== 'authz_context_invalid')) req.log().error({ ...failureFields(e), phase: kind }, 'request failed');
      return this.#deny({ code: e.code, rule: ruleFor(e.code) });
    } finally {
      this.#done(kind, t0);
    }
  }

  #done(kind: string, t0: number): void {
    const req = this.request;
    const dt = performance.now() - t0;
    req.busyMs += dt;
    req.messageStartedAt = undefined;
    boundMetrics(req.services.metrics).messageSeconds(kind).observe(dt / 1000);
    this.#trace.messageDone(req);
  }

  /** Ends the request with Tollgate's JSON error: an ImmediateResponse, audited now. */
  #deny(denial: Denial): ProcessingResponse {
    const req = this.request;
    const reply = pipelineFor(req).reply?.(req, denial) ?? denialReply(denial, req.requestId, req.decisionId);
    req.denial = denial;
    req.response.status = reply.status;
    req.position = 'done';
    this.#finish('denied');
    return errorResponse(reply);
  }

  /** Writes the request's one audit record, once, with its metrics, usage settlement and log line. */
  #finish(outcome: Outcome): void {
    const req = this.request;
    if (req.finished) return;
    req.finished = true;
    // A request that went upstream is charged its real usage (or keeps its reservation); one that did not gets it back.
    const record = finish(req.services, recordFacts(req, outcome, performance.now()), req);
    if (req.services.logger.isLevelEnabled('debug')) req.log().debug({ outcome: record.outcome, reason: record.reason, status: record.http_status, identity: record.identity, provider: record.provider, model: record.model, authenticated: record.authenticated }, 'request finished');
  }

  /** Called once the gRPC stream is over, however it ended. Writes the audit record if no message did. */
  close(end: StreamEnd, code?: ErrorCode): void {
    try {
      this.#close(end, code);
    } finally {
      this.#trace.end(this.request, end);
    }
  }

  #close(end: StreamEnd, code?: ErrorCode): void {
    const req = this.request;
    if (req.finished) return;
    const position = req.position;
    req.position = 'done';
    if (end === 'failed') {
      req.denial = { code: code ?? 'internal', rule: ruleFor(code ?? 'internal') };
      this.#finish('failed');
      return;
    }
    const response = req.response;
    if (position === 'response_body') {
      const meter = req.usage.meter;
      if (response.streamed && meter?.complete() === true) {
        // The stream's terminal event passed before the client closed (OpenAI SDKs close at [DONE], before
        // the upstream's end arrives): the request completed, with the usage seen.
        req.usage.reported = meter.usage();
        this.#finish('completed');
        return;
      }
      // The response body never finished through us: the client went away, or Envoy replaced the
      // response (a buffered body over its limit becomes a 500 the processor never sees).
      response.incomplete = true;
      if (!response.streamed) response.status = undefined;
      this.#finish('cancelled');
      return;
    }
    // A graceful end after the response headers is a completed request whose body Envoy did not send us.
    this.#finish(end === 'ended' && response.status !== undefined ? 'completed' : 'cancelled');
  }
}
