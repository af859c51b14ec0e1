// Tollgate's denials as JSON-RPC 2.0 errors, so an MCP client (the SDKs included) reads them as errors of the
// request it sent instead of a transport failure. The HTTP status follows the spec: a malformed message, a batch,
// an unsupported version or a header/body mismatch is a 400; a request Tollgate read and refused (policy, content,
// a changed tool definition, a limit) is answered like any refused JSON-RPC request, HTTP 200 with the error
// (a notification or response has no id to answer, so it keeps the catalogue status); failures keep theirs (5xx).
import { denialHeaders, ERROR_CATALOGUE, GENERIC_CLIENT_MESSAGE, type Denial, type DenialReply, type ErrorCode } from '../errors.ts';

/** JSON-RPC error codes: the spec's own, MCP's header mismatch, and one for a request Tollgate refused. */
export const JSONRPC_CODES = Object.freeze({
  parseError: -32700,
  invalidRequest: -32600,
  internalError: -32603,
  headerMismatch: -32020,
  /** A request Tollgate read and refused (policy, content, pins, limits): `data.code` says which rule. */
  refused: -32003,
});

const PROTOCOL: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  jsonrpc_malformed: JSONRPC_CODES.invalidRequest,
  jsonrpc_batch_refused: JSONRPC_CODES.invalidRequest,
  mcp_protocol_version_unsupported: JSONRPC_CODES.invalidRequest,
  mcp_header_mismatch: JSONRPC_CODES.headerMismatch,
  body_malformed: JSONRPC_CODES.parseError,
  body_too_large: JSONRPC_CODES.invalidRequest,
});

/**
 * The answer to a denial for an MCP server: the same headers as any denial (decision id, request id, retry
 * hint), a JSON-RPC error body and the status above. `id`: the request's id (undefined: not read, a
 * notification, or a response). `jsonRpc` overrides the error code.
 */
export function jsonRpcDenialReply(denial: Denial, id: string | number | undefined, requestId: string | undefined, decisionId: string, jsonRpc?: number): DenialReply {
  const { code } = denial;
  const e = ERROR_CATALOGUE[code];
  const protocol = jsonRpc ?? PROTOCOL[code];
  const failure = e.httpStatus >= 500;
  const rpc = protocol ?? (failure ? JSONRPC_CODES.internalError : JSONRPC_CODES.refused);
  const status = protocol !== undefined || failure || id === undefined ? e.httpStatus : 200;
  const data = {
    code,
    decision_id: decisionId,
    ...(requestId === undefined ? {} : { request_id: requestId }),
    ...(denial.types === undefined || denial.types.length === 0 ? {} : { blocked_types: denial.types }),
  };
  return {
    code,
    status,
    headers: [
      { name: 'content-type', value: 'application/json' },
      { name: 'x-tollgate-decision-id', value: decisionId },
      ...denialHeaders(code, requestId, denial.retryAfterSeconds),
    ],
    body: JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code: rpc, message: e.userFacing ? e.message : GENERIC_CLIENT_MESSAGE, data } }),
  };
}
