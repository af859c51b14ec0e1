// The set-ups the benchmark compares. A set-up is the Envoy config rendered from Tollgate's template,
// transformed by a function, plus optional Tollgate config overrides and request changes. Add a row
// by adding an entry to SETUPS; the helpers below cover the usual edits.
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { makeCa, makeLeaf, type Pem } from '../helpers/certs.ts';
import { setupAppRole, startOpenBao } from '../helpers/openbao.ts';
import { startRedis } from '../helpers/redis.ts';
import { makeSpiffePki } from '../helpers/spiffe-certs.ts';
import type { FloorMetadata } from './floor-service.ts';

/** The rendered Envoy config, parsed from YAML: plain objects and arrays. */
export type EnvoyConfig = Record<string, unknown>;

export interface BenchRequest {
  readonly method: string;
  /** Path on Envoy's listener, e.g. /openai/v1/chat/completions (the OpenAI SDK base URL is .../openai/v1). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface SetupContext {
  /** The provider credential the fake upstream requires (Bearer). */
  readonly providerKey: string;
  /** The caller's Tollgate API key. */
  readonly callerKey: string;
}

export interface BenchSetup {
  /** Used in --setups and in the JSON. */
  readonly name: string;
  readonly label: string;
  /** Tollgate processes behind Envoy (0 = none; >1 shares one authz context key, Envoy balances). */
  readonly tollgateReplicas: number;
  /** Envoy worker threads (default 1, the same for every set-up unless a row is about it). */
  readonly envoyConcurrency?: number;
  /** Edits the parsed Envoy config in place. */
  readonly envoy?: (cfg: EnvoyConfig, ctx: SetupContext) => void;
  /** Changes the Tollgate config before it is validated and written. */
  readonly config?: (input: ConfigInput) => ConfigInput;
  /** Changes the request wrk sends (headers, body, path). */
  readonly request?: (base: BenchRequest, ctx: SetupContext) => BenchRequest;
  /** Tollgate counters (Prometheus names) reported per request for this set-up, e.g. Vault calls. */
  readonly counters?: readonly string[];
  /** Starts what the set-up needs before its Tollgate (e.g. an OpenBao); stopped with the set-up. */
  readonly prepare?: (ctx: PrepareContext) => Promise<Prepared>;
  /**
   * A floor row: the processes behind the `tollgate` cluster are the no-op floor (test/bench/floor-service.ts)
   * instead of `tollgate serve`, on the same config, Envoy and Node flags. `of` names the Tollgate row whose
   * own cost is measured against it; `metadata` is what its Check answer carries.
   */
  readonly floor?: { readonly of: string; readonly metadata: FloorMetadata; readonly stack?: FloorStack };
}

/**
 * The gRPC stack of a floor row: 'grpc-js' (floor-service.ts, Tollgate's own stack, the default) or
 * 'connect' (floor-connect-service.ts: @connectrpc/connect-node on node:http2, no metadata option).
 */
export type FloorStack = 'grpc-js' | 'connect';

export interface PrepareContext {
  /** The run's temporary directory (removed at the end). */
  readonly dir: string;
  readonly providerKey: string;
}

export interface Prepared {
  /** Applied to the Tollgate config after the row's own `config`. */
  config(input: ConfigInput): ConfigInput;
  stop(): Promise<void>;
}

function record(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error(`envoy config: ${what} is not an object`);
  return x as Record<string, unknown>;
}

function array(x: unknown, what: string): unknown[] {
  if (!Array.isArray(x)) throw new Error(`envoy config: ${what} is not a list`);
  return x;
}

/** The HTTP connection manager's typed_config of the first listener. */
export function connectionManager(cfg: EnvoyConfig): Record<string, unknown> {
  const listener = record(array(record(cfg.static_resources, 'static_resources').listeners, 'listeners')[0], 'listeners[0]');
  const chain = record(array(listener.filter_chains, 'filter_chains')[0], 'filter_chains[0]');
  const filter = record(array(chain.filters, 'filters')[0], 'filters[0]');
  return record(filter.typed_config, 'http_connection_manager.typed_config');
}

