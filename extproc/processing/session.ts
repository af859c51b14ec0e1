import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { IdentityRuntime, ProviderRuntime, Runtime } from '../config/runtime.ts';
import { AUTHZ_METADATA_NAMESPACE, CALLER_CREDENTIAL_HEADERS, type AuthzContext, type Usage } from '../core/request-context.ts';
import type { Credential } from '../credentials/credential-source.ts';
import { ERROR_CATALOGUE, TollgateError, toTollgateError, type ErrorCode } from '../errors.ts';
import { procAuditRecord, ruleFor, type Denial } from './proc-audit.ts';
import type { AuditRecord, AuditSink } from '../telemetry/audit.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { HttpBody, HttpHeaders, ProcessingRequest, ProcessingResponse } from '../wire/ext-proc.ts';
import type { StateStore } from '../state/state-store.ts';
import { structString } from '../wire/struct.ts';
import { headerMap, mediaType } from './headers.ts';
import { errorResponse, requestBodyResponse, requestHeadersResponse, responseBodyResponse, responseHeadersResponse, trailersResponse } from './responses.ts';

export interface SessionDeps {
  readonly runtime: Runtime;
  /** Single-use claims on authz decisions (replay protection). */
  readonly state: StateStore;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

type Stage = 'request_headers' | 'request_body' | 'upstream' | 'response_body' | 'local_reply' | 'done';
export type StreamEnd = 'ended' | 'cancelled' | 'failed';

const JSON_MEDIA_TYPES = new Set(['application/json']);

/** Envoy's buffer filter answered 413: the body was over limits.maxRequestBodyBytes. */
const ENVOY_BODY_CAP: Denial = { code: 'body_too_large', rule: 'envoy.buffer_limit' };

interface SealedAuthzContext {
  readonly ctx: AuthzContext;
  readonly issuedAt: number;
  readonly seal: string;
}

/** Reads the identity ext_authz attached; absent means ext_authz did not run or metadata is not forwarded. */
function authzContext(msg: ProcessingRequest): SealedAuthzContext | undefined {
  const s = msg.metadata_context?.filter_metadata?.[AUTHZ_METADATA_NAMESPACE];
  const identity = structString(s, 'identity');
  const tenant = structString(s, 'tenant');
  const provider = structString(s, 'provider');
  const decisionId = structString(s, 'decision_id');
  const policyRevision = structString(s, 'policy_revision');
  const issuedAt = Number(structString(s, 'issued_at'));
  const seal = structString(s, 'seal');
  if (identity === undefined || tenant === undefined || provider === undefined || decisionId === undefined || policyRevision === undefined) return undefined;
  if (!Number.isSafeInteger(issuedAt) || seal === undefined) return undefined;
  return { ctx: { identity: { id: identity, tenant }, provider, decisionId, policyRevision }, issuedAt, seal };
}

/**
 * The state of one ext_proc stream, i.e. one HTTP request. Each phase method answers one Envoy
 * message. A denial becomes an ImmediateResponse; a protocol violation propagates so the stream
 * handler ends the stream with a gRPC error (never a clean close, which would let the request pass).
 */
export class Session {
  readonly #deps: SessionDeps;
  #log: Logger;
  readonly #started = performance.now();
  #busyMs = 0;
  /** When the message being handled now arrived; its time counts towards an audit record written during it. */
  #phaseStart: number | undefined;
  #stage: Stage = 'request_headers';
  #auditWritten = false;

  #decisionId: string = randomUUID();
  #requestId: string | undefined;
  #method: string | undefined;
  #path: string | undefined;
  #authz: AuthzContext | undefined;
  #identity: IdentityRuntime | undefined;
  #provider: ProviderRuntime | undefined;
  #credential: Promise<Credential> | undefined;
  #model: string | undefined;
  #requestBytes = 0;
  #requestSha256: string | null = null;
  #status: number | undefined;
  #responseStreamed = false;
  #responseBytes = 0;
  #responseChunks: Buffer[] = [];
  #usage: Usage | undefined;
  #denial: Denial | undefined;
  #incomplete = false;

  constructor(deps: SessionDeps) {
    this.#deps = deps;
    this.#log = deps.logger;
  }

