// `tollgate mcp pins --config FILE --server NAME [--json] [--identity ID]`: lists an MCP server's tools with the
// server's own credential (fetched as `serve` does: env, file or Vault, through the credential broker), hashes each
// definition and compares it with the reviewed pin in the config or the trust-on-first-use pin in the state store.
// Prints YAML to paste under the server's `mcp:` block. Exit 0: everything matches or is new; 1: a definition
// changed, carries invisible characters, or cannot be hashed; 2: it cannot check (usage, configuration, a
// credential or state store it cannot read, a server it cannot list). Records nothing.
import { parseArgs } from 'node:util';
import type { Env } from '../config/env.ts';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import { loadServiceMaterial, stateStoreSecrets } from '../service-material.ts';
import type { Config } from '../config/schema.ts';
import type { CredentialScope } from '../core/credential.ts';
import { createCredentialBroker } from '../credentials/broker.ts';
import { ToolPinRegistry, type ToolPinVerdict } from '../mcp/tool-pins.ts';
import { headerValue } from '../providers/index.ts';
import { DEFAULT_MCP_PATH, MCP_KIND } from '../providers/mcp/index.ts';
import { createStateStore } from '../state/create-store.ts';
import { RedisStateStore } from '../state/redis-store.ts';
import { listMcpTools, type McpTarget } from './mcp-list.ts';

/** A usage or configuration problem, or a server that could not be listed: exit 2, message on stderr. */
export class McpPinsError extends ConfigError {}

export interface McpPinsResult {
  readonly output: string;
  readonly exitCode: 0 | 1;
}

/** The scope the server credential is fetched for: a configured identity (for per-identity credentials), or the CLI's own. */
function scopeFor(config: Config, server: string, identity: string | undefined): CredentialScope {
  if (identity === undefined) return { tenant: 'default', identity: 'tollgate-mcp-pins', provider: server };
  const found = config.identities.find((i) => i.id === identity);
  if (found === undefined) throw new McpPinsError(`--identity ${identity}: no such identity in the config`);
  return { tenant: found.tenant, identity: found.id, provider: server };
}

/** Fetches the server credential through the broker (Vault login first, leases revoked at the end) and calls `use`. */
async function withTarget<T>(config: Config, server: string, scope: CredentialScope, env: Env, use: (t: McpTarget) => Promise<T>): Promise<T> {
  const provider = config.providers.find((p) => p.name === server && p.kind === 'mcp');
  if (provider === undefined) throw new McpPinsError(`--server ${server}: the config has no provider of kind mcp with that name`);
  const url = new URL(provider.upstream);
  url.pathname = url.pathname.replace(/\/+$/, '') + (provider.mcp?.path ?? DEFAULT_MCP_PATH);
  const material = loadServiceMaterial(config, env);
  const broker = createCredentialBroker(material.credentialSources, { refreshMs: 60_000, expiryMarginMs: config.vault?.expiryMarginMs ?? 30_000 });
  try {
    const credential = await (async () => {
      await material.vault?.start();
      return broker.get(scope);
    })().catch((err: unknown) => { throw new McpPinsError(`mcp pins: cannot fetch the credential of ${server}: ${(err as Error).message}`, { cause: err }); });
    const apply = MCP_KIND.credential({ upstream: url, mcpPath: url.pathname });
    const edits = await apply(credential, { method: 'POST', upstream: url, upstreamPath: url.pathname, query: '', body: undefined });
    return await use({ url, headers: Object.fromEntries(edits.set.map((h) => [h.name, headerValue(h)])) });
  } finally {
    await broker.close();
    await material.vault?.close();
  }
}