export function httpFilters(cfg: EnvoyConfig): Record<string, unknown>[] {
  return array(connectionManager(cfg).http_filters, 'http_filters').map((f, i) => record(f, `http_filters[${i}]`));
}

export function httpFilterNames(cfg: EnvoyConfig): string[] {
  return httpFilters(cfg).map((f) => String(f.name));
}

/** Removes an HTTP filter by name; throws if it is not there (so a renamed filter cannot silently stay). */
export function removeHttpFilter(cfg: EnvoyConfig, name: string): void {
  const hcm = connectionManager(cfg);
  const filters = httpFilters(cfg);
  const kept = filters.filter((f) => f.name !== name);
  if (kept.length === filters.length) throw new Error(`envoy config: no HTTP filter ${name}`);
  hcm.http_filters = kept;
}

/** The typed_config of an HTTP filter, to edit in place. */
export function httpFilterConfig(cfg: EnvoyConfig, name: string): Record<string, unknown> {
  const f = httpFilters(cfg).find((x) => x.name === name);
  if (f === undefined) throw new Error(`envoy config: no HTTP filter ${name}`);
  return record(f.typed_config, `${name}.typed_config`);
}

/** Merges fields into ext_proc's processing_mode (e.g. { response_header_mode: 'SKIP' }). */
export function setProcessingMode(cfg: EnvoyConfig, mode: Readonly<Record<string, string>>): void {
  const ep = httpFilterConfig(cfg, 'envoy.filters.http.ext_proc');
  ep.processing_mode = { ...record(ep.processing_mode, 'processing_mode'), ...mode };
}

/** A header the router sets on every request towards the upstream (after all filters ran). */
export function addUpstreamHeader(cfg: EnvoyConfig, key: string, value: string): void {
  const rc = record(connectionManager(cfg).route_config, 'route_config');
  const existing = rc.request_headers_to_add === undefined ? [] : array(rc.request_headers_to_add, 'request_headers_to_add');
  rc.request_headers_to_add = [...existing, { header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
}

export function clusters(cfg: EnvoyConfig): Record<string, unknown>[] {
  return array(record(cfg.static_resources, 'static_resources').clusters, 'clusters').map((c, i) => record(c, `clusters[${i}]`));
}

export function removeCluster(cfg: EnvoyConfig, name: string): void {
  const sr = record(cfg.static_resources, 'static_resources');
  const all = clusters(cfg);
  const kept = all.filter((c) => c.name !== name);
  if (kept.length === all.length) throw new Error(`envoy config: no cluster ${name}`);
  sr.clusters = kept;
}

/** Points the tollgate cluster at every replica's gRPC port on 127.0.0.1. */
export function setTollgateEndpoints(cfg: EnvoyConfig, ports: readonly number[]): void {
  const c = clusters(cfg).find((x) => x.name === 'tollgate');
  if (c === undefined) throw new Error('envoy config: no tollgate cluster');
  c.load_assignment = {
    cluster_name: 'tollgate',
    endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }],
  };
}

/**
 * An OpenAI chat completion request body of exactly `bytes` bytes, padded in the user message, so
 * that every set-up sends the same size.
 */
export function chatBody(bytes: number, model = 'gpt-4o-mini'): string {
  const shell = (text: string): string => JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You are a concise assistant for the finance team.' },
      { role: 'user', content: text },
    ],
    temperature: 0.2,
    max_tokens: 256,
  });
  const empty = Buffer.byteLength(shell(''));
  if (bytes < empty) throw new Error(`chatBody: ${bytes} bytes is less than the smallest body (${empty})`);
  // ASCII with nothing JSON escapes: one character is one byte, so the body is exactly `bytes` long.
  const n = bytes - empty;
  const text = 'Summarise the quarterly report in three bullet points. Revenue grew in every region while costs stayed flat; explain the drivers. '.repeat(Math.ceil(n / 120) + 1).slice(0, n);
  return shell(text);
}

