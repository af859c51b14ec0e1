import { RULES } from '../../core/decision.ts';
import { TollgateError } from '../../errors.ts';
import { isStreamingContentType } from '../../providers/index.ts';
import type { HttpBody, HttpHeaders, ProcessingRequest, ProcessingResponse } from '../../wire/ext-proc.ts';
import { hasAuthzMetadata, verifyAuthzContext } from '../context.ts';
import { decodeContentEncoding, parseContentEncoding } from '../content-encoding.ts';
import { headerMap, mediaType } from '../headers.ts';
import type { Denial, RequestState } from '../request-state.ts';
import { responseBodyResponse, responseHeadersResponse, streamedChunkResponse } from '../responses.ts';
import { inspectBufferedResponse, sseTransformFor, transformSseChunk } from './content.ts';
import { translator } from './credential.ts';
import { onEnvoyReplyMidRequest, onLocalReply } from './local-reply.ts';
import { filterMcpList, mcpBuffersResponse } from './mcp.ts';

/**
 * Response headers. A stream that starts here is either a request without a body whose request
 * messages Envoy skipped (it carries an authz context) or a reply Envoy made itself before Tollgate
 * saw the request (local-reply.ts). Successful SSE responses switch to STREAMED; the rest stay
 * BUFFERED so they can be inspected whole.
 */
export async function onResponseHeaders(state: RequestState, msg: ProcessingRequest, h: HttpHeaders): Promise<ProcessingResponse | Denial> {
  if (state.stage === 'start') {
    if (!hasAuthzMetadata(msg)) return onLocalReply(state, h);
    const ctx = await verifyAuthzContext(state, msg);
    if (!ctx.withoutBody) throw new TollgateError('authz_context_invalid', 'a response arrived before the body of a request that has one');
    // The translator names the operation and response framing for usage, scanning and audit.
    translator(state);
    state.stage = 'upstream';
  }
  if (state.stage === 'request_body') return onEnvoyReplyMidRequest(state, h);
  if (state.stage !== 'upstream') throw new TollgateError('protocol_violation', `response headers in stage ${state.stage}`);
  const headers = headerMap(h);
  const status = Number(headers.get(':status'));
  state.status = Number.isInteger(status) ? status : undefined;
  state.upstreamStatus = state.status;
  // Stream only successful streaming responses (SSE, AWS event-stream); buffer the rest to inspect whole.
  const contentType = mediaType(headers.get('content-type'));
  state.responseStreamed = status === 200 && isStreamingContentType(contentType) && !mcpBuffersResponse(state, contentType);
  // A compressed body must be decoded before anything reads it: buffered ones are (at the end), a
  // stream, or a coding Tollgate does not decode, is refused. Never passed on unread.
  const codings = parseContentEncoding(headers.get('content-encoding'));
  if (codings === undefined || (codings.length > 0 && state.responseStreamed)) return { code: 'response_encoding_unsupported', rule: RULES.responseEncoding };
  state.responseCodings = codings;
  state.usageMeter = state.translator?.usageMeter();
  if (state.responseStreamed) state.sse = sseTransformFor(state, contentType === 'application/vnd.amazon.eventstream' ? 'aws-event-stream' : 'sse');
  // The provider refused our credential: it may have been rotated. Re-read it now (rate-limited by
  // the broker) instead of waiting for the refresh schedule; this response still goes to the caller.
  if (status === 401 && state.authz !== undefined && state.provider !== undefined) {
    const { identity } = state.authz;
    state.services.credentials.invalidate({ tenant: identity.tenant, identity: identity.id, provider: state.provider.name }).catch(() => undefined);
  }
  state.stage = h.end_of_stream === true ? 'done' : 'response_body';
  // A stream the transform may change cannot keep a content-length (an upstream that wrote the whole stream before
  // its headers sends one): Envoy refuses a mutated body whose length disagrees with it (a 503).
  const unframed = state.sse !== undefined && headers.has('content-length');
  return responseHeadersResponse({ streamBody: state.responseStreamed, ...(unframed ? { edits: { remove: ['content-length'] } } : {}) });
}

/** Response body: buffered whole (decoded first if compressed), or SSE chunk by chunk. Usage is read at the end. */
export function onResponseBody(state: RequestState, b: HttpBody): ProcessingResponse | Promise<ProcessingResponse> {
  if (state.stage === 'local_reply') {
    if (b.end_of_stream === true) state.stage = 'done';
    return responseBodyResponse();
  }
  if (state.stage !== 'response_body') throw new TollgateError('protocol_violation', `response body in stage ${state.stage}`);
  const chunk = b.body ?? Buffer.alloc(0);
  state.responseBytes += chunk.length;
  const end = b.end_of_stream === true;
  if (state.responseStreamed) {
    state.usageMeter?.onSseChunk(chunk);
    if (end) finishResponse(state);
    return state.sse === undefined ? responseBodyResponse() : streamedChunkResponse(transformSseChunk(state, state.sse, chunk, end));
  }
  state.responseChunks.push(chunk);
  if (!end) return responseBodyResponse();
  const raw = Buffer.concat(state.responseChunks);
  state.responseChunks = [];
  if (state.mcp?.list === true) return filterMcpList(state, decoded(state, raw)).then((shown) => bufferedAnswer(state, raw, shown));
  return bufferedAnswer(state, raw, decoded(state, raw));
}

/** The buffered body decoded (compressed upstream answers), or as it came. */
function decoded(state: RequestState, raw: Buffer): Buffer {
  return state.responseCodings.length === 0 ? raw : decodeContentEncoding(raw, state.responseCodings, state.policy.limits.maxResponseBodyBytes);
}

/**
 * The answer to the last buffered chunk: the body inspected (and metered), replaced when it changed. A decoded body
 * always replaces the original, without content-encoding (Envoy still holds the buffered response's headers, so
 * the answer can change them; content-length is set to match).
 */
function bufferedAnswer(state: RequestState, raw: Buffer, body: Buffer): ProcessingResponse {
  const out = inspectAndMeter(state, body) ?? (body === raw ? undefined : body);
  return state.responseCodings.length === 0 ? responseBodyResponse(out) : responseBodyResponse(out, { remove: ['content-encoding'] });
}

/**
 * A whole buffered body: content controls and usage from one parse. The usage is read even when the
 * inspection refuses the response, so its record names what the provider reported.
 */
function inspectAndMeter(state: RequestState, body: Buffer): Buffer | undefined {
  try {
    return inspectBufferedResponse(state, body, state.usageMeter);
  } finally {
    finishResponse(state);
  }
}

function finishResponse(state: RequestState): void {
  state.usage = state.usageMeter?.usage();
  state.stage = 'done';
}
