// Fixtures for direct unit tests of the ext_proc message handlers and steps (extproc/processing/): a real
// `Services` object built from a test config the way app.ts builds it (compiled policy, sealed-context
// codec, memory state store, memory audit sink, metrics, a captured logger, a credential broker over an
// in-memory source, usage guards, an identity runtime), a fresh ProcRequest per request, and builders
// for the ProcessingRequest messages Envoy sends, with a context sealed by the same codec ext_authz uses.
import { randomBytes, randomUUID } from 'node:crypto';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import type { Config, ConfigInput } from '../../extproc/config/schema.ts';
import { AUTHZ_METADATA_NAMESPACE, createAuthzContextCodec, type AuthzContext } from '../../extproc/core/authz-context.ts';
import type { Credential, CredentialScope } from '../../extproc/core/credential.ts';
import type { IdentityKind } from '../../extproc/core/decision.ts';
import { Secret } from '../../extproc/core/secret.ts';
import { createCredentialBroker, type CredentialBroker } from '../../extproc/credentials/broker.ts';
import type { CredentialSource } from '../../extproc/credentials/credential-source.ts';
import { TollgateError, type Denial } from '../../extproc/errors.ts';
import { buildIdentityRuntime } from '../../extproc/identity/build.ts';
import { compilePolicy } from '../../extproc/policy/policy.ts';
import { dispatch, Session } from '../../extproc/processing/session.ts';
import { ProcRequest } from '../../extproc/processing/request.ts';
import { bodyHmacFrom, type Services } from '../../extproc/services.ts';
import { buildUsageGuards } from '../../extproc/state/guards.ts';
import { KILL_SWITCH_OFF } from '../../extproc/state/kill-switch.ts';
import { StateUnavailableError } from '../../extproc/state/state-errors.ts';
import { MemoryStateStore, type BaselineParams, type BaselineSample, type BaselineSnapshot, type ReserveResult, type SlidingResult, type WindowAdjustment, type WindowCharge } from '../../extproc/state/state-store.ts';
import { auditRecordSchema, type AuditRecord } from '../../extproc/telemetry/audit-record.ts';
import { MemoryAuditSink } from '../../extproc/telemetry/audit.ts';
import { createLogger } from '../../extproc/telemetry/logger.ts';
import { createMetrics } from '../../extproc/telemetry/metrics.ts';
import type { HttpHeaders, ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import type { DecodedStruct } from '../../extproc/wire/struct.ts';
import { CHAT_PATH, CHAT_REQUEST_HEADERS } from './chat-request.ts';
import { testConfig } from './config.ts';
import { windowTotal } from './window-counter.ts';

export { CHAT_PATH } from './chat-request.ts';
export const MODELS_PATH = '/openai/v1/models';

// ---- the state store, observed ----------------------------------------------------------------

export type StoreOp = 'claimOnce' | 'reserve' | 'adjust' | 'slidingTake' | 'observeBaseline';

export interface StoreCall {
  readonly op: StoreOp;
  /** reserve: the charges; adjust: the adjustments; others: the key. */
  readonly charges?: readonly WindowCharge[];
  readonly adjustments?: readonly WindowAdjustment[];
  readonly key?: string;
}

/**
 * The real memory store, recording every call, and able to fail chosen operations the way a Redis store
 * that is down fails them (StateUnavailableError).
 */
export class RecordingStateStore extends MemoryStateStore {
  readonly calls: StoreCall[] = [];
  /** Operations that throw StateUnavailableError until removed. */
  readonly failing = new Set<StoreOp>();

  /** Records the call; a rejection as a Redis store that is down gives, if `op` is failing. */
  #gate(call: StoreCall): Promise<never> | undefined {
    this.calls.push(call);
    return this.failing.has(call.op) ? Promise.reject(new StateUnavailableError(call.op, 'unavailable')) : undefined;
  }

  override claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.#gate({ op: 'claimOnce', key }) ?? super.claimOnce(key, ttlMs);
  }

  override reserve(charges: readonly WindowCharge[]): Promise<ReserveResult> {
    return this.#gate({ op: 'reserve', charges }) ?? super.reserve(charges);
  }

  override adjust(adjustments: readonly WindowAdjustment[]): Promise<void> {
    return this.#gate({ op: 'adjust', adjustments }) ?? super.adjust(adjustments);
  }

  override slidingTake(key: string, cost: number, limit: number, windowMs: number): Promise<SlidingResult> {
    return this.#gate({ op: 'slidingTake', key }) ?? super.slidingTake(key, cost, limit, windowMs);
  }

  override observeBaseline(key: string, sample: BaselineSample, params: BaselineParams): Promise<BaselineSnapshot> {
    return this.#gate({ op: 'observeBaseline', key }) ?? super.observeBaseline(key, sample, params);
  }

  /** The current value of a fixed-window counter, read without recording a call. */
  counter(key: string, windowMs: number): Promise<number> {
    return windowTotal((charges) => super.reserve(charges), key, windowMs);
  }

  ops(op: StoreOp): StoreCall[] {
    return this.calls.filter((c) => c.op === op);
  }
}