export function baseRequest(ctx: SetupContext, bodyBytes = 1024): BenchRequest {
  return {
    method: 'POST',
    path: '/openai/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.callerKey}` },
    body: chatBody(bodyBytes),
  };
}

const EXT_AUTHZ = 'envoy.filters.http.ext_authz';
const EXT_PROC = 'envoy.filters.http.ext_proc';

/** The built-in rows. The first named in --setups is the baseline of every ratio. */
export const SETUPS: readonly BenchSetup[] = [
  {
    name: 'direct',
    label: 'Envoy direct',
    tollgateReplicas: 0,
    // Same listener, buffer filter and router; Envoy itself sets the provider credential.
    envoy: (cfg, ctx) => {
      removeHttpFilter(cfg, EXT_AUTHZ);
      removeHttpFilter(cfg, EXT_PROC);
      removeCluster(cfg, 'tollgate');
      addUpstreamHeader(cfg, 'authorization', `Bearer ${ctx.providerKey}`);
    },
  },
  {
    name: 'authz',
    label: 'Tollgate ext_authz only',
    tollgateReplicas: 1,
    // ext_authz removes the caller's key; without ext_proc nothing injects the provider's, so Envoy does.
    envoy: (cfg, ctx) => {
      removeHttpFilter(cfg, EXT_PROC);
      addUpstreamHeader(cfg, 'authorization', `Bearer ${ctx.providerKey}`);
    },
  },
  {
    name: 'full',
    label: 'Tollgate full chain',
    tollgateReplicas: 1,
  },
  {
    // The floor of `authz`: the same Envoy edits, a no-op Check that allows everything.
    name: 'authz-floor',
    label: 'floor, ext_authz only (no-op service)',
    tollgateReplicas: 1,
    floor: { of: 'authz', metadata: 'none' },
    envoy: (cfg, ctx) => {
      removeHttpFilter(cfg, EXT_PROC);
      addUpstreamHeader(cfg, 'authorization', `Bearer ${ctx.providerKey}`);
    },
  },
  {
    // The floor of `full`: the template as shipped, a no-op Check and a no-op ext_proc that sets only the
    // provider credential (on the request-headers answer).
    name: 'floor',
    label: 'floor, full chain (no-op service)',
    tollgateReplicas: 1,
    floor: { of: 'full', metadata: 'none' },
  },
  {
    // `floor` on another gRPC stack: the same no-op answers from @connectrpc/connect-node on a node:http2
    // server (docs/adr/0007-grpc-stack.md). Not in the default run.
    name: 'floor-connect',
    label: 'floor, full chain, connect-node stack',
    tollgateReplicas: 1,
    floor: { of: 'full', metadata: 'none', stack: 'connect' },
  },
  {
    // `floor` whose Check answer also carries a sealed context of Tollgate's shape and size and removes the
    // caller's credential headers, so Envoy forwards as much metadata to every ext_proc message as for `full`.
    name: 'floor-meta',
    label: 'floor, full chain, Tollgate-sized metadata',
    tollgateReplicas: 1,
    floor: { of: 'full', metadata: 'tollgate' },
  },
  {
    // Content controls at work: an 8 KB chat body with one email, which the default rules mask (scan, splice a
    // placeholder, new content-length), then the credential and the scan of the buffered response.
    name: 'dlp-8k',
    label: 'full chain, 8 KB body, one email masked, response scanned',
    tollgateReplicas: 1,
    config: (input) => ({ ...input, dlp: { enabled: true, response: { scan: true } } }),
    request: (base) => ({ ...base, body: dlpBody(8192) }),
  },
  {
    // Sizing: the full chain with the default request body limit (limits.maxRequestBodyBytes, 1 MiB; the
    // bench config's is 64 KiB) and a body just under it, so a run with many connections shows the service's
    // memory per concurrent large request (docs/operations.md, Sizing). Not in the default run.
    name: 'full-1m',
    label: 'full chain, 1 MB body (sizing)',
    tollgateReplicas: 1,
    config: (input) => ({ ...input, limits: { ...input.limits, maxRequestBodyBytes: 1024 * 1024 } }),
    request: (base) => ({ ...base, body: chatBody(1_000_000) }),
  },
  {
    // An MCP tools/call through the full chain, measured against the same floor as the model rows: the JSON-RPC
    // body read and checked, the grant's tool rule, the tool pin (memory state), the arguments scanned, the
    // server credential (the model provider's key file, sent as a bearer token) and the answer scanned.
    name: 'mcp-call',
    label: 'full chain, MCP tools/call',
    tollgateReplicas: 1,
    config: (input) => {
      const openai = input.providers[0];
      if (openai === undefined) throw new Error('mcp-call: the bench config has no provider to take the upstream from');
      return {
        ...input,
        providers: [...input.providers, { name: 'tools', kind: 'mcp', upstream: openai.upstream, credential: openai.credential }],
        identities: input.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [...i.allow, { provider: 'tools', mcp: { tools: ['echo'] } }] } : i)),
      };
    },
    request: (base) => ({
      ...base,
      path: '/tools/mcp',
      headers: { ...base.headers, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
      body: mcpCallBody(1024),
    }),
  },
  {
    // The full chain on shared state in a real Redis (loopback): the single-use claim of the authz context,
    // a request rate limit and a token budget (limits far above the load, so every request pays the Redis
    // round trips and none is refused), reserve before and settle after each request. state.timeoutMs is 250
    // here, not the default 50: on a saturated 2-core bench machine a 50 ms bound trips (503
    // state_unavailable, fail closed) and the harness rejects non-2xx answers.
    name: 'redis',
    label: 'full chain, Redis state, rate limit + token budget',
    tollgateReplicas: 1,
    prepare: async () => {
      const redis = await startRedis();
      return {
        config: (input) => ({
          ...input,
          state: { backend: 'redis', host: '127.0.0.1', port: redis.port, keyPrefix: 'bench:', timeoutMs: 250 },
          rateLimits: [{ name: 'bench-rps', per: 'identity', unit: 'requests', limit: 1_000_000_000, window: '1m' }],
          budgets: [{ name: 'bench-tokens', per: 'identity', metric: 'tokens', limit: 1_000_000_000_000, window: '1d' }],
        }),
        stop: () => redis.kill(),
      };
    },
  },
];

