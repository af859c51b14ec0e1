import { z } from 'zod';
import type { CredentialMeta } from '../core/credential.ts';
import { buildScanner } from '../detectors/registry.ts';
import type { Scanner } from '../detectors/scanner.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.ts';

export const AUDIT_SCHEMA = 'tollgate.audit.v3';

/** HTTP status classes, as the audit record and the `upstream_status_class` metric label spell them. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** The class of a status code (`401` → `4xx`); undefined for anything that is not one. */
export function statusClass(status: number | undefined): StatusClass | undefined {
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? STATUS_CLASSES[Math.floor(status / 100) - 1] : undefined;
}

const reasons = Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]];
const ms = z.number().nonnegative();
const count = z.int().nonnegative();

/**
 * The audit record, one per request, as a zod schema: the writer's type and what `audit verify` and
 * SIEM tooling parse. It holds no secrets and no prompt text: sizes, a keyed HMAC of the body (a plain
 * hash of a short prompt could be brute-forced), credential metadata (source, version, a lease-id
 * hash), never values. `authenticated` is provenance, not the upstream's verdict: false marks a record
 * written for an ext_proc stream whose authz context did not verify (or that carried none), whose
 * request id and path are what an unauthenticated client of the gRPC port claimed, not facts. What the
 * provider answered is `upstream_status_class` (v3).
 */
