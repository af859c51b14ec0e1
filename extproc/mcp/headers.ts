// Header/body consistency for MCP 2026-07-28: the client mirrors the JSON-RPC method, the name a method
// addresses and the tool arguments its schema declares (`x-mcp-header`) into Mcp-Method, Mcp-Name and
// Mcp-Param-* headers, so intermediaries can route without reading the body. Anything that reads the body must
// refuse a disagreement (HTTP 400, JSON-RPC -32020): otherwise a proxy routes or authorises on one tool while the
// server runs another. Older versions have no such headers: the body decides, and Tollgate removes the headers.
import type { JsonObject, JsonValue } from '../providers/shared/strict-json.ts';
import { HEADER_MIRROR_VERSION, McpProtocolError, NAMED_METHODS, type McpMessage, type McpProtocolVersion } from './protocol.ts';

export const MCP_METHOD_HEADER = 'mcp-method';
export const MCP_NAME_HEADER = 'mcp-name';
export const MCP_PARAM_PREFIX = 'mcp-param-';
export const MCP_VERSION_HEADER = 'mcp-protocol-version';
export const MCP_SESSION_HEADER = 'mcp-session-id';

/** One tool argument the tool's input schema declares as mirrored into `Mcp-Param-<header>`. */
export interface ParamBinding {
  /** Lower-case header name, with the `mcp-param-` prefix. */
  readonly header: string;
  /** Where the argument is, below `arguments`. */
  readonly path: readonly string[];
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

/** A mirrored header value as the client meant it: plain ASCII as is, or the `=?base64?…?=` sentinel decoded. */
export function decodeHeaderValue(raw: string): string {
  const m = SENTINEL.exec(raw);
  if (m === null) {
    if (raw.startsWith('=?base64?')) throw new McpProtocolError('header', 'a mirrored header holds a malformed Base64 value');
    return raw;
  }
  const b64 = m[1] ?? '';
  if (b64.length % 4 !== 0) throw new McpProtocolError('header', 'a mirrored header holds a malformed Base64 value');
  const bytes = Buffer.from(b64, 'base64');
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return text.decode(bytes);
  } catch {
    throw new McpProtocolError('header', 'a mirrored header holds Base64 that is not UTF-8');
  }
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The `x-mcp-header` declarations in a tool's input schema (nested object properties included, bounded depth). */
export function paramBindings(inputSchema: unknown): ParamBinding[] {
  const out: ParamBinding[] = [];
  const walk = (schema: unknown, path: string[], depth: number): void => {
    if (!isObject(schema) || depth > 8) return;
    const props = schema.properties;
    if (!isObject(props)) return;
    for (const [key, sub] of Object.entries(props)) {
      if (!isObject(sub)) continue;
      const declared = sub['x-mcp-header'];
      if (typeof declared === 'string' && TOKEN.test(declared)) out.push({ header: `${MCP_PARAM_PREFIX}${declared.toLowerCase()}`, path: [...path, key] });
      walk(sub, [...path, key], depth + 1);
    }
  };
  walk(inputSchema, [], 0);
  return out;
}

function argumentAt(args: JsonObject | undefined, path: readonly string[]): JsonValue | undefined {
  let v: JsonValue | undefined = args;
  for (const k of path) v = isObject(v) ? v[k] : undefined;
  return v;
}

const mismatch = (what: string): McpProtocolError => new McpProtocolError('header', what);

/**
 * Checks a 2026-07-28 request's mirrored headers against its body; does nothing for older versions (the body
 * decides). `bindings`: the called tool's declared parameters when Tollgate has seen its definition (undefined:
 * unknown, so the Mcp-Param-* headers go on unchecked to the server, which must check them itself).
 * Throws McpProtocolError('header') → HTTP 400, JSON-RPC -32020.
 */
export function checkMirroredHeaders(version: McpProtocolVersion | 'legacy', headers: ReadonlyMap<string, string>, msg: McpMessage, bindings: readonly ParamBinding[] | undefined): void {
  if (version !== HEADER_MIRROR_VERSION) return;
  if (msg.bodyVersion !== undefined && msg.method !== 'initialize' && msg.bodyVersion !== version) throw mismatch('MCP-Protocol-Version does not match the body');
  const method = headers.get(MCP_METHOD_HEADER);
  if (msg.kind === 'response') {
    if (method !== undefined) throw mismatch('Mcp-Method sent with a JSON-RPC response');
  } else if (method === undefined || decodeHeaderValue(method) !== msg.method) throw mismatch('Mcp-Method is missing or does not match the body');
  const name = headers.get(MCP_NAME_HEADER);
  const named = msg.method !== undefined && NAMED_METHODS[msg.method] !== undefined;
  if (named) {
    if (name === undefined || decodeHeaderValue(name) !== msg.name) throw mismatch('Mcp-Name is missing or does not match the body');
  } else if (name !== undefined) throw mismatch('Mcp-Name sent for a method that names nothing');
  const sent = [...headers.keys()].filter((h) => h.startsWith(MCP_PARAM_PREFIX));
  if (msg.method !== 'tools/call') {
    if (sent.length > 0) throw mismatch('Mcp-Param-* headers sent with a method other than tools/call');
    return;
  }
  if (bindings === undefined) return;
  const declared = new Set(bindings.map((b) => b.header));
  for (const h of sent) if (!declared.has(h)) throw mismatch('an Mcp-Param-* header the tool does not declare');
  for (const b of bindings) {
    const v = argumentAt(msg.arguments, b.path);
    const h = headers.get(b.header);
    if (v === undefined || v === null) {
      if (h !== undefined) throw mismatch('an Mcp-Param-* header for an argument the body does not carry');
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw mismatch('a declared header argument is not a primitive');
    if (h === undefined || decodeHeaderValue(h) !== String(v)) throw mismatch('an Mcp-Param-* header is missing or does not match the body');
  }
}

/** The mirrored headers of a request whose version has none (the body decides): removed before the server sees them. */
export function unverifiedMirrorHeaders(version: McpProtocolVersion | 'legacy', names: Iterable<string>): string[] {
  if (version === HEADER_MIRROR_VERSION) return [];
  return [...names].filter((n) => n === MCP_METHOD_HEADER || n === MCP_NAME_HEADER || n.startsWith(MCP_PARAM_PREFIX));
}