// ---- credentials --------------------------------------------------------------------------------

/** An in-memory credential source: serves `value` as an api-key, counts fetches, can be rotated. */
export class MemoryCredentialSource implements CredentialSource {
  readonly description: string;
  readonly fetches: CredentialScope[] = [];
  /** While true, fetch rejects as an unreachable Vault does (credential_unavailable). */
  failing = false;
  #value: string;
  #version = 1;

  constructor(description: string, value: string) {
    this.description = description;
    this.#value = value;
  }

  get value(): string {
    return this.#value;
  }

  rotate(value: string): void {
    this.#value = value;
    this.#version += 1;
  }

  fetch(scope: CredentialScope): Promise<Credential> {
    this.fetches.push(scope);
    if (this.failing) return Promise.reject(new TollgateError('credential_unavailable', `${this.description} is failing`));
    return Promise.resolve(Object.freeze({ kind: 'api-key', secret: new Secret(this.#value), meta: Object.freeze({ source: this.description, version: this.#version }) }));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// ---- the config and the fixture -----------------------------------------------------------------

/** One OpenAI-kind provider, two identities (agent-1 unrestricted, restricted-1 gpt-4o-mini only). */
export function phaseConfigInput(): ConfigInput {
  return {
    version: 1,
    server: { grpc: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, drainSeconds: 0 },
    limits: { maxRequestBodyBytes: 4 * 1024, maxResponseBodyBytes: 64 * 1024 },
    // Never contacted: phases only decide; the discard port on loopback anyway. The credential source in
    // the config is never read here (the fixture's broker serves an in-memory source instead).
    providers: [{ name: 'openai', kind: 'openai', upstream: 'http://127.0.0.1:9', models: ['gpt-4o-mini', 'gpt-4o*'], credential: { source: 'env', name: 'UNUSED_IN_PHASE_TESTS' } }],
    identities: [
      { id: 'agent-1', tenant: 'team-a', apiKeyHashes: [hashApiKey(mintApiKey())], allow: [{ provider: 'openai' }] },
      { id: 'restricted-1', tenant: 'team-b', apiKeyHashes: [hashApiKey(mintApiKey())], allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }] },
    ],
    dlp: { enabled: false },
    audit: { sink: { type: 'stdout' } },
    logging: { level: 'silent' },
  };
}

export interface SealOptions {
  readonly identity?: string;
  readonly tenant?: string;
  readonly kind?: IdentityKind;
  readonly provider?: string;
  readonly method?: string;
  readonly path?: string;
  readonly withoutBody?: boolean;
  readonly claims?: string;
  readonly shadow?: string;
  readonly issuedAtMs?: number;
  readonly decisionId?: string;
}

export interface PhaseFixture {
  readonly config: Config;
  readonly services: Services;
  readonly audit: MemoryAuditSink;
  readonly store: RecordingStateStore;
  readonly broker: CredentialBroker;
  /** The in-memory credential source of each provider, by provider name. */
  readonly sources: ReadonlyMap<string, MemoryCredentialSource>;
  /** Every log line written (debug level, captured; nothing is printed). */
  readonly logs: string[];
  /** The value the "openai" source serves: a planted secret to grep for. */
  readonly providerKey: string;
  /** A new request's state, as Session builds it. */
  state(): ProcRequest;
  /** The context ext_authz would seal, and the dynamic metadata struct carrying it. */
  context(o?: SealOptions): AuthzContext;
  seal(o?: SealOptions): DecodedStruct;
  /** Every audit record, validated against auditRecordSchema (throws on a record that does not parse). */
  records(): AuditRecord[];
  /** All output a secret could leak into: answers given to it, audit records and log lines. */
  everything(extra?: readonly unknown[]): string;
  close(): Promise<void>;
}

export function phaseFixture(opts: { readonly tweak?: (c: ConfigInput) => ConfigInput; readonly maxAgeMs?: number } = {}): PhaseFixture {
  const input = opts.tweak === undefined ? phaseConfigInput() : opts.tweak(phaseConfigInput());
  const config = testConfig(input);
  const logs: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => { logs.push(line); } });
  const audit = new MemoryAuditSink();
  const store = new RecordingStateStore();
  const policy = compilePolicy(config);
  const guards = buildUsageGuards(config, store);
  const key = randomBytes(32);
  const maxAgeMs = opts.maxAgeMs ?? config.server.authzContextMaxAgeSeconds * 1000;
  const codec = createAuthzContextCodec(key, maxAgeMs);
  const providerKey = `sk-phase-${randomBytes(18).toString('hex')}`;
  const sources = new Map<string, MemoryCredentialSource>();
  for (const p of config.providers) sources.set(p.name, new MemoryCredentialSource(`memory:${p.name}`, p.name === 'openai' ? providerKey : `sk-${p.name}-${randomBytes(12).toString('hex')}`));
  const broker = createCredentialBroker(sources, { refreshMs: 60_000, expiryMarginMs: 1_000, invalidateMinIntervalMs: 0 });
  const identity = buildIdentityRuntime(config.identity, {
    store,
    readFile: (path) => { throw new Error(`phase fixtures read no files (${path})`); },
    readSecret: () => { throw new Error('phase fixtures read no secrets'); },
  });
  const services: Services = Object.freeze({
    policy: () => policy,
    guards: () => guards,
    credentials: broker,
    killSwitch: KILL_SWITCH_OFF,
    identity,
    authzContext: codec,
    authzContextMaxAgeMs: maxAgeMs,
    bodyHmac: bodyHmacFrom(key),
    state: store,
    audit,
    metrics: createMetrics(),
    logger,
  });
  const context = (o: SealOptions = {}): AuthzContext => {
    const id = o.identity ?? 'agent-1';
    return {
      identity: { id, tenant: o.tenant ?? policy.identitiesById.get(id)?.tenant ?? 'team-a', kind: o.kind ?? 'api_key' },
      provider: o.provider ?? 'openai',
      decisionId: o.decisionId ?? randomUUID(),
      policyRevision: policy.revision,
      method: o.method ?? 'POST',
      path: o.path ?? CHAT_PATH,
      withoutBody: o.withoutBody ?? false,
      claims: o.claims ?? '{}',
      shadow: o.shadow ?? '',
      issuedAtMs: o.issuedAtMs ?? Date.now(),
    };
  };
  const records = (): AuditRecord[] => audit.records.map((r) => auditRecordSchema.parse(r));
  return {
    config,
    services,
    audit,
    store,
    broker,
    sources,
    logs,
    providerKey,
    state: () => new ProcRequest(services),
    context,
    seal: (o) => sealStruct(codec.encode(context(o))),
    records,
    everything: (extra = []) => [...extra.map((e) => JSON.stringify(e, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : isBufferJson(v) ? Buffer.from(v.data).toString('latin1') : v))), ...audit.records.map((r) => JSON.stringify(r)), ...logs].join('\n'),
    close: () => broker.close(),
  };
}

const isBufferJson = (v: unknown): v is { type: 'Buffer'; data: number[] } =>
  typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data);

