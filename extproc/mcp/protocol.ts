// The MCP Streamable HTTP protocol as Tollgate reads it: protocol versions, the JSON-RPC 2.0 message in a POST
// body, what a method names (a tool, a prompt, a resource, a task), and which methods policy treats alike.
// Pure: no I/O, imports nothing internal but the JSON types.
import { MCP_PROTOCOL_VERSIONS, type McpProtocolVersion } from '../providers/mcp/index.ts';
import type { JsonObject, JsonValue } from '../providers/shared/strict-json.ts';

export { MCP_PROTOCOL_VERSIONS, type McpProtocolVersion };

/** The version whose requests mirror the body into Mcp-Method, Mcp-Name and Mcp-Param-* headers. */
export const HEADER_MIRROR_VERSION: McpProtocolVersion = '2026-07-28';

/** Where 2026-07-28 carries the protocol version inside a request body (params._meta). */
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';

/** What a named method names, for policy: tools, prompts, resources (by URI), tasks (by id). */
export type McpTarget = 'tool' | 'prompt' | 'resource' | 'task';

/**
 * Methods every grant for a server allows: the session itself (initialize, ping, the client's notifications).
 * Without them no client can talk to the server at all; they carry no tool, prompt or resource.
 */
export const SESSION_METHODS: ReadonlySet<string> = new Set([
  'initialize', 'ping', 'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed',
]);

/** List methods: allowed by default, and their answers are filtered to what the caller's grants allow. */
export const LIST_METHODS: Readonly<Record<string, { readonly key: 'tools' | 'prompts' | 'resources' | 'resourceTemplates'; readonly target: McpTarget; readonly nameKey: 'name' | 'uri' | 'uriTemplate' }>> = Object.freeze({
  'tools/list': { key: 'tools', target: 'tool', nameKey: 'name' },
  'prompts/list': { key: 'prompts', target: 'prompt', nameKey: 'name' },
  'resources/list': { key: 'resources', target: 'resource', nameKey: 'uri' },
  'resources/templates/list': { key: 'resourceTemplates', target: 'resource', nameKey: 'uriTemplate' },
});

/** Methods that name one thing, where the name is, and what kind of thing it is. */
export const NAMED_METHODS: Readonly<Record<string, { readonly target: McpTarget; readonly param: 'name' | 'uri' | 'taskId' }>> = Object.freeze({
  'tools/call': { target: 'tool', param: 'name' },
  'prompts/get': { target: 'prompt', param: 'name' },
  'resources/read': { target: 'resource', param: 'uri' },
  'resources/subscribe': { target: 'resource', param: 'uri' },
  'resources/unsubscribe': { target: 'resource', param: 'uri' },
  'tasks/get': { target: 'task', param: 'taskId' },
  'tasks/result': { target: 'task', param: 'taskId' },
  'tasks/cancel': { target: 'task', param: 'taskId' },
  'tasks/update': { target: 'task', param: 'taskId' },
});

/**
 * What a grant for an MCP server allows when it lists no `methods`: the lists and the named methods on tools,
 * prompts and resources (each still needs its name allowed), and the 2026-07-28 subscription stream. Anything
 * else (logging/setLevel, completion/complete, tasks/*, an unknown method) must be listed.
 */
export const DEFAULT_MCP_METHODS: readonly string[] = Object.freeze([
  ...Object.keys(LIST_METHODS), 'tools/call', 'prompts/get', 'resources/read', 'resources/subscribe', 'resources/unsubscribe', 'subscriptions/listen',
]);

/** One JSON-RPC message from a client, as policy and audit read it. Never holds result or argument values beyond `arguments`. */
export interface McpMessage {
  readonly kind: 'request' | 'notification' | 'response';
  /** The JSON-RPC id (requests and responses). */
  readonly id: string | number | undefined;
  /** The method (requests and notifications); undefined for a response to a server request. */
  readonly method: string | undefined;
  /** What the method names (tool or prompt name, resource URI, task id), when it names one. */
  readonly target: McpTarget | undefined;
  readonly name: string | undefined;
  /** Tool or prompt arguments, when the method carries them. */
  readonly arguments: JsonObject | undefined;
  /** The version the body itself states: initialize's params.protocolVersion, or 2026-07-28's params._meta. */
  readonly bodyVersion: string | undefined;
}

