// The official MCP SDK client (Client + StreamableHTTPClientTransport) as the MCP suites use it: connected to a
// URL with a bearer token (a Tollgate key through Envoy, or the server's own token direct).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export async function connectMcp(url: string, bearer: string | undefined): Promise<Client> {
  const client = new Client({ name: 'tollgate-e2e', version: '1.0.0' });
  const headers = bearer === undefined ? {} : { authorization: `Bearer ${bearer}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** The text of a tool result: text parts and embedded resources' text, one per line. */
export function resultText(r: Readonly<Record<string, unknown>>): string {
  return ((r.content ?? []) as { type: string; text?: string; resource?: { text?: string } }[]).map((c) => c.text ?? c.resource?.text ?? '').join('\n');
}
