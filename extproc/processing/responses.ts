// The single builder of ext_proc ProcessingResponse messages. Encodes Envoy's wire rules once:
// header values go in raw_value only (value alone yields empty headers; both can give a 500), and the
// deprecated `append` BoolValue is always set, false meaning overwrite (append_action is ignored).
import { clientErrorBody, denialHeaders, ERROR_CATALOGUE, type ErrorCode } from '../errors.ts';
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

export function trailersResponse(direction: 'request_trailers' | 'response_trailers'): ProcessingResponse {
  return direction === 'request_trailers' ? { request_trailers: {} } : { response_trailers: {} };
}

/** A local reply: a status, a JSON body, and the denial headers (decision id, request id, retry hint). */
function denialReply(status: number, body: string, code: ErrorCode, requestId: string | undefined, decisionId: string, retryAfterSeconds: number | undefined): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: status },
      headers: {
        set_headers: [
          headerOption('content-type', 'application/json'),
          headerOption('x-tollgate-decision-id', decisionId),
          ...denialHeaders(code, requestId, retryAfterSeconds).map((h) => headerOption(h.name, h.value)),
        ],
      },
      body: Buffer.from(body, 'utf8'),
      details: `tollgate_${code}`,
    },
  };
}

/** A local reply carrying a JSON-RPC error (MCP servers): its status and body from mcp/jsonrpc-error.ts. */
export function jsonRpcErrorResponse(answer: { readonly status: number; readonly body: string }, code: ErrorCode, requestId: string | undefined, decisionId: string, retryAfterSeconds?: number): ProcessingResponse {
  return denialReply(answer.status, answer.body, code, requestId, decisionId, retryAfterSeconds);
}

/** A local reply with the catalogue's HTTP status, a JSON error body, and the denial headers (request id, retry hint). */
export function errorResponse(code: ErrorCode, requestId: string | undefined, decisionId: string, extra: { readonly retryAfterSeconds?: number | undefined; readonly types?: readonly string[] | undefined } = {}): ProcessingResponse {
  return denialReply(ERROR_CATALOGUE[code].httpStatus, clientErrorBody(code, requestId, extra.types), code, requestId, decisionId, extra.retryAfterSeconds);
}
