// The shape of ext_proc work: a handler per Envoy message type, and for the request body a declared list
// of steps. Everything here is synchronous unless a step must wait (a state-store call, a credential that
// is not cached yet): a step returns its result, or a Promise of it, and only then does the run wait.
import type { Denial, DenialReply } from '../errors.ts';
import type { AuditFacts } from '../telemetry/audit-record.ts';
import type { HttpBody, HttpHeaders, ProcessingResponse } from '../wire/ext-proc.ts';
import type { Admitted, ProcRequest } from './request.ts';
import type { HeaderEdits } from './responses.ts';

/** What the request-body steps make of one body: the body to send if changed, a reroute, the credential's edits. */
export interface BodyWork {
  /** The body as Envoy sent it. */
  readonly body: Buffer;
  /** The body to send instead (masked), when a step changed it. The translator holds it too, so credentials sign it. */
  replaced: Buffer | undefined;
  /** Headers for Envoy to match routes again on, when classification routing moved the request. */
  rerouted: Rerouted | undefined;
  /** The credential's header edits, applied last. */
  credential: HeaderEdits | undefined;
}

export interface Rerouted {
  /** The route header, and what Envoy needs to match routes again. */
  readonly set: readonly { readonly name: string; readonly value: string }[];
  /** Request headers the target provider's kind does not accept. */
  readonly remove: readonly string[];
}

/** What a message handler answers: Envoy's answer, or a denial the Session turns into one (and audits). */
export type Answer = ProcessingResponse | Denial;

/** What a step answers: undefined to go on, or a denial that ends the request. */
export type StepResult = Denial | undefined;

/** One unit of request-body work (parse, policy, content, routing, usage, credential...), run in order. */
export interface RequestStep {
  readonly name: string;
  run(req: Admitted, work: BodyWork): StepResult | Promise<StepResult>;
}

/**
 * The handler of each ext_proc message type. The Session calls it after the envelope (timing, tracing,
 * error mapping) and after the request was opened from the sealed context; `headers` is the message's
 * header map, read once by the Session.
 */
export interface MessageHandlers {
  readonly request_headers: (req: ProcRequest, h: HttpHeaders, headers: ReadonlyMap<string, string>) => Answer | Promise<Answer>;
  readonly request_body: (req: ProcRequest, b: HttpBody, pipeline: Pipeline) => Answer | Promise<Answer>;
  readonly response_headers: (req: ProcRequest, h: HttpHeaders, headers: ReadonlyMap<string, string>) => Answer | Promise<Answer>;
  readonly response_body: (req: ProcRequest, b: HttpBody) => Answer | Promise<Answer>;
}

/**
 * What a provider kind runs: its request-body steps and its message handlers. Kinds without their own
 * pipeline use the default one (handlers.ts); a kind registers its own with `registerPipeline`.
 */
export interface Pipeline {
  readonly requestBody: readonly RequestStep[];
  readonly handlers: MessageHandlers;
  /** The answer to a denial when the kind's clients read another shape than Tollgate's JSON error (MCP: JSON-RPC). */
  readonly reply?: (req: ProcRequest, denial: Denial) => DenialReply;
  /** The kind's own fields of the audit record (MCP: `mcp`). */
  readonly facts?: (req: ProcRequest) => Pick<AuditFacts, 'mcp'>;
}

/** Runs `steps` from `from` in order: synchronous until a step returns a Promise, then resumes after it. */
export function runSteps(steps: readonly RequestStep[], req: Admitted, work: BodyWork, from = 0): StepResult | Promise<StepResult> {
  for (let i = from; i < steps.length; i++) {
    const step = steps[i];
    if (step === undefined) continue;
    const r = step.run(req, work);
    if (r instanceof Promise) return r.then((d) => (d !== undefined ? d : runSteps(steps, req, work, i + 1)));
    if (r !== undefined) return r;
  }
  return undefined;
}