  async handle(msg: ProcessingRequest): Promise<ProcessingResponse> {
    const t0 = performance.now();
    this.#phaseStart = t0;
    const phase = msg.request ?? 'unknown';
    try {
      return await this.#dispatch(msg);
    } catch (err) {
      const e = toTollgateError(err);
      if (e.code === 'protocol_violation') throw e;
      // authz_context_invalid was already logged, as a security event, where it was detected.
      if (e.code === 'internal' || (!e.entry.userFacing && e.code !== 'authz_context_invalid')) this.#log.error({ err: e.cause ?? e, code: e.code, phase, decision_id: this.#decisionId }, 'request failed');
      return this.#deny({ code: e.code, rule: ruleFor(e.code) });
    } finally {
      const dt = performance.now() - t0;
      this.#busyMs += dt;
      this.#phaseStart = undefined;
      this.#deps.metrics.phaseSeconds.observe({ phase }, dt / 1000);
    }
  }

  async #dispatch(msg: ProcessingRequest): Promise<ProcessingResponse> {
    if (this.#stage === 'done') throw new TollgateError('protocol_violation', `message ${msg.request ?? 'unknown'} after the request ended`);
    switch (msg.request) {
      case 'request_headers':
        return this.#onRequestHeaders(msg, msg.request_headers ?? {});
      case 'request_body':
        return this.#onRequestBody(msg.request_body ?? {});
      case 'response_headers':
        if (this.#stage === 'request_headers') return this.#onLocalReply(msg.response_headers ?? {});
        if (this.#stage === 'request_body') return this.#onEnvoyReplyMidRequest(msg.response_headers ?? {});
        return this.#onResponseHeaders(msg.response_headers ?? {});
      case 'response_body':
        if (this.#stage === 'local_reply') {
          if (msg.response_body?.end_of_stream === true) this.#stage = 'done';
          return responseBodyResponse();
        }
        return this.#onResponseBody(msg.response_body ?? {});
      case 'request_trailers':
      case 'response_trailers':
        return trailersResponse(msg.request);
      default:
        throw new TollgateError('protocol_violation', 'ProcessingRequest with no known message');
    }
  }

  #expect(...stages: Stage[]): void {
    if (!stages.includes(this.#stage)) throw new TollgateError('protocol_violation', `unexpected message in stage ${this.#stage}`);
  }

  async #onRequestHeaders(msg: ProcessingRequest, h: HttpHeaders): Promise<ProcessingResponse> {
    this.#expect('request_headers');
    const headers = headerMap(h);
    this.#requestId = headers.get('x-request-id');
    this.#method = headers.get(':method');
    this.#path = headers.get(':path');
    this.#log = this.#deps.logger.child({ request_id: this.#requestId, decision_id: this.#decisionId });

    const sealed = authzContext(msg);
    if (sealed === undefined) {
      this.#log.error('no ext_authz metadata on the request: check that ext_authz runs before ext_proc and forwarding_namespaces lists envoy.filters.http.ext_authz');
      throw new TollgateError('authz_context_missing');
    }
    const runtime = this.#deps.runtime;
    await this.#verifyAuthzContext(sealed);
    const authz = sealed.ctx;
    this.#authz = authz;
    this.#decisionId = authz.decisionId;
    this.#log = this.#deps.logger.child({ request_id: this.#requestId, decision_id: this.#decisionId });
    this.#identity = runtime.identitiesById.get(authz.identity.id);
    this.#provider = runtime.providers.get(authz.provider);
    if (this.#identity === undefined || this.#provider === undefined || !this.#identity.providers.has(this.#provider.name))
      throw new TollgateError('authz_context_missing', 'ext_authz metadata names an identity or provider this policy does not allow');
    if (this.#path === undefined || !this.#path.startsWith(this.#provider.pathPrefix))
      throw new TollgateError('provider_unknown', 'path does not match the provider ext_authz allowed');

    const limit = runtime.config.limits.maxRequestBodyBytes;
    const contentLength = headers.get('content-length');
    if (contentLength !== undefined) {
      if (!/^\d{1,15}$/.test(contentLength)) throw new TollgateError('header_malformed', 'content-length');
      if (Number(contentLength) > limit) return this.#deny({ code: 'body_too_large', rule: 'limits.maxRequestBodyBytes' });
    }
    if (h.end_of_stream !== true && !JSON_MEDIA_TYPES.has(mediaType(headers.get('content-type')) ?? ''))
      return this.#deny({ code: 'content_type_unsupported', rule: 'request.content_type' });

    // Start the credential lookup now so it overlaps with Envoy buffering the body.
    const credential = runtime.credentials.get({ tenant: authz.identity.tenant, identity: authz.identity.id, provider: this.#provider.name });
    credential.catch(() => undefined); // awaited later; avoid an unhandled rejection if the request ends first
    this.#credential = credential;

    if (h.end_of_stream === true) {
      this.#stage = 'upstream';
      return requestHeadersResponse({ remove: CALLER_CREDENTIAL_HEADERS, set: this.#provider.adapter.credentialHeaders(await credential) });
    }
    this.#stage = 'request_body';
    return requestHeadersResponse({ remove: CALLER_CREDENTIAL_HEADERS });
  }

  /**
   * Only Tollgate's own ext_authz can vouch for an identity: the context must carry a valid seal, be
   * fresh, and be used once. Anything else is a forged or replayed context from a client of the
   * gRPC port, refused before any credential is looked up.
   */
  async #verifyAuthzContext(sealed: SealedAuthzContext): Promise<void> {
    const runtime = this.#deps.runtime;
    const maxAgeMs = runtime.config.server.authzContextMaxAgeSeconds * 1000;
    const age = Date.now() - sealed.issuedAt;
    let problem: string | undefined;
    if (!runtime.authzSealer.verify(sealed.ctx, sealed.issuedAt, sealed.seal)) problem = 'seal does not verify';
    else if (age > maxAgeMs || age < -5_000) problem = 'expired';
    else if (!(await this.#deps.state.claimOnce(`authz:${sealed.ctx.decisionId}`, maxAgeMs + 5_000))) problem = 'replayed';
    if (problem === undefined) return;
    this.#log.warn({ problem, claimed_identity: sealed.ctx.identity.id }, 'refused an ext_authz context');
    throw new TollgateError('authz_context_invalid', problem);
  }

  async #onRequestBody(b: HttpBody): Promise<ProcessingResponse> {
    this.#expect('request_body');
    const provider = this.#provider;
    if (provider === undefined || this.#credential === undefined) throw new TollgateError('protocol_violation', 'request body before headers');
    if (b.end_of_stream !== true) throw new TollgateError('protocol_violation', 'request body must arrive BUFFERED (end_of_stream in one message)');
    const body = b.body ?? Buffer.alloc(0);
    this.#requestBytes = body.length;
    this.#requestSha256 = createHash('sha256').update(body).digest('hex');
    if (body.length > this.#deps.runtime.config.limits.maxRequestBodyBytes) return this.#deny({ code: 'body_too_large', rule: 'limits.maxRequestBodyBytes' });

    const parsed = provider.adapter.parseRequest(body);
    this.#model = parsed.model;
    if (!provider.allowsModel(parsed.model)) return this.#deny({ code: 'model_forbidden', rule: 'provider.models' });
    const identityModels = this.#identity?.providers.get(provider.name);
    if (identityModels !== undefined && !identityModels(parsed.model)) return this.#deny({ code: 'model_forbidden', rule: 'identity.allow.models' });

    const credential = await this.#credential;
    this.#stage = 'upstream';
    // Credentials are applied last, to the final body. The body is unchanged here, so no body mutation.
    return requestBodyResponse({ set: provider.adapter.credentialHeaders(credential) });
  }

  /**
   * A response with no request before it: a local reply from a filter ahead of ext_proc passing
   * through the encoder path. Tollgate's own ext_authz denials carry x-tollgate-decision-id and are
   * already audited: pass them on. Anything else is Envoy answering by itself before Tollgate saw the
   * request (the body cap's 413, a timeout): audit it here, and give a 413 Tollgate's JSON error.
   */
  #onLocalReply(h: HttpHeaders): ProcessingResponse {
    const headers = headerMap(h);
    this.#stage = h.end_of_stream === true ? 'done' : 'local_reply';
    if (headers.has('x-tollgate-decision-id')) {
      this.#auditWritten = true;
      return responseHeadersResponse({ streamBody: false });
    }
    // Envoy sends no request headers or attributes with an encode-only stream, so the record has no
    // request id or path; the decision id, set on the reply and so in Envoy's access log, ties them together.
    const status = Number(headers.get(':status'));
    if (status === 413) return this.#deny(ENVOY_BODY_CAP);
    this.#auditEnvoyReply(status);
    // The decision id goes on Envoy's reply, so the client and Envoy's access log can name this record.
    return responseHeadersResponse({ streamBody: false, edits: { set: [{ name: 'x-tollgate-decision-id', value: this.#decisionId }] } });
  }

  /**
   * Envoy answered the client itself after we saw the request headers, before the body reached us:
   * typically 413 because a body without content-length outgrew Envoy's buffer. Nothing went upstream.
   * Record it as Envoy's denial and pass the reply through.
   */
  #onEnvoyReplyMidRequest(h: HttpHeaders): ProcessingResponse {
    this.#auditEnvoyReply(Number(headerMap(h).get(':status')));
    this.#stage = h.end_of_stream === true ? 'done' : 'local_reply';
    return responseHeadersResponse({ streamBody: false });
  }

  /** Audits a reply Envoy made by itself as Envoy's denial: its body cap (413) or another local reply. */
  #auditEnvoyReply(status: number): void {
    this.#denial = status === 413 ? ENVOY_BODY_CAP : { code: 'proxy_local_reply', rule: 'envoy.local_reply' };
    this.#status = Number.isInteger(status) ? status : undefined;
    this.#writeAudit('denied');
  }

  #onResponseHeaders(h: HttpHeaders): ProcessingResponse {
    this.#expect('upstream');
    const headers = headerMap(h);
    const status = Number(headers.get(':status'));
    this.#status = Number.isInteger(status) ? status : undefined;
    // Stream only successful SSE responses; buffer errors and JSON so they can be inspected whole.
    this.#responseStreamed = status === 200 && mediaType(headers.get('content-type')) === 'text/event-stream';
    if (h.end_of_stream === true) this.#complete();
    else this.#stage = 'response_body';
    return responseHeadersResponse({ streamBody: this.#responseStreamed });
  }

  #onResponseBody(b: HttpBody): ProcessingResponse {
    this.#expect('response_body');
    const chunk = b.body ?? Buffer.alloc(0);
    this.#responseBytes += chunk.length;
    if (!this.#responseStreamed) this.#responseChunks.push(chunk);
    if (b.end_of_stream === true) {
      if (!this.#responseStreamed && this.#provider !== undefined) this.#usage = this.#provider.adapter.parseUsage(Buffer.concat(this.#responseChunks));
      this.#responseChunks = [];
      this.#complete();
    }
    return responseBodyResponse();
  }

  #deny(denial: Denial): ProcessingResponse {
    this.#denial = denial;
    this.#status = ERROR_CATALOGUE[denial.code].httpStatus;
    this.#stage = 'done';
    this.#writeAudit('denied');
    return errorResponse(denial.code, this.#requestId, this.#decisionId);
  }

  #complete(): void {
    this.#stage = 'done';
    this.#writeAudit('completed');
  }

  /** Called once the gRPC stream is over, however it ended. Writes the audit record if no phase did. */
  close(end: StreamEnd, code?: ErrorCode): void {
    if (this.#auditWritten) return;
    if (end === 'failed') this.#denial = { code: code ?? 'internal', rule: ruleFor(code ?? 'internal') };
    else if (this.#stage === 'response_body') {
      // The response body never finished through us: the client went away, or Envoy replaced the
      // response (a buffered body over its limit becomes a 500 the processor never sees).
      this.#incomplete = true;
      if (!this.#responseStreamed) this.#status = undefined;
      this.#stage = 'done';
      this.#writeAudit('cancelled');
      return;
    }
    // A graceful end after the response headers is a completed request whose body Envoy did not send us.
    const outcome = end === 'failed' ? 'failed' : end === 'ended' && this.#status !== undefined ? 'completed' : 'cancelled';
    this.#stage = 'done';
    this.#writeAudit(outcome);
  }

  #writeAudit(outcome: AuditRecord['outcome']): void {
    if (this.#auditWritten) return;
    this.#auditWritten = true;
    const now = performance.now();
    const record = procAuditRecord({
      outcome,
      requestId: this.#requestId,
      decisionId: this.#decisionId,
      authz: this.#authz,
      provider: this.#provider?.name,
      model: this.#model,
      method: this.#method,
      path: this.#path,
      denial: this.#denial,
      incomplete: this.#incomplete,
      status: this.#status,
      requestBytes: this.#requestBytes,
      requestSha256: this.#requestSha256,
      responseBytes: this.#responseBytes,
      responseStreamed: this.#responseStreamed,
      usage: this.#usage,
      totalMs: now - this.#started,
      tollgateMs: this.#busyMs + (this.#phaseStart === undefined ? 0 : now - this.#phaseStart),
      fallbackPolicyRevision: this.#deps.runtime.policyRevision,
    });
    this.#deps.audit.write(record);
    const m = this.#deps.metrics;
    const { provider, usage } = record;
    m.auditRecords.inc({ stage: 'proc' });
    m.processedRequests.inc({ outcome: record.outcome, reason: record.reason ?? 'none', provider: provider ?? 'none' });
    if (usage !== null && provider !== null) {
      m.tokens.inc({ provider, direction: 'input' }, usage.input_tokens);
      m.tokens.inc({ provider, direction: 'output' }, usage.output_tokens);
    }
    this.#log.info({ outcome: record.outcome, reason: record.reason, status: record.http_status, identity: record.identity, provider, model: record.model }, 'request finished');
  }
}
