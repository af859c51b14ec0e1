import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AuthzContext } from '../core/authz-context.ts';
import type { Credential, CredentialMeta } from '../core/credential.ts';
import type { RuleId, ShadowDenial } from '../core/decision.ts';
import type { Usage } from '../core/request-context.ts';
import type { Denial } from '../errors.ts';
import type { UsageHold } from '../outcome/finish.ts';
import type { Policy, ProviderPolicy } from '../policy/policy.ts';
import type { RequestTranslator, UsageMeter } from '../providers/index.ts';
import type { RestoreMap } from '../redactors/restore-map.ts';
import type { SseStream } from '../redactors/sse-stream.ts';
import type { Services } from '../services.ts';
import type { UsageGuards } from '../state/guards.ts';
import type { AuditRecord } from '../telemetry/audit-record.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { McpExchange } from '../mcp/request.ts';
import type { ToolPinVerdict } from '../mcp/tool-pins.ts';
import type { Coding } from './content-encoding.ts';

/** Where the ext_proc stream is: each message handler accepts its message only at some positions. */
export type Position = 'start' | 'request_body' | 'upstream' | 'response_body' | 'local_reply' | 'done';

/** How a request ended, as its audit record says (`outcome`). */
export type Outcome = AuditRecord['outcome'];

/** Who is calling: from the sealed context, verified once by the Session (open.ts). */
export interface Caller {
  readonly authz: AuthzContext;
  /** The verified JWT claims ext_authz sealed into the context, parsed once ({} for other identity kinds). */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Where the request goes: the provider, its translator for this request, and what routing changed. */
export interface Route {
  provider: ProviderPolicy;
  /** The provider's reading of this request: endpoint, model, body, credential application. */
  translator: RequestTranslator | undefined;
  model: string | undefined;
  /** The route class DLP chose, then the one classification routing applied (DLP or declared). */
  routeClass: string | undefined;
  /** The provider the caller addressed, when classification routing moved the request to another one. */
  routedFrom: ProviderPolicy | undefined;
}

/** Content controls: finding counts by type (never values), the request's action, and the response transforms. */
export interface ContentPart {
  readonly request: Record<string, number>;
  readonly response: Record<string, number>;
  action: 'allow' | 'mask' | 'block' | 'route' | undefined;
  /** Placeholder → original value, for restoring the response: this request only, never logged. */
  restore: RestoreMap | undefined;
  /** The stream transform of a streamed response (leak masking, restore), if one applies. */
  sse: SseStream | undefined;
}

/** The provider credential: the lookup in flight (or its answer), then what the audit record says about it. */
export interface CredentialPart {
  pending: Credential | Promise<Credential> | undefined;
  /** Set once the credential was applied (or ext_authz applied it): what the audit record says. */
  meta: CredentialMeta | undefined;
}

/** The usage controls' hold on the request, plus what the audit record says about them. */
export interface UsagePart extends UsageHold {
  reported: Usage | undefined;
  meter: UsageMeter | undefined;
  anomalyFlags: AuditRecord['anomaly_flags'];
  stateDegraded: boolean;
}

/** The response as it passes: status, framing, size, and the buffered chunks of a body read whole. */
export interface ResponsePart {
  status: number | undefined;
  /** The status the upstream answered (the provider, or Envoy for it), from the response headers. */
  upstreamStatus: number | undefined;
  streamed: boolean;
  bytes: number;
  chunks: Buffer[];
  /** The codings of a buffered response the upstream compressed anyway, to undo before reading it. */
  codings: readonly Coding[];
  /** The body never finished through ext_proc. */
  incomplete: boolean;
}

/** An MCP server's JSON-RPC message (kind mcp, POST) and what Tollgate learned of it on the way. */
export interface McpPart extends McpExchange {
  /** Listed items the caller was not shown. */
  hidden: number;
  /** The buffered list answer is an SSE stream. */
  sse: boolean;
  /** The called tool's pin verdict (tools/call). */
  pin: ToolPinVerdict | undefined;
  /** The pin verdicts of the tools a tools/list answer showed. */
  listed: readonly ToolPinVerdict[];
}

/**
 * One HTTP request as ext_proc sees it: built by the Session when the stream's first message arrives, with
 * typed parts each step reads and writes. The policy is read once, at the start: the request finishes on
 * that revision. `caller` and `route` exist once the sealed context verified (`authenticated`), or, for
 * `caller` alone, once its seal did (a replayed context: the record may name the identity).
 */
export class ProcRequest {
  readonly services: Services;
  readonly policy: Policy;
  /** The usage controls of that policy revision. */
  readonly guards: UsageGuards;
  readonly startedAt = performance.now();
  /** Time spent in Tollgate's handlers so far, and when the message being handled arrived. */
  busyMs = 0;
  messageStartedAt: number | undefined = undefined;
  position: Position = 'start';
  decisionId: string = randomUUID();
  requestId: string | undefined = undefined;
  /** The request headers as ext_proc saw them (empty when Envoy skipped them). */
  headers: ReadonlyMap<string, string> = EMPTY_HEADERS;
  /** The sealed context verified (seal, freshness, single use). False: nothing below is vouched for. */
  authenticated = false;
  caller: Caller | undefined = undefined;
  route: Route | undefined = undefined;
  /** The request body's size and keyed HMAC, for the record. */
  body: AuditRecord['request'] = null;
  /** The rule that allowed the request, and a shadow-mode would-deny, if any. */
  rule: RuleId | undefined = undefined;
  shadow: ShadowDenial | undefined = undefined;
  denial: Denial | undefined = undefined;
  /** Set by a step when the request's end is known; the Session finishes the request after the message. */
  outcome: Outcome | undefined = undefined;
  /** The audit record was written (or, for ext_authz's own denials passing through, is not ours to write). */
  finished = false;
  readonly credential: CredentialPart = { pending: undefined, meta: undefined };
  readonly content: ContentPart = { request: {}, response: {}, action: undefined, restore: undefined, sse: undefined };
  readonly usage: UsagePart = { reservation: undefined, ticket: undefined, reported: undefined, estimate: undefined, forwarded: false, meter: undefined, anomalyFlags: [], stateDegraded: false };
  readonly response: ResponsePart = { status: undefined, upstreamStatus: undefined, streamed: false, bytes: 0, chunks: [], codings: [], incomplete: false };
  /** Kind mcp: the JSON-RPC message, once the body is read. */
  mcp: McpPart | undefined = undefined;

  constructor(services: Services) {
    this.services = services;
    this.policy = services.policy();
    this.guards = services.guards();
  }

  /**
   * The request's logger, carrying its request and decision ids and, once the sealed context verified (or
   * its seal did), the identity, tenant and provider. Built on demand: a pino child costs several
   * microseconds (it re-runs redaction set-up), and most requests log nothing.
   */
  log(): Logger {
    const a = this.caller?.authz;
    return this.services.logger.child({
      request_id: this.requestId, decision_id: this.decisionId,
      identity: a?.identity.id, tenant: a?.identity.tenant, provider: this.route?.provider.name ?? a?.provider,
    });
  }
}

const EMPTY_HEADERS: ReadonlyMap<string, string> = new Map();

/** A request whose sealed context verified: its caller and route are known. What the request steps take. */
export type Admitted = ProcRequest & { readonly caller: Caller; readonly route: Route };

export function isAdmitted(req: ProcRequest): req is Admitted {
  return req.authenticated && req.caller !== undefined && req.route !== undefined;
}