/** A JSON-RPC tools/call of the `echo` tool, exactly `bytes` bytes long (padded in its one argument). */
export function mcpCallBody(bytes: number): string {
  const shell = (text: string): string => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text } } });
  const n = bytes - Buffer.byteLength(shell(''));
  if (n < 0) throw new Error(`mcpCallBody: ${bytes} bytes is less than the smallest body`);
  return shell('Summarise the open tickets of the week. '.repeat(Math.ceil(n / 40) + 1).slice(0, n));
}

/** chatBody(bytes) with one email in the user message (same length, so the body is still `bytes` long). */
export function dlpBody(bytes: number): string {
  const body = chatBody(bytes);
  const out = body.replace('Revenue grew in every region', 'mail ana.lee@example.com now');
  if (out === body || out.length !== body.length) throw new Error('dlpBody: could not place the email');
  return out;
}

// ---- Identity rows: the same chain, the caller identified by a JWT or by a SPIFFE X509-SVID instead of a key.

const BENCH_ISSUER = 'https://issuer.bench.test';
const BENCH_TRUST_DOMAIN = 'bench.test';

/** One ES256 key for the whole run, made here (signing is synchronous with node:crypto). */
let jwtKey: { readonly privateKey: KeyObject; readonly jwk: Record<string, unknown> } | undefined;
function benchJwtKey(): NonNullable<typeof jwtKey> {
  if (jwtKey === undefined) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    jwtKey = { privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256', use: 'sig' } };
  }
  return jwtKey;
}

