// The single builder of ext_proc ProcessingResponse messages. Encodes Envoy's wire rules once:
// header values go in raw_value only (value alone yields empty headers; both can give a 500), and the
// deprecated `append` BoolValue is always set, false meaning overwrite (append_action is ignored).
import type { DenialReply } from '../errors.ts';
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

function common(edits: HeaderEdits | undefined, replacedBody?: Buffer): CommonResponse {
  const header_mutation = mutation(edits, replacedBody);
  return {
    status: 'CONTINUE',
    ...(header_mutation === undefined ? {} : { header_mutation }),
    ...(replacedBody === undefined ? {} : { body_mutation: { body: replacedBody } }),
  };
}

export function requestHeadersResponse(edits?: HeaderEdits): ProcessingResponse {
  return { request_headers: { response: common(edits) } };
}

export function requestBodyResponse(edits?: HeaderEdits, replacedBody?: Buffer): ProcessingResponse {
  return { request_body: { response: common(edits, replacedBody) } };
}

/** `streamBody` switches the response body to STREAMED; Envoy honours mode_override only here. */
export function responseHeadersResponse(options: { readonly streamBody: boolean; readonly edits?: HeaderEdits }): ProcessingResponse {
  return {
    response_headers: { response: common(options.edits) },
    ...(options.streamBody ? { mode_override: { response_body_mode: 'STREAMED' } } : {}),
  };
}

/** A buffered response body, optionally replaced (content-length then set to match), with header edits. */
export function responseBodyResponse(replacedBody?: Buffer, edits?: HeaderEdits): ProcessingResponse {
  return { response_body: { response: common(edits, replacedBody) } };
}

/** A STREAMED response chunk replaced by `chunk` (Envoy drops content-length for streamed bodies itself). */
export function streamedChunkResponse(chunk: Buffer): ProcessingResponse {
  return { response_body: { response: { status: 'CONTINUE', body_mutation: { body: chunk } } } };
}

const REQUEST_TRAILERS: ProcessingResponse = Object.freeze({ request_trailers: Object.freeze({}) });
const RESPONSE_TRAILERS: ProcessingResponse = Object.freeze({ response_trailers: Object.freeze({}) });

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
