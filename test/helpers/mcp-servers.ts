// MCP servers for the MCP suites (issue 16): the official SDK's Streamable HTTP server with test tools, and the
// reference server @modelcontextprotocol/server-everything as a child process. Both listen on loopback only.
//
// Protocol versions of @modelcontextprotocol/sdk 1.32.2 (read from its dist/esm/types.js): it speaks
// 2025-11-25 (LATEST_PROTOCOL_VERSION, what its client offers in initialize), 2025-06-18, 2025-03-26, 2024-11-05
// and 2024-10-07. It does NOT know 2026-07-28: its client never sends `Mcp-Method`, `Mcp-Name` or `Mcp-Param-*`
// headers, only `mcp-session-id` and `mcp-protocol-version` (client/streamableHttp.js); its server ignores them.
// (The SDK ships the draft spec's types as spec.types.js with "DRAFT-2026-v1", but nothing uses them.) Tests of
// 2026-07-28 header/body consistency therefore set those headers themselves (fetch or raw-http), not through
// the SDK client.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema, GetPromptRequestSchema, ListPromptsRequestSchema, ListResourcesRequestSchema, ListToolsRequestSchema,
  ReadResourceRequestSchema, type CallToolResult, type Tool,
} from '@modelcontextprotocol/sdk/types.js';

/** A tool definition as tools/list carries it (raw JSON Schema, so a test can plant anything in it). */
export type McpToolDefinition = Tool;

/** One HTTP request the server received, before any check: method, path, every header, the body as text. */
export interface RecordedMcpRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface TestMcpServerOptions {
  /** How POST answers come back: one JSON body (`enableJsonResponse`) or an SSE stream (the SDK's default). */
  readonly responses?: 'json' | 'sse';
  /** Every request must carry `Authorization: Bearer <token>`; others get 401 and never reach the MCP server. */
  readonly bearerToken?: string;
  /** The string the `read_secret` tool, the resource and the prompt put into what they return. */
  readonly secret?: string;
  /** tools/list returns at most this many tools per page, with `nextCursor` for the rest (default: all at once). */
  readonly pageSize?: number;
  /** The tools before `extraTools` (default: echo, read_secret, lookup_ticket); tools not named so answer like `echo`. */
  readonly tools?: readonly McpToolDefinition[];
  /** More tools (answered like `echo`), e.g. definitions carrying invisible characters. */
  readonly extraTools?: readonly McpToolDefinition[];
}

export interface TestMcpServer {
  /** The MCP endpoint, http://127.0.0.1:PORT/mcp. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order (including refused ones). */
  readonly requests: readonly RecordedMcpRequest[];
  /** The tools as the next tools/list will show them. */
  tools(): readonly McpToolDefinition[];
  /** Changes a tool's definition from now on (the next tools/list shows it); tells open sessions list_changed. */
  changeTool(name: string, changes: Partial<McpToolDefinition>): void;
  /** Sessions the server has open. */
  sessions(): number;
  stop(): Promise<void>;
}

export const MCP_PATH = '/mcp';

export const ECHO_TOOL: McpToolDefinition = {
  name: 'echo',
  title: 'Echo',
  description: 'Returns its arguments as JSON text.',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  annotations: { readOnlyHint: true },
};
export const SECRET_TOOL: McpToolDefinition = {
  name: 'read_secret',
  description: 'Reads the deployment notes (they contain a credential).',
  inputSchema: { type: 'object', properties: {} },
};
export const STRUCTURED_TOOL: McpToolDefinition = {
  name: 'lookup_ticket',
  description: 'Looks up a ticket: structured result and the ticket as an embedded resource.',
  inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  outputSchema: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' }, owner: { type: 'string' } }, required: ['id', 'status'] },
};
export const NOTES_RESOURCE = { uri: 'test://notes/deploy', name: 'deploy-notes', mimeType: 'text/plain' } as const;
export const SUMMARIZE_PROMPT = { name: 'summarize', description: 'Summarize a text.', arguments: [{ name: 'text', required: true }] } as const;

const DEFAULT_SECRET = 'no-secret-planted';
const MAX_BODY = 4 * 1024 * 1024;

function echoResult(args: Record<string, unknown> | undefined): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(args ?? {}) }] };
}

function ticketResult(id: string, secret: string): CallToolResult {
  const ticket = { id, status: 'open', owner: 'ops' };
  return {
    content: [
      { type: 'text', text: JSON.stringify(ticket) },
      { type: 'resource', resource: { uri: `test://tickets/${encodeURIComponent(id)}`, mimeType: 'text/plain', text: `ticket ${id}: ${secret}` } },
    ],
    structuredContent: ticket,
  };
}

/**
 * One SDK server per session. Its handlers are set on the protocol level (not registerTool) so that they serve
 * raw JSON definitions from the shared table, which a test can change while sessions are open.
 */