/** A workload token valid for an hour, without jti (wrk resends one request; a jti would be a replay). */
function benchJwt(): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES256', kid: 'bench', typ: 'JWT' })}.${b64({ iss: BENCH_ISSUER, aud: 'tollgate', sub: 'bench-agent', iat: now, exp: now + 3600, nonce: randomUUID() })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: benchJwtKey().privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** The run's PKI: Envoy's listener certificate and a client X509-SVID, in a temporary directory removed at exit. */
let pki: { readonly dir: string; readonly ca: Pem; readonly server: Pem; readonly clientCa: Pem; readonly client: Pem } | undefined;
function benchPki(): NonNullable<typeof pki> {
  if (pki === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-pki-'));
    process.once('exit', () => { rmSync(dir, { recursive: true, force: true }); });
    const ca = makeCa(dir, 'listener-ca');
    const server = makeLeaf(dir, 'egress', ca, 'DNS:egress.bench.test', 'serverAuth');
    const spiffe = makeSpiffePki([BENCH_TRUST_DOMAIN]);
    process.once('exit', () => { spiffe.cleanup(); });
    spiffe.leaf('agent', BENCH_TRUST_DOMAIN, `URI:spiffe://${BENCH_TRUST_DOMAIN}/agent`);
    pki = { dir, ca, server, clientCa: spiffe.ca(BENCH_TRUST_DOMAIN), client: { certFile: join(spiffe.dir, 'agent.crt'), keyFile: join(spiffe.dir, 'agent.key') } };
  }
  return pki;
}

const withIdentity = (input: ConfigInput, identity: ConfigInput['identities'][number], section: ConfigInput['identity']): ConfigInput =>
  ({ ...input, identity: { ...input.identity, ...section }, identities: [...input.identities, identity] });

const withoutCallerKey = (base: BenchRequest): Record<string, string> => Object.fromEntries(Object.entries(base.headers).filter(([k]) => k !== 'authorization'));

/**
 * mTLS row: Envoy's listener requires an X509-SVID. wrk cannot present a client certificate, so the
 * row adds a plaintext front listener (first, so wrk and the harness find it) that TCP-proxies each
 * connection to the mTLS listener over a unix socket, as the client's TLS stack would. The row's
 * overhead therefore includes TLS record work and that local hop, not only Tollgate's SPIFFE check.
 */
function addMtlsFront(cfg: EnvoyConfig): void {
  const p = benchPki();
  const sr = record(cfg.static_resources, 'static_resources');
  const listeners = array(sr.listeners, 'listeners');
  const egress = record(listeners[0], 'listeners[0]');
  const socket = join(p.dir, 'egress.sock');
  egress.address = { pipe: { path: socket } };
  const chain = record(array(egress.filter_chains, 'filter_chains')[0], 'filter_chains[0]');
  chain.transport_socket = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: p.server.certFile }, private_key: { filename: p.server.keyFile } }],
        validation_context: { trusted_ca: { filename: p.clientCa.certFile }, match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: `spiffe://${BENCH_TRUST_DOMAIN}/` } }] },
      },
    },
  };
  listeners.unshift({
    name: 'bench_client_tls',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    enable_reuse_port: false,
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'bench_client', cluster: 'bench_egress_mtls' } }] }],
  });
  array(sr.clusters, 'clusters').push({
    name: 'bench_egress_mtls',
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: 'bench_egress_mtls', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }] },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'egress.bench.test',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: p.client.certFile }, private_key: { filename: p.client.keyFile } }],
          validation_context: { trusted_ca: { filename: p.ca.certFile }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'egress.bench.test' } }] },
        },
      },
    },
  });
}

