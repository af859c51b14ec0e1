// One MCP POST, read once in the request-body phase: the JSON-RPC message, the protocol version it speaks, the
// mirrored headers checked (2026-07-28) or marked for removal (older versions), and the document policy reads.
import type { McpDocument } from '../core/decision.ts';
import { TollgateError, type ErrorCode } from '../errors.ts';
import type { JsonObject } from '../providers/shared/strict-json.ts';
import { checkMirroredHeaders, MCP_VERSION_HEADER, unverifiedMirrorHeaders, type ParamBinding } from './headers.ts';
import { isBatch, LIST_METHODS, McpProtocolError, protocolVersionOf, readMessage, type McpMessage, type McpProtocolVersion } from './protocol.ts';

export interface McpExchange {
  readonly message: McpMessage;
  readonly version: McpProtocolVersion | 'legacy';
  readonly doc: McpDocument;
  /** Mirrored headers nothing verified (versions before 2026-07-28): removed before the server sees them. */
  readonly removeHeaders: readonly string[];
  /** The answer is a list Tollgate filters (tools/list, prompts/list, resources/list, resources/templates/list). */
  readonly list: boolean;
}

const CODES: Readonly<Record<McpProtocolError['kind'], ErrorCode>> = Object.freeze({
  parse: 'body_malformed',
  invalid: 'jsonrpc_malformed',
  batch: 'jsonrpc_batch_refused',
  version: 'mcp_protocol_version_unsupported',
  header: 'mcp_header_mismatch',
});

/** An MCP protocol error as a catalogue error (the JSON-RPC code follows from the catalogue code); anything else passes. */
export function mcpError(err: unknown): unknown {
  return err instanceof McpProtocolError ? new TollgateError(CODES[err.kind], err.message, { cause: err }) : err;
}

/** Refuses a JSON-RPC batch before the body is parsed (the strict parser would call it malformed). */
export function refuseBatch(body: Buffer): void {
  if (isBatch(body)) throw mcpError(new McpProtocolError('batch', 'a JSON-RPC batch'));
}

/**
 * Reads the message of a parsed POST body and checks it against the request headers. `bindings` gives a tool's
 * declared Mcp-Param-* headers when its definition has been seen. Throws a TollgateError (jsonrpc_malformed,
 * mcp_protocol_version_unsupported, mcp_header_mismatch).
 */
export function readMcpRequest(doc: JsonObject, headers: ReadonlyMap<string, string>, bindings: (tool: string) => readonly ParamBinding[] | undefined): McpExchange {
  try {
    const message = readMessage(doc);
    const version = protocolVersionOf(headers.get(MCP_VERSION_HEADER), message);
    checkMirroredHeaders(version, headers, message, message.method === 'tools/call' && message.name !== undefined ? bindings(message.name) : undefined);
    return {
      message,
      version,
      doc: { kind: message.kind, method: message.method ?? '', target: message.target, name: message.name, arguments: message.arguments },
      removeHeaders: unverifiedMirrorHeaders(version, headers.keys()),
      list: message.kind === 'request' && message.method !== undefined && LIST_METHODS[message.method] !== undefined,
    };
  } catch (err) {
    throw mcpError(err);
  }
}

/** Bounded for the record: a resource URI may be long, and may carry a query (kept out, like a request path's). */
export function auditName(name: string | undefined): string | null {
  if (name === undefined) return null;
  const q = name.search(/[?#]/);
  return (q < 0 ? name : name.slice(0, q)).slice(0, 256);
}