/** Compares with the pins, read-only: the config's reviewed pins and the state store's trust-on-first-use pins. */
async function assess(config: Config, server: string, env: Env, tools: readonly unknown[]): Promise<readonly ToolPinVerdict[]> {
  const store = createStateStore(config.state, stateStoreSecrets(config.state, env));
  try {
    if (store instanceof RedisStateStore) await store.ready(config.state.backend === 'redis' ? config.state.connectTimeoutMs : undefined);
    const provider = config.providers.find((p) => p.name === server);
    return await new ToolPinRegistry(store, { [server]: provider?.mcp ?? {} }).assessList(server, tools);
  } catch (err) {
    throw new McpPinsError(`mcp pins: cannot read the first-use pins from the state store: ${(err as Error).message}`, { cause: err });
  } finally {
    await store.close();
  }
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const YAML_WORDS = /^(true|false|null|yes|no|on|off|y|n)$/i;

/** A tool name as a YAML key: plain when safe, else double-quoted with every non-printable character escaped. */
export function yamlKey(name: string): string {
  if (PLAIN_KEY.test(name) && !YAML_WORDS.test(name)) return name;
  let out = '"';
  for (const ch of name) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

function note(v: ToolPinVerdict): string {
  const pin = v.pinSource === 'reviewed' ? 'reviewed pin' : 'first-use pin';
  const parts = [
    v.status === 'pinned' ? `matches the ${pin}` : v.status === 'changed' ? `CHANGED from the ${pin} ${v.pinned ?? ''}` : v.status === 'unpinned' ? 'new (trustOnFirstUse is off)' : 'new',
  ];
  if (v.flags.length > 0) parts.push(`FLAGGED: invisible or control characters in ${v.flags.join(', ')}`);
  return parts.join('; ');
}

function isProblem(v: ToolPinVerdict): boolean {
  return v.status === 'changed' || v.status === 'invalid' || v.flags.length > 0;
}

function render(server: string, url: URL, verdicts: readonly ToolPinVerdict[], stale: readonly string[]): string {
  const lines = [`# MCP server ${server} (${url.origin}${url.pathname}): ${verdicts.length} tools`, '# Paste under the server\'s `mcp:` block once reviewed:', 'pins:'];
  for (const v of verdicts) {
    if (v.status === 'invalid') lines.push(`  # ${yamlKey(v.name || '(no name)')}: not pinnable: ${v.reason ?? ''}`);
    else lines.push(`  ${yamlKey(v.name)}: ${v.current}  # ${note(v)}`);
  }
  for (const name of stale) lines.push(`  # ${yamlKey(name)}: has a reviewed pin but the server does not list it`);
  return `${lines.join('\n')}\n`;
}

export async function runMcpPins(args: readonly string[], env: Env): Promise<McpPinsResult> {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string' }, server: { type: 'string' }, json: { type: 'boolean' }, identity: { type: 'string' } }, strict: true, allowPositionals: false });
  if (values.config === undefined || values.server === undefined) throw new McpPinsError('mcp pins: --config FILE and --server NAME are required');
  const config = loadConfigFile(values.config);
  const server = values.server;
  const scope = scopeFor(config, server, values.identity);
  const { url, tools } = await withTarget(config, server, scope, env, async (target) => {
    try {
      return { url: target.url, tools: await listMcpTools(target) };
    } catch (err) {
      throw new McpPinsError(`mcp pins: cannot list the tools of ${server} at ${target.url.origin}${target.url.pathname}: ${(err as Error).message}`, { cause: err });
    }
  });
  const verdicts = await assess(config, server, env, tools);
  const listed = new Set(verdicts.map((v) => v.name));
  const reviewed = config.providers.find((p) => p.name === server)?.mcp?.pins ?? {};
  const stale = Object.keys(reviewed).filter((name) => !listed.has(name)).sort();
  const exitCode = verdicts.some(isProblem) ? 1 : 0;
  if (values.json === true) {
    return { exitCode, output: `${JSON.stringify({ server, url: `${url.origin}${url.pathname}`, tools: verdicts, staleReviewedPins: stale }, null, 2)}\n` };
  }
  return { exitCode, output: render(server, url, verdicts, stale) };
}