/** Rows beyond the built-in ones: identity by JWT and by SPIFFE mTLS. */
export const IDENTITY_SETUPS: readonly BenchSetup[] = [
  {
    name: 'jwt',
    label: 'full chain, JWT identity (signature checked per request)',
    tollgateReplicas: 1,
    // verifiedCacheSeconds 0: every request pays the ES256 verification, the worst case for a JWT caller.
    config: (input) => withIdentity(
      input,
      { id: 'bench-jwt', tenant: 'team-a', jwtSubjects: [{ issuer: BENCH_ISSUER, subject: 'bench-agent' }], allow: [{ provider: 'openai' }] },
      { jwt: { verifiedCacheSeconds: 0, issuers: [{ issuer: BENCH_ISSUER, audiences: ['tollgate'], algorithms: ['ES256'], requireNbf: false, jwks: { inline: { keys: [benchJwtKey().jwk as { kty: string }] } } }] } },
    ),
    request: (base) => ({ ...base, headers: { ...withoutCallerKey(base), authorization: `Bearer ${benchJwt()}` } }),
  },
  {
    name: 'mtls',
    label: 'full chain, SPIFFE mTLS identity',
    tollgateReplicas: 1,
    // The Envoy-to-Tollgate leg stays as in the other rows (loopback, plaintext), so the row measures the
    // identity and not a TLS hop: that needs the logged opt-out, which `serve` otherwise refuses.
    config: (input) => {
      const c = withIdentity(
        input,
        { id: 'bench-spiffe', tenant: 'team-a', spiffeIds: [`spiffe://${BENCH_TRUST_DOMAIN}/agent`], allow: [{ provider: 'openai' }] },
        { mtls: { trustDomains: [{ name: BENCH_TRUST_DOMAIN }], requireCertificate: true } },
      );
      return { ...c, server: { ...c.server, grpc: { ...c.server?.grpc, trustUnauthenticatedPeers: true } } };
    },
    envoy: (cfg) => { addMtlsFront(cfg); },
    request: (base) => ({ ...base, headers: withoutCallerKey(base) }),
  },
];

/** Rows that need a Vault: the harness starts a real OpenBao for them (prepare). */
export const VAULT_SETUPS: readonly BenchSetup[] = [
  {
    // The full chain with the provider key in a real OpenBao (KV v2, AppRole login): the broker serves it
    // from its cache, so the measured window should show 0 Vault calls per request.
    name: 'vault',
    label: 'full chain, key from OpenBao KV v2',
    tollgateReplicas: 1,
    counters: ['tollgate_vault_calls_total'],
    prepare: async ({ dir, providerKey }) => {
      const bao = await startOpenBao({ env: process.env });
      try {
        await bao.api('POST', 'secret/data/tollgate/team-a/openai', { data: { api_key: providerKey } });
        const role = await setupAppRole(bao, 'path "secret/data/tollgate/*" { capabilities = ["read"] }');
        const secretIdFile = join(dir, 'vault-secret-id');
        writeFileSync(secretIdFile, role.secretId, { mode: 0o600 });
        return {
          config: (input) => ({
            ...input,
            vault: { address: bao.address, auth: { method: 'approle', roleId: role.roleId, secretIdFile } },
            providers: input.providers.map((p) => ({ ...p, credential: { source: 'vault-kv2', mount: 'secret', path: 'tollgate/{tenant}/openai' } })),
          }),
          stop: () => bao.stop(),
        };
      } catch (err) {
        await bao.stop();
        throw err;
      }
    },
  },
];

/** Envoy direct, then each Tollgate row next to its floor. */
export const DEFAULT_SETUPS: readonly string[] = ['direct', 'authz-floor', 'authz', 'floor', 'full'];

/** Looks the names up in `all`, in the order given; throws naming the unknown ones and listing the known. */
export function selectSetups(names: readonly string[], all: readonly BenchSetup[] = [...SETUPS, ...IDENTITY_SETUPS, ...VAULT_SETUPS]): BenchSetup[] {
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown set-up ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  return names.map((n) => all.find((s) => s.name === n)!);
}
