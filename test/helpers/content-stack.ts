// The content-controls stack: a real Envoy (rendered config plus the classification routes), `tollgate serve`
// and two recording upstreams: "cloud" (providers openai and anthropic) and "onprem" (an openai-compatible
// provider). The upstreams answer with chunks written one by one, with optional pauses between them, so a
// value can arrive split across SSE chunks.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config, ConfigInput } from '../../extproc/config/schema.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { hashApiKey } from '../../extproc/identity/api-key.ts';
import { baseConfigInput, mintTestKeys, testConfig, type TestKeys } from './config.ts';
import { spawnTollgate, type TollgateProcess } from './stack.ts';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A response: status, headers, and parts written in order (text or bytes); a number is a pause in milliseconds. */
export interface ChunkedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly parts: readonly (string | Uint8Array | number)[];
}

export interface ChunkedUpstream {
  readonly url: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startChunkedUpstream(respond: (req: SeenRequest) => ChunkedResponse): Promise<ChunkedUpstream> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(seen);
      const r = respond(seen);
      res.writeHead(r.status, r.headers);
      void (async () => {
        for (const part of r.parts) {
          if (typeof part === 'number') await new Promise((ok) => setTimeout(ok, part));
          else res.write(part);
        }
        res.end();
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => { ok(); }); }),
  };
}

export interface ContentStack {
  readonly keys: TestKeys;
  /** The provider keys of the cloud providers and of the onprem provider. */
  readonly cloudKey: string;
  readonly onpremKey: string;
  readonly cloud: ChunkedUpstream;
  readonly onprem: ChunkedUpstream;
  readonly tollgate: TollgateProcess;
  readonly envoy: EnvoyProcess;
  readonly url: string;
  readonly config: Config;
  audit(): AuditRecord[];
  /** Everything any process wrote: Tollgate stdout/stderr, Envoy's log and access log, the audit file. */
  allOutput(): string;
  stop(): Promise<void>;
}

/** Envoy's config for `config`, as `tollgate envoy render` makes it (classification routes included). */
export function renderWithClassification(config: Config, tollgatePort: number): string {
  return renderEnvoyConfig(config, { listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort, caFile: DEFAULT_CA_FILE });
}

export interface ContentStackOptions {
  readonly cloud: (req: SeenRequest) => ChunkedResponse;
  readonly onprem?: (req: SeenRequest) => ChunkedResponse;
  readonly tweak?: (c: ConfigInput) => ConfigInput;
  /** Envoy's log level (default: the launcher's). */
  readonly envoyLogLevel?: string;
}

/**
 * Providers: openai (kind openai) and anthropic at the cloud upstream, onprem (openai-compatible) at the onprem
 * upstream, each with its own key file. agent-1 may use all three.
 */
export async function startContentStack(opts: ContentStackOptions): Promise<ContentStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-content-'));
  const keys = mintTestKeys();
  const cloudKey = `sk-cloud-${randomBytes(16).toString('hex')}`;
  const onpremKey = `sk-onprem-${randomBytes(16).toString('hex')}`;
  writeFileSync(join(dir, 'cloud-key'), cloudKey, { mode: 0o600 });
  writeFileSync(join(dir, 'onprem-key'), onpremKey, { mode: 0o600 });
  const cloud = await startChunkedUpstream(opts.cloud);
  const onprem = await startChunkedUpstream(opts.onprem ?? opts.cloud);
  const auditPath = join(dir, 'audit.jsonl');
  const base = baseConfigInput(keys, `${cloud.url}/v1`, join(dir, 'cloud-key'));
  let input: ConfigInput = {
    ...base,
    providers: [
      ...base.providers,
      { name: 'anthropic', kind: 'anthropic', upstream: cloud.url, models: ['claude-*'], credential: { source: 'file', path: join(dir, 'cloud-key') } },
      { name: 'onprem', kind: 'openai-compatible', upstream: `${onprem.url}/v1`, models: ['gpt-4o-mini', 'llama-*'], credential: { source: 'file', path: join(dir, 'onprem-key') } },
    ],
    identities: [
      { id: 'agent-1', tenant: 'team-a', apiKeyHashes: [hashApiKey(keys.agent)], allow: [{ provider: 'openai' }, { provider: 'anthropic' }, { provider: 'onprem' }] },
      ...base.identities.filter((i) => i.id !== 'agent-1'),
    ],
    audit: { sink: { type: 'file', path: auditPath } },
    logging: { level: 'debug' },
  };
  if (opts.tweak !== undefined) input = opts.tweak(input);
  const config = testConfig(input);
  const configPath = join(dir, 'tollgate.yaml');
  writeFileSync(configPath, stringify(input));
  const closeUpstreams = async (): Promise<void> => {
    await cloud.close();
    await onprem.close();
  };
  let tollgate: TollgateProcess;
  try {
    tollgate = await spawnTollgate(configPath);
  } catch (err) {
    await closeUpstreams();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let envoy: EnvoyProcess;
  try {
    envoy = await startEnvoy({ bin: findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN), configYaml: renderWithClassification(config, tollgate.grpcPort), ...(opts.envoyLogLevel === undefined ? {} : { logLevel: opts.envoyLogLevel }) });
  } catch (err) {
    await tollgate.stop();
    await closeUpstreams();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const audit = (): AuditRecord[] => (existsSync(auditPath) ? readFileSync(auditPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord) : []);
  return {
    keys,
    cloudKey,
    onpremKey,
    cloud,
    onprem,
    tollgate,
    envoy,
    url: `http://127.0.0.1:${envoy.listenerPort}`,
    config,
    audit,
    allOutput: () => [tollgate.output(), envoy.output(), existsSync(auditPath) ? readFileSync(auditPath, 'utf8') : ''].join('\n'),
    stop: async () => {
      await envoy.stop();
      await tollgate.stop();
      await closeUpstreams();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An SSE response in OpenAI chat format carrying `pieces` as content deltas, each written as its own chunk after `pauseMs`. */
export function openAiSse(pieces: readonly string[], pauseMs = 0): ChunkedResponse {
  const ev = (delta: object, finish: string | null): string => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const parts: (string | number)[] = [ev({ role: 'assistant', content: '' }, null)];
  for (const p of pieces) parts.push(pauseMs, ev({ content: p }, null));
  parts.push(pauseMs, ev({}, 'stop'), `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } })}\n\n`, 'data: [DONE]\n\n');
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, parts };
}

/** An SSE response in Anthropic Messages format carrying `pieces` as text deltas. */
export function anthropicSse(pieces: readonly string[], pauseMs = 0): ChunkedResponse {
  const ev = (name: string, doc: object): string => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...doc })}\n\n`;
  const parts: (string | number)[] = [ev('message_start', { message: { id: 'm1', role: 'assistant', content: [], usage: { input_tokens: 5, output_tokens: 1 } } }), ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })];
  for (const p of pieces) parts.push(pauseMs, ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }));
  parts.push(ev('content_block_stop', { index: 0 }), ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } }), ev('message_stop', {}));
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, parts };
}

export const jsonResponse = (body: unknown): ChunkedResponse => ({ status: 200, headers: { 'content-type': 'application/json' }, parts: [JSON.stringify(body)] });