/** A JSON-RPC message Tollgate refuses to read; `jsonRpc` is the error code the client gets. */
export class McpProtocolError extends Error {
  readonly jsonRpc: number;
  readonly kind: 'parse' | 'invalid' | 'batch' | 'version' | 'header';
  constructor(kind: McpProtocolError['kind'], detail: string) {
    super(detail);
    this.name = 'McpProtocolError';
    this.kind = kind;
    this.jsonRpc = kind === 'parse' ? -32700 : kind === 'header' ? -32020 : -32600;
  }
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_METHOD = 256;
const MAX_NAME = 4096;

/** True when the body is a JSON array: a JSON-RPC batch (whitespace before "[" allowed). */
export function isBatch(body: Buffer): boolean {
  for (const b of body) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x5b;
  }
  return false;
}

function idOf(v: JsonValue | undefined): string | number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && v.length <= 256) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw new McpProtocolError('invalid', 'the JSON-RPC id must be a string or an integer');
}

/** The thing a method names, read from its params; a named method without it is invalid. */
function nameOf(method: string, params: JsonObject | undefined): { target: McpTarget | undefined; name: string | undefined } {
  const named = NAMED_METHODS[method];
  if (named !== undefined) {
    const v = params?.[named.param];
    if (typeof v !== 'string' || v === '' || v.length > MAX_NAME) throw new McpProtocolError('invalid', `${method} needs a string params.${named.param}`);
    return { target: named.target, name: v };
  }
  if (method === 'completion/complete') {
    const ref = params?.ref;
    if (!isObject(ref)) throw new McpProtocolError('invalid', 'completion/complete needs params.ref');
    if (ref.type === 'ref/prompt' && typeof ref.name === 'string') return { target: 'prompt', name: ref.name };
    if (ref.type === 'ref/resource' && typeof ref.uri === 'string') return { target: 'resource', name: ref.uri };
    throw new McpProtocolError('invalid', 'completion/complete needs a prompt or resource reference');
  }
  return { target: undefined, name: undefined };
}

/**
 * Reads one JSON-RPC 2.0 message from a strictly parsed body. Throws McpProtocolError (invalid) for anything
 * that is not a request, a notification or a response with MCP's shapes: params an object, ids strings or
 * integers, a named method's name present.
 */
export function readMessage(doc: JsonObject): McpMessage {
  if (doc.jsonrpc !== '2.0') throw new McpProtocolError('invalid', 'the body must be a JSON-RPC 2.0 message ("jsonrpc": "2.0")');
  const params = doc.params;
  if (params !== undefined && !isObject(params)) throw new McpProtocolError('invalid', 'params must be an object');
  const method = doc.method;
  if (method === undefined) {
    const hasResult = doc.result !== undefined;
    const hasError = doc.error !== undefined;
    if (hasResult === hasError || doc.id === undefined) throw new McpProtocolError('invalid', 'a message without a method must be a response with an id and one of result or error');
    return { kind: 'response', id: idOf(doc.id), method: undefined, target: undefined, name: undefined, arguments: undefined, bodyVersion: undefined };
  }
  if (typeof method !== 'string' || method === '' || method.length > MAX_METHOD) throw new McpProtocolError('invalid', 'method must be a non-empty string');
  if (doc.result !== undefined || doc.error !== undefined) throw new McpProtocolError('invalid', 'a request may not carry result or error');
  const { target, name } = nameOf(method, params);
  const args = params?.arguments;
  if (args !== undefined && !isObject(args)) throw new McpProtocolError('invalid', 'params.arguments must be an object');
  const meta = params?._meta;
  const metaVersion = isObject(meta) ? meta[META_PROTOCOL_VERSION] : undefined;
  const initVersion = method === 'initialize' ? params?.protocolVersion : undefined;
  const stated = typeof metaVersion === 'string' ? metaVersion : typeof initVersion === 'string' ? initVersion : undefined;
  return {
    kind: doc.id === undefined ? 'notification' : 'request',
    id: idOf(doc.id),
    method,
    target,
    name,
    arguments: args,
    bodyVersion: stated,
  };
}

/**
 * The protocol version a POST speaks: the MCP-Protocol-Version header when sent (it must be one Tollgate knows),
 * else what the body states (initialize negotiates in the body), else the pre-header default the spec gives
 * (2025-03-26, read as "legacy": the body decides).
 */
export function protocolVersionOf(header: string | undefined, msg: McpMessage | undefined): McpProtocolVersion | 'legacy' {
  if (header !== undefined) {
    const v = header.trim();
    if (!(MCP_PROTOCOL_VERSIONS as readonly string[]).includes(v)) throw new McpProtocolError('version', 'unsupported MCP-Protocol-Version');
    return v as McpProtocolVersion;
  }
  const stated = msg?.bodyVersion;
  if (msg?.method !== 'initialize' && stated === HEADER_MIRROR_VERSION) throw new McpProtocolError('header', 'a 2026-07-28 request must send MCP-Protocol-Version');
  return 'legacy';
}