function sessionServer(state: { defs: Map<string, McpToolDefinition>; secret: string; pageSize: number | undefined }): McpServer {
  const mcp = new McpServer({ name: 'tollgate-test-mcp', version: '1.0.0' }, {
    capabilities: { tools: { listChanged: true }, resources: {}, prompts: {} },
  });
  const server = mcp.server;
  server.setRequestHandler(ListToolsRequestSchema, (req) => {
    const all = [...state.defs.values()];
    const start = req.params?.cursor === undefined ? 0 : Number(req.params.cursor);
    const size = state.pageSize ?? all.length;
    const page = all.slice(start, start + size);
    return start + size < all.length ? { tools: page, nextCursor: String(start + size) } : { tools: page };
  });
  server.setRequestHandler(CallToolRequestSchema, (req) => {
    const { name, arguments: args } = req.params;
    if (!state.defs.has(name)) return { isError: true, content: [{ type: 'text', text: `unknown tool ${name}` }] };
    if (name === SECRET_TOOL.name) return { content: [{ type: 'text', text: `deploy notes: token=${state.secret}` }] };
    if (name === STRUCTURED_TOOL.name) return ticketResult(typeof args?.id === 'string' ? args.id : '', state.secret);
    return echoResult(args);
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [NOTES_RESOURCE] }));
  server.setRequestHandler(ReadResourceRequestSchema, (req) => ({
    contents: [{ uri: req.params.uri, mimeType: 'text/plain', text: `notes for ${req.params.uri}: ${state.secret}` }],
  }));
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: [SUMMARIZE_PROMPT] }));
  server.setRequestHandler(GetPromptRequestSchema, (req) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Summarize: ${req.params.arguments?.text ?? ''}` } }],
  }));
  return mcp;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new RangeError('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function isInitialize(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { method?: unknown }).method === 'initialize';
}

/**
 * Starts the SDK's Streamable HTTP server (stateful: `Mcp-Session-Id`) on 127.0.0.1 and a free port, with the
 * tools `echo`, `read_secret`, `lookup_ticket` (structuredContent + embedded resource), a resource and a prompt.
 */
export async function startTestMcpServer(options: TestMcpServerOptions = {}): Promise<TestMcpServer> {
  const state = {
    defs: new Map<string, McpToolDefinition>([...(options.tools ?? [ECHO_TOOL, SECRET_TOOL, STRUCTURED_TOOL]), ...(options.extraTools ?? [])].map((t) => [t.name, structuredClone(t)])),
    secret: options.secret ?? DEFAULT_SECRET,
    pageSize: options.pageSize,
  };
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const requests: RecordedMcpRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = req.method === 'POST' ? await readBody(req) : '';
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, body });
    if (new URL(req.url ?? '/', 'http://x').pathname !== MCP_PATH) { jsonRpcError(res, 404, -32601, 'not found'); return; }
    if (options.bearerToken !== undefined && req.headers.authorization !== `Bearer ${options.bearerToken}`) {
      jsonRpcError(res, 401, -32001, 'unauthorized', { 'www-authenticate': 'Bearer' });
      return;
    }
    let parsed: unknown;
    if (req.method === 'POST') {
      try { parsed = JSON.parse(body); } catch { jsonRpcError(res, 400, -32700, 'Parse error'); return; }
    }
    const sid = req.headers['mcp-session-id'];
    let session = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string' && session === undefined) { jsonRpcError(res, 404, -32001, 'Session not found'); return; }
    if (session === undefined) {
      if (!isInitialize(parsed)) { jsonRpcError(res, 400, -32000, 'Bad Request: no session'); return; }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.responses === 'json',
        onsessioninitialized: (id) => { sessions.set(id, { transport, server }); },
        onsessionclosed: (id) => { sessions.delete(id); },
      });
      const server = sessionServer(state);
      await server.connect(transport);
      session = { transport, server };
    }
    await session.transport.handleRequest(req, res, parsed);
  };

  const http: HttpServer = createServer((req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) jsonRpcError(res, 500, -32603, 'Internal error'); else res.destroy(); });
  });
  await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(0, '127.0.0.1', resolve); });
  const port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}${MCP_PATH}`,
    port,
    requests,
    tools: () => [...state.defs.values()],
    changeTool(name, changes) {
      const old = state.defs.get(name);
      if (old === undefined) throw new Error(`no tool ${name}`);
      state.defs.set(name, { ...old, ...structuredClone(changes) });
      for (const s of sessions.values()) s.server.sendToolListChanged();
    },
    sessions: () => sessions.size,
    async stop() {
      for (const s of sessions.values()) await s.transport.close();
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => { http.close(() => { resolve(); }); });
    },
  };
}

export interface ServerEverything {
  /** The MCP endpoint, http://127.0.0.1:PORT/mcp. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
}

const LOOPBACK_PRELOAD = fileURLToPath(new URL('./loopback-listen.ts', import.meta.url));
const LISTENING = /^tollgate-test-listening (\d+)$/m;

/**
 * Launches @modelcontextprotocol/server-everything in its Streamable HTTP mode (`dist/index.js streamableHttp`,
 * port from `PORT`) as a child process. The server itself listens on every interface; a preload
 * (loopback-listen.ts) binds it to 127.0.0.1 on a port the kernel picks and reports that port.
 */
export async function startServerEverything(): Promise<ServerEverything> {
  const entry = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
  const child: ChildProcess = spawn(process.execPath, ['--import', LOOPBACK_PRELOAD, entry, 'streamableHttp'], {
    env: { PATH: process.env.PATH ?? '', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  child.stderr?.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    await exited;
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`server-everything did not listen within 15 s:\n${out}`)); }, 15_000);
    const check = (): void => {
      const m = LISTENING.exec(out);
      if (m?.[1] !== undefined) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    void exited.then(() => { clearTimeout(timer); reject(new Error(`server-everything exited before listening:\n${out}`)); });
  }).catch(async (err: unknown) => { await stop(); throw err; });
  return { url: `http://127.0.0.1:${port}${MCP_PATH}`, port, pid: child.pid ?? -1, output: () => out, stop };
}
