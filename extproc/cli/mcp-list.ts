// The MCP client side of `tollgate mcp pins`: initialize and every tools/list page with the official SDK client,
// loaded on first use (serve never loads it). The tools come back exactly as the server sent them (a loose
// result schema), so their hashes are the ones Tollgate computes from the same answers on the wire.
import { z } from 'zod';

/** What the client needs to reach one MCP server: its endpoint and the headers that carry its credential. */
export interface McpTarget {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ListOptions {
  /** Bound on initialize and on each page. */
  readonly timeoutMs?: number;
  /** A server that pages on past this many pages is refused (a cursor loop). */
  readonly maxPages?: number;
}

const TOOLS_PAGE = z.looseObject({
  tools: z.array(z.unknown()).max(10_000),
  nextCursor: z.string().max(4_096).optional(),
});

/** Every tool the server lists, following nextCursor; the session is ended (DELETE) before it returns. */
export async function listMcpTools(target: McpTarget, options: ListOptions = {}): Promise<unknown[]> {
  const timeout = options.timeoutMs ?? 15_000;
  const maxPages = options.maxPages ?? 100;
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport, StreamableHTTPError } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const client = new Client({ name: 'tollgate-mcp-pins', version: '1' });
  const transport = new StreamableHTTPClientTransport(target.url, { requestInit: { headers: { ...target.headers } } });
  try {
    await client.connect(transport, { timeout });
  } catch (err) {
    // The SDK's HTTP errors carry the response status as `code`.
    if (err instanceof StreamableHTTPError && err.code !== undefined) throw new Error(`HTTP ${String(err.code)}: ${err.message}`, { cause: err });
    throw err;
  }
  try {
    const tools: unknown[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 1; ; page++) {
      const res = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, TOOLS_PAGE, { timeout });
      tools.push(...res.tools);
      if (res.nextCursor === undefined) return tools;
      if (seen.has(res.nextCursor)) throw new Error(`tools/list repeated the cursor of an earlier page (page ${page})`);
      if (page >= maxPages) throw new Error(`tools/list has more than ${maxPages} pages`);
      seen.add(res.nextCursor);
      cursor = res.nextCursor;
    }
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  }
}
