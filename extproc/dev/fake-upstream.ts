import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the upstream received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface CannedResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string or buffer is sent whole; an array is sent as separate writes (an SSE stream). */
  readonly body: string | Buffer | readonly string[];
  /** Wait this long before answering (to test timeouts and cancellation). */
  readonly delayMs?: number;
}

export type Responder = (req: RecordedRequest) => CannedResponse;

export interface FakeUpstream {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

const json = (status: number, body: unknown): CannedResponse => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/**
 * An OpenAI-compatible stand-in for a provider: answers chat completions with a short completion
 * and a usage block, streams SSE when asked, lists models. With `expectedBearer`, a request without
 * exactly that credential gets 401, as a real provider would.
 */
export function openAiResponder(expectedBearer?: string): Responder {
  return (req) => {
    if (expectedBearer !== undefined && req.headers.authorization !== `Bearer ${expectedBearer}`)
      return json(401, { error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' } });
    if (req.method === 'GET' && req.path.endsWith('/models')) return json(200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] });
    if (req.method !== 'POST' || !req.path.endsWith('/chat/completions')) return json(404, { error: { message: 'not found' } });
    let parsed: { model?: string; stream?: boolean; messages?: unknown[] };
    try {
      parsed = JSON.parse(req.body.toString('utf8')) as typeof parsed;
    } catch {
      return json(400, { error: { message: 'bad json' } });
    }
    const model = parsed.model ?? 'unknown';
    const promptTokens = Math.max(1, Math.ceil(req.body.length / 4));
    const text = 'Hello from the Tollgate demo upstream.';
    if (parsed.stream === true) {
      const chunk = (delta: object, finish: string | null): string =>
        `data: ${JSON.stringify({ id: 'chatcmpl-demo', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: [chunk({ role: 'assistant', content: text }, null), chunk({}, 'stop'), 'data: [DONE]\n\n'] };
    }
    return {
      ...json(200, {
      id: 'chatcmpl-demo',
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: 8, total_tokens: promptTokens + 8 },
      }),
      // Models named "*-slow" answer after a pause, for cancellation and timeout tests.
      ...(model.endsWith('-slow') ? { delayMs: 3_000 } : {}),
    };
  };
}

/**
 * A minimal MCP server for the benchmark: a POST to a path ending in /mcp with a JSON-RPC `tools/call` gets a
 * text result echoing the arguments (any other request goes to `fallback`). The bearer token is checked like
 * the OpenAI one.
 */
export function mcpToolResponder(expectedBearer: string | undefined, fallback: Responder): Responder {
  return (req) => {
    if (req.method !== 'POST' || !req.path.endsWith('/mcp')) return fallback(req);
    if (expectedBearer !== undefined && req.headers.authorization !== `Bearer ${expectedBearer}`) return json(401, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'unauthorized' } });
    let msg: { id?: unknown; method?: unknown; params?: { arguments?: unknown } };
    try {
      msg = JSON.parse(req.body.toString('utf8')) as typeof msg;
    } catch {
      return json(400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    }
    if (msg.method !== 'tools/call') return json(200, { jsonrpc: '2.0', id: msg.id ?? null, error: { code: -32601, message: 'Method not found' } });
    return json(200, { jsonrpc: '2.0', id: msg.id ?? null, result: { content: [{ type: 'text', text: JSON.stringify(msg.params?.arguments ?? {}) }] } });
  };
}

export async function startFakeUpstream(opts: { host?: string; port?: number; respond?: Responder; maxRecorded?: number } = {}): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const respond = opts.respond ?? openAiResponder();
  const maxRecorded = opts.maxRecorded ?? 10_000;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      if (requests.length < maxRecorded) requests.push(recorded);
      const canned = respond(recorded);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(canned.status, canned.headers);
        if (typeof canned.body === 'string' || Buffer.isBuffer(canned.body)) {
          res.end(canned.body);
          return;
        }
        for (const part of canned.body) res.write(part);
        res.end();
      };
      if (canned.delayMs === undefined) send();
      else setTimeout(send, canned.delayMs).unref();
    });
  });
  server.keepAliveTimeout = 60_000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => { resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}
