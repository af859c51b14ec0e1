import { RULES } from '../../core/decision.ts';
import { TollgateError, type Denial } from '../../errors.ts';
import { isStreamingContentType } from '../../providers/index.ts';
import type { HttpBody, HttpHeaders, ProcessingResponse } from '../../wire/ext-proc.ts';
import { decodeContentEncoding, parseContentEncoding } from '../content-encoding.ts';
import { mediaType } from '../headers.ts';
import type { Answer } from '../pipeline.ts';
import type { ProcRequest } from '../request.ts';
import { responseBodyResponse, responseHeadersResponse, streamedChunkResponse } from '../responses.ts';
import { inspectBufferedResponse, sseTransformFor, transformSseChunk, type ReadBody } from './content.ts';
import { onEnvoyReplyMidRequest } from './local-reply.ts';

const ENCODING_UNSUPPORTED: Denial = Object.freeze({ code: 'response_encoding_unsupported', rule: RULES.responseEncoding });
const BUFFERED = responseHeadersResponse({ streamBody: false });
const STREAMED = responseHeadersResponse({ streamBody: true });
const STREAMED_UNFRAMED = responseHeadersResponse({ streamBody: true, edits: { remove: ['content-length'] } });
const CONTINUE_BODY = responseBodyResponse();
const REMOVE_CONTENT_ENCODING = Object.freeze({ remove: Object.freeze(['content-encoding']) });

/**
 * Response headers (a stream that starts here was opened by the Session: a request without a body whose
 * request messages Envoy skipped). Successful SSE responses switch to STREAMED; the rest stay BUFFERED so
 * they can be inspected whole.
 */
export function onResponseHeaders(req: ProcRequest, h: HttpHeaders, headers: ReadonlyMap<string, string>, options: ResponseOptions = {}): Answer {
  if (req.position === 'request_body') return onEnvoyReplyMidRequest(req, h, headers);
  if (req.position !== 'upstream') throw new TollgateError('protocol_violation', `response headers at position ${req.position}`);
  const response = req.response;
  const status = Number(headers.get(':status'));
  response.status = Number.isInteger(status) ? status : undefined;
  response.upstreamStatus = response.status;
  // Stream only successful streaming responses (SSE, AWS event-stream); buffer the rest to inspect whole.
  const contentType = mediaType(headers.get('content-type'));
  response.streamed = status === 200 && isStreamingContentType(contentType) && options.bufferStream?.(req, contentType) !== true;
  // A compressed body must be decoded before anything reads it: buffered ones are (at the end), a
  // stream, or a coding Tollgate does not decode, is refused. Never passed on unread.
  const codings = parseContentEncoding(headers.get('content-encoding'));
  if (codings === undefined || (codings.length > 0 && response.streamed)) return ENCODING_UNSUPPORTED;
  response.codings = codings;
  req.usage.meter = req.route?.translator?.usageMeter();
  if (response.streamed) req.content.sse = sseTransformFor(req, contentType === 'application/vnd.amazon.eventstream' ? 'aws-event-stream' : 'sse');
  // The provider refused our credential: it may have been rotated. Re-read it now (rate-limited by
  // the broker) instead of waiting for the refresh schedule; this response still goes to the caller.
  const authz = req.caller?.authz;
  if (status === 401 && authz !== undefined && req.route !== undefined) {
    req.services.credentials.invalidate({ tenant: authz.identity.tenant, identity: authz.identity.id, provider: req.route.provider.name }).catch(() => undefined);
  }
  req.position = h.end_of_stream === true ? 'done' : 'response_body';
  // A stream the transform may change cannot keep a content-length (an upstream that wrote the whole stream
  // before its headers sends one): Envoy refuses a mutated body whose length disagrees with it (a 503).
  if (req.content.sse !== undefined && headers.has('content-length')) return STREAMED_UNFRAMED;
  return response.streamed ? STREAMED : BUFFERED;
}

