import { conditionOf } from '../credentials/lifecycle-log.ts';
import { performance } from 'node:perf_hooks';
import { RULES, type RuleId } from '../core/decision.ts';
import { TollgateError, toTollgateError, type ErrorCode } from '../errors.ts';
import type { Services } from '../services.ts';
import { failureFields } from '../telemetry/logger.ts';
import { traceStream } from '../telemetry/tracing.ts';
import type { ProcessingRequest, ProcessingResponse } from '../wire/ext-proc.ts';
import { deny, writeAudit } from './outcome.ts';
import { onRequestBody } from './phases/request-body.ts';
import { onRequestHeaders } from './phases/request-headers.ts';
import { onResponseBody, onResponseHeaders } from './phases/response.ts';
import { logFor, newRequestState, type Denial, type RequestState } from './request-state.ts';
import { trailersResponse } from './responses.ts';

export type StreamEnd = 'ended' | 'cancelled' | 'failed';

/** The rule a catalogue code is reported under when no more specific rule decided. */
export function ruleFor(code: ErrorCode): RuleId {
  switch (code) {
    case 'body_malformed':
    case 'model_missing':
    case 'model_invalid':
      return RULES.requestJson;
    case 'body_too_large':
      return RULES.bodyLimit;
    case 'credential_unavailable':
      return RULES.providerCredential;
    case 'authz_context_missing':
    case 'authz_context_invalid':
      return RULES.authzContext;
    case 'protocol_violation':
      return RULES.protocol;
    case 'state_unavailable':
      return RULES.sharedState;
    case 'response_encoding_unsupported':
    case 'response_decode_failed':
      return RULES.responseEncoding;
    case 'identity_disabled':
      return RULES.killSwitch;
    case 'jsonrpc_malformed':
    case 'jsonrpc_batch_refused':
    case 'mcp_protocol_version_unsupported':
      return RULES.mcpProtocol;
    case 'mcp_header_mismatch':
      return RULES.mcpHeaders;
    default:
      return RULES.internal;
  }
}

const isDenial = (r: ProcessingResponse | Denial): r is Denial => 'code' in r;

/**
 * One ext_proc stream, i.e. one HTTP request: a thin dispatcher from Envoy's messages to the phase
 * modules in phases/, over one RequestState. A denial becomes an ImmediateResponse; a protocol
 * violation propagates so the stream handler ends the stream with a gRPC error (never a clean close,
 * which would let the request pass). Exactly one audit record is written, however the stream ends.
 */
export class Session {
  readonly #state: RequestState;
  readonly #trace = traceStream();

  constructor(services: Services) {
    this.#state = newRequestState(services);
  }

  get state(): Readonly<RequestState> {
    return this.#state;
  }

  async handle(msg: ProcessingRequest): Promise<ProcessingResponse> {
    const state = this.#state;
    const t0 = performance.now();
    state.phaseStartedAt = t0;
    const phase = msg.request ?? 'unknown';
    this.#trace.phase(msg);
    try {
      const out = await this.#dispatch(msg);
      if (isDenial(out)) return deny(state, out);
      if (state.stage === 'done') writeAudit(state, 'completed');
      return out;
    } catch (err) {
      const e = toTollgateError(err);
      // A protocol violation, or a stream that must not go on (a leak we could not mask): end the
      // gRPC stream with an error, never a clean close (which would let the rest through).
      if (e.code === 'protocol_violation' || e.code === 'response_leak') throw e;
      // authz_context_invalid was already logged, as a security event, where it was detected.
      // No provider credential: an operational condition, not a bug. One line, no stack, naming the scope and the cause.
      if (e.code === 'credential_unavailable') logFor(state).warn({ code: e.code, phase, tenant: state.authz?.identity.tenant, identity: state.authz?.identity.id, provider: state.provider?.name, cause: conditionOf(e), error: e.message }, 'request failed: no provider credential');
      else if (e.code === 'internal' || (!e.entry.userFacing && e.code !== 'authz_context_invalid')) logFor(state).error({ ...failureFields(e), phase }, 'request failed');
      return deny(state, { code: e.code, rule: ruleFor(e.code) });
    } finally {
      const dt = performance.now() - t0;
      state.busyMs += dt;
      state.phaseStartedAt = undefined;
      state.services.metrics.phaseSeconds.observe({ phase }, dt / 1000);
      this.#trace.phaseDone(state);
    }
  }

  #dispatch(msg: ProcessingRequest): Promise<ProcessingResponse | Denial> | ProcessingResponse | Denial {
    const state = this.#state;
    if (state.stage === 'done') throw new TollgateError('protocol_violation', `message ${msg.request ?? 'unknown'} after the request ended`);
    switch (msg.request) {
      case 'request_headers':
        if (state.stage !== 'start') throw new TollgateError('protocol_violation', `request headers in stage ${state.stage}`);
        return onRequestHeaders(state, msg, msg.request_headers ?? {});
      case 'request_body':
        return onRequestBody(state, msg, msg.request_body ?? {});
      case 'response_headers':
        return onResponseHeaders(state, msg, msg.response_headers ?? {});
      case 'response_body':
        return onResponseBody(state, msg.response_body ?? {});
      case 'request_trailers':
      case 'response_trailers':
        return trailersResponse(msg.request);
      default:
        throw new TollgateError('protocol_violation', 'ProcessingRequest with no known message');
    }
  }

  /** Called once the gRPC stream is over, however it ended. Writes the audit record if no phase did. */
  close(end: StreamEnd, code?: ErrorCode): void {
    try {
      this.#close(end, code);
    } finally {
      this.#trace.end(this.#state, end);
    }
  }

  #close(end: StreamEnd, code?: ErrorCode): void {
    const state = this.#state;
    if (state.auditWritten) return;
    if (end === 'failed') {
      state.denial = { code: code ?? 'internal', rule: ruleFor(code ?? 'internal') };
      state.stage = 'done';
      writeAudit(state, 'failed');
      return;
    }
    if (state.stage === 'response_body') {
      if (state.responseStreamed && state.usageMeter?.complete() === true) {
        // The stream's terminal event passed before the client closed (OpenAI SDKs close at [DONE], before
        // the upstream's end arrives): the request completed, with the usage seen.
        state.usage = state.usageMeter.usage();
        state.stage = 'done';
        writeAudit(state, 'completed');
        return;
      }
      // The response body never finished through us: the client went away, or Envoy replaced the
      // response (a buffered body over its limit becomes a 500 the processor never sees).
      state.incomplete = true;
      if (!state.responseStreamed) state.status = undefined;
      state.stage = 'done';
      writeAudit(state, 'cancelled');
      return;
    }
    // A graceful end after the response headers is a completed request whose body Envoy did not send us.
    const outcome = end === 'ended' && state.status !== undefined ? 'completed' : 'cancelled';
    state.stage = 'done';
    writeAudit(state, outcome);
  }
}