/** Flat string fields as the dynamic metadata Struct grpc-js decodes (Envoy drops empty strings). */
export function sealStruct(fields: Readonly<Record<string, string>>): DecodedStruct {
  const out: Record<string, { stringValue: string; kind: 'stringValue' }> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== '') out[k] = { stringValue: v, kind: 'stringValue' };
  return { fields: out };
}

// ---- what Envoy sends ---------------------------------------------------------------------------

export type Pairs = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

/** Envoy's HeaderMap: every value in raw_value. */
export function httpHeaders(pairs: Pairs, endOfStream = false): HttpHeaders {
  const list = Array.isArray(pairs) ? (pairs as readonly (readonly [string, string])[]) : Object.entries(pairs as Readonly<Record<string, string>>);
  return { headers: { headers: list.map(([key, v]) => ({ key, value: '', raw_value: Buffer.from(v, 'latin1') })) }, end_of_stream: endOfStream };
}

const withContext = (context: DecodedStruct | undefined): Pick<ProcessingRequest, 'metadata_context'> =>
  context === undefined ? {} : { metadata_context: { filter_metadata: { [AUTHZ_METADATA_NAMESPACE]: context }, typed_filter_metadata: {} } };

export function requestHeadersMsg(pairs: Pairs, o: { readonly endOfStream?: boolean; readonly context?: DecodedStruct } = {}): ProcessingRequest {
  return { request: 'request_headers', request_headers: httpHeaders(pairs, o.endOfStream ?? false), ...withContext(o.context) };
}

export function requestBodyMsg(body: Buffer | string, o: { readonly endOfStream?: boolean; readonly context?: DecodedStruct } = {}): ProcessingRequest {
  return { request: 'request_body', request_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), end_of_stream: o.endOfStream ?? true }, ...withContext(o.context) };
}

export function responseHeadersMsg(pairs: Pairs, o: { readonly endOfStream?: boolean; readonly context?: DecodedStruct } = {}): ProcessingRequest {
  return { request: 'response_headers', response_headers: httpHeaders(pairs, o.endOfStream ?? false), ...withContext(o.context) };
}