export interface ResponseOptions {
  /** A successful stream this kind reads whole instead (an MCP list answer: a POST's stream ends with its answer). */
  readonly bufferStream?: (req: ProcRequest, contentType: string | undefined) => boolean;
}

/** Response body: buffered whole (decoded first if compressed), or SSE chunk by chunk. Usage is read at the end. */
export function onResponseBody(req: ProcRequest, b: HttpBody): ProcessingResponse {
  const raw = takeBody(req, b);
  return Buffer.isBuffer(raw) ? bufferedAnswer(req, raw, decoded(req, raw)) : raw;
}

/**
 * onResponseBody, with `transform` applied to a whole buffered body before it is inspected (MCP list filtering).
 * What the transform already read of its result (`read`) is handed to the inspection, which does not parse it again.
 */
export function onResponseBodyThen(req: ProcRequest, b: HttpBody, transform: (req: ProcRequest, body: Buffer) => Promise<{ readonly body: Buffer; readonly read?: ReadBody }>): ProcessingResponse | Promise<ProcessingResponse> {
  const raw = takeBody(req, b);
  return Buffer.isBuffer(raw) ? transform(req, decoded(req, raw)).then((t) => bufferedAnswer(req, raw, t.body, t.read)) : raw;
}

/** A streamed chunk's answer, or a buffered chunk's (CONTINUE until the end); at the end, the whole buffered body. */
function takeBody(req: ProcRequest, b: HttpBody): ProcessingResponse | Buffer {
  if (req.position === 'local_reply') {
    if (b.end_of_stream === true) req.position = 'done';
    return CONTINUE_BODY;
  }
  if (req.position !== 'response_body') throw new TollgateError('protocol_violation', `response body at position ${req.position}`);
  const response = req.response;
  const chunk = b.body ?? EMPTY;
  response.bytes += chunk.length;
  const end = b.end_of_stream === true;
  if (response.streamed) {
    req.usage.meter?.onSseChunk(chunk);
    if (end) finishResponse(req);
    const sse = req.content.sse;
    return sse === undefined ? CONTINUE_BODY : streamedChunkResponse(transformSseChunk(req, sse, chunk, end));
  }
  response.chunks.push(chunk);
  if (!end) return CONTINUE_BODY;
  const raw = response.chunks.length === 1 ? chunk : Buffer.concat(response.chunks);
  response.chunks = [];
  return raw;
}

/** The buffered body decoded (an upstream that compressed anyway), or as it came. */
function decoded(req: ProcRequest, raw: Buffer): Buffer {
  return req.response.codings.length === 0 ? raw : decodeContentEncoding(raw, req.response.codings, req.policy.limits.maxResponseBodyBytes);
}

/**
 * The answer to a whole buffered body: inspected (and metered), replaced when it changed. A decoded body always
 * replaces the original, without content-encoding (Envoy still holds the buffered response's headers, so the
 * answer can change them; content-length is set to match).
 */
function bufferedAnswer(req: ProcRequest, raw: Buffer, body: Buffer, read?: ReadBody): ProcessingResponse {
  const out = inspectAndMeter(req, body, read) ?? (body === raw ? undefined : body);
  return req.response.codings.length === 0 ? responseBodyResponse(out) : responseBodyResponse(out ?? body, REMOVE_CONTENT_ENCODING);
}

const EMPTY = Buffer.alloc(0);

/**
 * A whole buffered body: content controls and usage from one parse. The usage is read even when the
 * inspection refuses the response, so its record names what the provider reported.
 */
function inspectAndMeter(req: ProcRequest, body: Buffer, read?: ReadBody): Buffer | undefined {
  try {
    return inspectBufferedResponse(req, body, req.usage.meter, read);
  } finally {
    finishResponse(req);
  }
}

/** The response is over: the usage it reported, and the request completes (the Session writes the record). */
function finishResponse(req: ProcRequest): void {
  req.usage.reported = req.usage.meter?.usage();
  req.position = 'done';
}
