// MCP servers over Streamable HTTP (kind mcp): upstream "https://mcp.example.com", callers use
// ".../<name><path>" (path "/mcp" by default). One endpoint, three methods: POST carries one JSON-RPC
// message (answered with JSON or an SSE stream), GET opens the server's long-lived stream (2025-06-18 and
// 2025-11-25; removed in 2026-07-28, which streams through a `subscriptions/listen` POST instead), DELETE
// ends a session. The server credential is an OAuth-style bearer token; the caller's is never forwarded.
import type { EndpointRule } from '../shared/endpoints.ts';
import { allowList } from '../shared/headers.ts';
import type { KindSpec } from '../shared/kind.ts';
import { EndpointNotAllowed, ProviderError } from '../errors.ts';
import { bearerCredential } from '../openai/index.ts';

/** The MCP protocol versions Tollgate understands. None of them has JSON-RPC batches (2025-06-18 removed them). */
export const MCP_PROTOCOL_VERSIONS = ['2025-06-18', '2025-11-25', '2026-07-28'] as const;
export type McpProtocolVersion = (typeof MCP_PROTOCOL_VERSIONS)[number];

export const DEFAULT_MCP_PATH = '/mcp';

export function mcpEndpoints(path: string): EndpointRule[] {
  return [
    { method: 'POST', path, operation: 'mcp', body: 'required', model: 'optional', format: 'mcp-jsonrpc', stream: 'never' },
    { method: 'GET', path, operation: 'mcp.listen', body: 'none', model: 'optional', format: 'opaque', stream: 'always' },
    { method: 'DELETE', path, operation: 'mcp.end', body: 'none', model: 'optional', format: 'opaque', stream: 'never' },
  ];
}

export const MCP_KIND: KindSpec = {
  kind: 'mcp',
  endpoints: mcpEndpoints(DEFAULT_MCP_PATH),
  endpointsFor: (options) => mcpEndpoints(options.mcpPath ?? DEFAULT_MCP_PATH),
  inferenceOperations: ['mcp', 'mcp.listen', 'mcp.end'],
  // The session id is the server's handle on the caller's session (passed through, both ways); Last-Event-ID
  // resumes a stream; the Mcp-* mirror headers are checked against the body (2026-07-28) or removed.
  headers: allowList(['mcp-protocol-version', 'mcp-session-id', 'last-event-id', 'mcp-method', 'mcp-name'], ['mcp-param-']),
  pathPolicy: { arnModelsMayHoldSlash: false },
  credential: () => bearerCredential('mcp'),
  checkHead(head, rule) {
    const version = head.headers.get('mcp-protocol-version');
    if (version === undefined) return;
    if (!(MCP_PROTOCOL_VERSIONS as readonly string[]).includes(version.trim())) throw new ProviderError('protocol_version_unsupported', 'unsupported MCP-Protocol-Version');
    // 2026-07-28 removed the GET stream and protocol-level sessions.
    if (version.trim() === '2026-07-28' && rule.method !== 'POST') throw new EndpointNotAllowed(head.method);
  },
};
