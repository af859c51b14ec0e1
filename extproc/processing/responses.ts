// The single builder of ext_proc ProcessingResponse messages. Encodes Envoy's wire rules once:
// header values go in raw_value only (value alone yields empty headers; both can give a 500), and the
// deprecated `append` BoolValue is always set, false meaning overwrite (append_action is ignored).
import type { DenialReply } from '../errors.ts';
import { fixedAnswer } from '../wire/answer-encoding.ts';
import type { CommonResponse, HeaderMutation, HeaderValueOption, ProcessingResponse } from '../wire/ext-proc.ts';

export interface HeaderEdits {
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  readonly remove?: readonly string[];
}

export function headerOption(name: string, value: string): HeaderValueOption {
  return { header: { key: name, raw_value: Buffer.from(value, 'latin1') }, append: { value: false } };
}

function mutation(edits: HeaderEdits | undefined, replacedBody: Buffer | undefined): HeaderMutation | undefined {
  const set = (edits?.set ?? []).map((h) => headerOption(h.name, h.value));
  // A replaced body in BUFFERED mode needs a correct content-length, or Envoy rejects the mutation.
  if (replacedBody !== undefined) set.push(headerOption('content-length', String(replacedBody.length)));
  const remove = edits?.remove ?? [];
  if (set.length === 0 && remove.length === 0) return undefined;
  return { ...(set.length > 0 ? { set_headers: set } : {}), ...(remove.length > 0 ? { remove_headers: [...remove] } : {}) };
}

/** The shared CONTINUE when there is nothing to change, so the builders can answer with a fixed answer. */
function common(edits: HeaderEdits | undefined, replacedBody?: Buffer): CommonResponse {
  const header_mutation = mutation(edits, replacedBody);
  if (header_mutation === undefined && replacedBody === undefined) return CONTINUE;
  return {
    status: 'CONTINUE',
    ...(header_mutation === undefined ? {} : { header_mutation }),
    ...(replacedBody === undefined ? {} : { body_mutation: { body: replacedBody } }),
  };
}

const CONTINUE = { status: 'CONTINUE' } as const;
const REQUEST_HEADERS_CONTINUE = fixedAnswer<ProcessingResponse>({ request_headers: { response: CONTINUE } });
const REQUEST_BODY_CONTINUE = fixedAnswer<ProcessingResponse>({ request_body: { response: CONTINUE } });
const RESPONSE_HEADERS_CONTINUE = fixedAnswer<ProcessingResponse>({ response_headers: { response: CONTINUE } });
const RESPONSE_HEADERS_STREAMED = fixedAnswer<ProcessingResponse>({ response_headers: { response: CONTINUE }, mode_override: { response_body_mode: 'STREAMED' } });
const RESPONSE_BODY_CONTINUE = fixedAnswer<ProcessingResponse>({ response_body: { response: CONTINUE } });
const REQUEST_TRAILERS = fixedAnswer<ProcessingResponse>({ request_trailers: {} });
const RESPONSE_TRAILERS = fixedAnswer<ProcessingResponse>({ response_trailers: {} });

// The builders below return these very answers whenever an answer has no edits.
export function requestHeadersResponse(edits?: HeaderEdits): ProcessingResponse {
  const response = common(edits);
  return response === CONTINUE ? REQUEST_HEADERS_CONTINUE : { request_headers: { response } };
}

export function requestBodyResponse(edits?: HeaderEdits, replacedBody?: Buffer): ProcessingResponse {
  const response = common(edits, replacedBody);
  return response === CONTINUE ? REQUEST_BODY_CONTINUE : { request_body: { response } };
}

/** `streamBody` switches the response body to STREAMED; Envoy honours mode_override only here. */
export function responseHeadersResponse(options: { readonly streamBody: boolean; readonly edits?: HeaderEdits }): ProcessingResponse {
  const response = common(options.edits);
  if (response === CONTINUE) return options.streamBody ? RESPONSE_HEADERS_STREAMED : RESPONSE_HEADERS_CONTINUE;
  return {
    response_headers: { response },
    ...(options.streamBody ? { mode_override: { response_body_mode: 'STREAMED' } } : {}),
  };
}

/** A buffered response body, optionally replaced (content-length then set to match), with header edits. */
export function responseBodyResponse(replacedBody?: Buffer, edits?: HeaderEdits): ProcessingResponse {
  const response = common(edits, replacedBody);
  return response === CONTINUE ? RESPONSE_BODY_CONTINUE : { response_body: { response } };
}

/** A STREAMED response chunk replaced by `chunk` (Envoy drops content-length for streamed bodies itself). */
export function streamedChunkResponse(chunk: Buffer): ProcessingResponse {
  return { response_body: { response: { status: 'CONTINUE', body_mutation: { body: chunk } } } };
}

export function trailersResponse(direction: 'request_trailers' | 'response_trailers'): ProcessingResponse {
  return direction === 'request_trailers' ? REQUEST_TRAILERS : RESPONSE_TRAILERS;
}

/** A local reply: a denial's status, headers (request id, retry hint) and JSON error body (errors.ts `denialReply`). */
export function errorResponse(reply: DenialReply): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: reply.status },
      headers: { set_headers: reply.headers.map((h) => headerOption(h.name, h.value)) },
      body: Buffer.from(reply.body, 'utf8'),
      details: `tollgate_${reply.code}`,
    },
  };
}