export const auditRecordSchema = z.strictObject({
  schema: z.literal(AUDIT_SCHEMA),
  time: z.iso.datetime(),
  stage: z.enum(['authz', 'proc', 'admin']),
  authenticated: z.boolean(),
  request_id: z.string().max(256).nullable(),
  decision_id: z.string().max(64),
  identity: z.string().nullable(),
  identity_kind: z.enum(['api_key', 'jwt', 'spiffe']).nullable(),
  tenant: z.string().nullable(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  method: z.string().max(32).nullable(),
  path: z.string().max(512).nullable(),
  decision: z.enum(['allow', 'deny', 'error']),
  outcome: z.enum(['completed', 'denied', 'failed', 'cancelled']),
  reason: z.enum(reasons).nullable(),
  rule: z.string().nullable(),
  /** What policy would have denied, in shadow mode (global or the grant's own), while the request went on. */
  shadow: z.strictObject({ rule: z.string(), reason: z.enum(reasons) }).nullable(),
  http_status: z.int().min(100).max(599).nullable(),
  /** The class of the status the upstream answered (the provider, or Envoy for it); null when nothing came back from upstream. */
  upstream_status_class: z.enum(STATUS_CLASSES).nullable(),
  request: z.strictObject({ body_bytes: count, body_hmac: z.string().regex(/^[0-9a-f]{64}$/) }).nullable(),
  response: z.strictObject({ body_bytes: count, streamed: z.boolean() }).nullable(),
  /**
   * Token usage the provider reported; when it reported none for a request that went out under a token
   * budget or limit, the reservation that was charged instead, marked `estimated: true`.
   */
  usage: z.strictObject({ input_tokens: count, output_tokens: count, total_tokens: count, estimated: z.literal(true).optional() }).nullable(),
  credential: z.strictObject({ source: z.string(), version: count.optional(), lease_id_hash: z.string().optional() }).nullable(),
  latency_ms: z.strictObject({ total: ms, tollgate: ms }),
  policy_revision: z.string(),
  /** Usage accounting: cost in millionths of the price catalog's currency unit, when priced. */
  cost_micro: z.int().nonnegative().nullable(),
  /** Content controls: finding counts by data type and the request's action. Counts only, never values or their hashes. */
  content: z.strictObject({ action: z.enum(['allow', 'mask', 'block', 'route']), request: z.record(z.string(), count), response: z.record(z.string(), count) }).nullable(),
  /** Classification routing: the route class that applied and the provider the request was moved from. */
  route: z.strictObject({ class: z.string(), from: z.string() }).nullable(),
  /** Egress anomaly flags raised for this request (audited whether or not policy denies on them). */
  anomaly_flags: z.array(z.enum(['prompt_size_spike', 'burst', 'first_provider', 'first_endpoint'])),
  /** Shared state was unavailable and a feature configured to fail open let the request through. */
  state_degraded: z.boolean(),
  /**
   * MCP servers (kind mcp): the JSON-RPC method, the tool or prompt name or resource URI (without its query), the
   * protocol version, the called tool's pin status, how many listed items the caller was not shown, and for a
   * tools/list the changed and flagged definitions. Never arguments or results. Absent for model providers.
   */
  mcp: z
    .strictObject({
      method: z.string().max(256).nullable(),
      name: z.string().max(256).nullable(),
      protocol_version: z.string().max(32).nullable(),
      pin: z.enum(['pinned', 'first_use', 'changed', 'unpinned', 'unseen', 'invalid']).nullable(),
      hidden: count,
      /** Listed tools whose definition differs from its pin (tool_definition_changed): old and new hash, at most 32. */
      pin_changes: z.array(z.strictObject({ tool: z.string().max(256), pinned: z.string().max(80), current: z.string().max(80) })).max(32).optional(),
      /** Listed tools whose definition carries invisible or control characters (zero-width, tag characters, bidi controls), at most 32. */
      flagged: z.array(z.string().max(256)).max(32).optional(),
    })
    .optional(),
  // Hash chain fields, added by the chained sink (telemetry/audit-chain.ts) when audit.chain is on.
  replica: z.string().optional(),
  seq: z.int().positive().optional(),
  prev_hash: z.string().nullable().optional(),
  hash: z.string().optional(),
});

export type AuditRecord = z.infer<typeof auditRecordSchema>;

/** The path without its query string (queries may carry keys, e.g. Azure's ?api-key=), bounded. */
export function auditPath(path: string | undefined): string | null {
  if (path === undefined || path === '') return null;
  const q = path.search(/[?#]/);
  return (q < 0 ? path : path.slice(0, q)).slice(0, 512);
}

/** A credential's metadata for the record (source, version, lease-id hash), never the value. */
export function auditCredential(meta: CredentialMeta | undefined): AuditRecord['credential'] {
  if (meta === undefined) return null;
  return { source: meta.source, ...(meta.version === undefined ? {} : { version: meta.version }), ...(meta.leaseIdHash === undefined ? {} : { lease_id_hash: meta.leaseIdHash }) };
}

/** What a decision point or an ext_proc stream learned about one request; every field optional but the ids. */
export interface AuditFacts {
  readonly stage: AuditRecord['stage'];
  readonly authenticated: boolean;
  readonly outcome: AuditRecord['outcome'];
  readonly decisionId: string;
  readonly requestId?: string | undefined;
  /** `kind` is absent for an admin call that names an identity (the kill switch). */
  readonly identity?: { readonly id: string; readonly tenant: string; readonly kind?: NonNullable<AuditRecord['identity_kind']> } | undefined;
  readonly provider?: string | undefined;
  readonly model?: string | undefined;
  readonly method?: string | undefined;
  readonly path?: string | undefined;
  /** Set for denials and failures. */
  readonly reason?: ErrorCode | undefined;
  readonly rule?: string | undefined;
  readonly shadow?: AuditRecord['shadow'];
  readonly status?: number | undefined;
  /** The status the upstream answered, when something came back from it. */
  readonly upstreamStatus?: number | undefined;
  readonly request?: AuditRecord['request'];
  readonly response?: AuditRecord['response'];
  readonly usage?: AuditRecord['usage'];
  readonly credential?: AuditRecord['credential'];
  readonly totalMs: number;
  readonly tollgateMs: number;
  readonly policyRevision: string;
  readonly costMicro?: number | undefined;
  readonly anomalyFlags?: AuditRecord['anomaly_flags'];
  readonly content?: AuditRecord['content'];
  readonly route?: AuditRecord['route'];
  readonly stateDegraded?: boolean;
  readonly mcp?: AuditRecord['mcp'];
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** The one builder of audit records, for ext_authz and ext_proc alike. */
/** What a withheld model name reads as in the record. */
export const WITHHELD_MODEL = '[withheld]';
/** Model names longer than this are withheld from the record: no provider's is. */
const MAX_AUDIT_MODEL = 256;
/** What auditModel answered per name, for this many names (a name is scanned once). */
const MODEL_CACHE = 1024;
let modelScanner: Scanner | undefined;
const modelSeen = new Map<string, string>();

/**
 * The caller's model name as the record holds it. The name is the caller's text and a record may be written
 * before the body is scanned (a model the identity may not use is refused first), so a name in which the
 * built-in detectors find anything (`llama-3:AKIA…`), or that is longer than any provider's, is withheld.
 */
export function auditModel(model: string | undefined): string | null {
  if (model === undefined) return null;
  const known = modelSeen.get(model);
  if (known !== undefined) return known;
  let shown = WITHHELD_MODEL;
  if (model.length <= MAX_AUDIT_MODEL) {
    modelScanner ??= buildScanner();
    try {
      if (modelScanner.scan(model).length === 0) shown = model;
    } catch {
      // A scan limit: withheld.
    }
  }
  if (modelSeen.size < MODEL_CACHE) modelSeen.set(model, shown);
  return shown;
}

export function buildAuditRecord(f: AuditFacts): AuditRecord {
  const failed = f.outcome === 'failed' || (f.reason !== undefined && !ERROR_CATALOGUE[f.reason].userFacing && f.reason !== 'response_incomplete');
  const denied = f.reason !== undefined && f.reason !== 'response_incomplete';
  return {
    schema: AUDIT_SCHEMA,
    time: new Date().toISOString(),
    stage: f.stage,
    authenticated: f.authenticated,
    request_id: f.requestId?.slice(0, 256) ?? null,
    decision_id: f.decisionId,
    identity: f.identity?.id ?? null,
    identity_kind: f.identity?.kind ?? null,
    tenant: f.identity?.tenant ?? null,
    provider: f.provider ?? null,
    model: auditModel(f.model),
    method: f.method?.slice(0, 32) ?? null,
    path: auditPath(f.path),
    decision: failed ? 'error' : denied ? 'deny' : 'allow',
    outcome: failed ? 'failed' : f.outcome,
    reason: f.reason ?? null,
    rule: f.rule ?? null,
    shadow: f.shadow ?? null,
    http_status: f.status !== undefined && Number.isInteger(f.status) && f.status >= 100 && f.status <= 599 ? f.status : null,
    upstream_status_class: statusClass(f.upstreamStatus) ?? null,
    request: f.request ?? null,
    response: f.response ?? null,
    usage: f.usage ?? null,
    credential: f.credential ?? null,
    latency_ms: { total: round(f.totalMs), tollgate: round(f.tollgateMs) },
    policy_revision: f.policyRevision,
    cost_micro: f.costMicro ?? null,
    content: f.content ?? null,
    route: f.route ?? null,
    anomaly_flags: f.anomalyFlags ?? [],
    state_degraded: f.stateDegraded ?? false,
    ...(f.mcp === undefined ? {} : { mcp: f.mcp }),
  };
}