export function responseBodyMsg(body: Buffer | string, endOfStream = true): ProcessingRequest {
  return { request: 'response_body', response_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), end_of_stream: endOfStream } };
}

/** The request headers of an authorized chat completion, as Envoy's ext_proc filter sends them. */
export function chatHeaders(body: Buffer | string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    ...CHAT_REQUEST_HEADERS,
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': randomUUID(),
    ...extra,
  };
}

export function chatBody(model = 'gpt-4o-mini', content = 'hello', extra: Readonly<Record<string, unknown>> = {}): Buffer {
  return Buffer.from(JSON.stringify({ model, messages: [{ role: 'user', content }], ...extra }), 'utf8');
}

/**
 * A new request that passed the request-headers phase with a freshly sealed context: the state the
 * request-body phase starts from. Fails the test if the headers phase did not continue.
 */
export async function startRequest(f: PhaseFixture, body: Buffer | string, o: { readonly seal?: SealOptions; readonly headers?: Readonly<Record<string, string>> } = {}): Promise<ProcRequest> {
  const state = f.state();
  const msg = requestHeadersMsg(chatHeaders(body, o.headers), { context: f.seal(o.seal) });
  const out = await dispatch(state, msg);
  if (isDenial(out)) throw new Error(`request headers were denied: ${out.code}`);
  return state;
}

// ---- MCP ---------------------------------------------------------------------------------------

/** The fixture plus an MCP server "tools" (kind mcp) that agent-1 may use as `grant` says (default: call echo). */
export function mcpFixture(extra: Partial<ConfigInput> = {}, grant: Readonly<Record<string, readonly string[]>> = { tools: ['echo'] }): PhaseFixture {
  return phaseFixture({
    tweak: (c) => ({
      ...c,
      ...extra,
      providers: [...c.providers, { name: 'tools', kind: 'mcp', upstream: 'http://127.0.0.1:9', credential: { source: 'env', name: 'UNUSED_IN_PHASE_TESTS' } }],
      identities: c.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [...i.allow, { provider: 'tools', mcp: grant }] } : i)),
    }),
  });
}

/** One JSON-RPC POST from agent-1 to the "tools" server through a new Session (headers, then the whole body). */
export async function sendMcpRequest(f: PhaseFixture, body: Buffer): Promise<Session> {
  const session = new Session(f.services);
  const headers = { ':authority': 'tollgate.test', ':method': 'POST', ':path': '/tools/mcp', ':scheme': 'http', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(body.length), 'mcp-protocol-version': '2025-11-25' };
  const h = await session.handle(requestHeadersMsg(headers, { context: f.seal({ provider: 'tools', path: '/tools/mcp' }) }));
  if (h.immediate_response !== undefined) throw new Error('the MCP request headers were denied');
  await session.handle(requestBodyMsg(body, { endOfStream: true }));
  return session;
}

// ---- reading answers ----------------------------------------------------------------------------

/** An answer that must have been given synchronously (a handler that waits for nothing returns no Promise). */
export function answeredNow<T>(out: T | Promise<T>): T {
  if (out instanceof Promise) throw new Error('expected a synchronous answer, got a Promise');
  return out;
}

export function isDenial(r: ProcessingResponse | Denial): r is Denial {
  return 'code' in r;
}

export function asDenial(r: ProcessingResponse | Denial): Denial {
  if (!isDenial(r)) throw new Error(`expected a denial, got ${JSON.stringify(r)}`);
  return r;
}

export function asResponse(r: ProcessingResponse | Denial): ProcessingResponse {
  if (isDenial(r)) throw new Error(`expected an answer, got the denial ${JSON.stringify(r)}`);
  return r;
}

type Member = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

export function commonOf(r: ProcessingResponse, member: Member): NonNullable<ProcessingResponse[Member]>['response'] {
  const c = r[member]?.response;
  if (c === undefined) throw new Error(`expected a ${member} answer, got ${JSON.stringify(r)}`);
  return c;
}

/** The header set by an answer (raw_value as latin1), or undefined. */
export function setHeader(r: ProcessingResponse, member: Member, name: string): string | undefined {
  return commonOf(r, member).header_mutation?.set_headers?.find((o) => o.header.key === name)?.header.raw_value.toString('latin1');
}

export function removedHeaders(r: ProcessingResponse, member: Member): readonly string[] {
  return commonOf(r, member).header_mutation?.remove_headers ?? [];
}

export function replacedBody(r: ProcessingResponse, member: Member): Buffer | undefined {
  const b = commonOf(r, member).body_mutation?.body;
  return b === undefined ? undefined : Buffer.from(b);
}

/** Runs `fn` and returns the TollgateError code it throws (or rejects with); fails if it does not throw. */
export async function thrownCode(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') throw err;
    return code;
  }
  throw new Error('expected a TollgateError, nothing was thrown');
}
