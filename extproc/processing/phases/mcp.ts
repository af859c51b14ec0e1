// MCP servers (kind mcp) in the ext_proc phases: the calls the request-body and response phases make, kept in one
// module so the phases stay kind-agnostic. The protocol itself is in extproc/mcp/.
import { RULES, type RequestDocument } from '../../core/decision.ts';
import { toolBindingsFor } from '../../mcp/bindings.ts';
import { jsonRpcDenial } from '../../mcp/jsonrpc-error.ts';
import { filterListAnswer, type ListItem } from '../../mcp/lists.ts';
import { auditName, readMcpRequest, refuseBatch } from '../../mcp/request.ts';
import { ToolPinRegistry, type ToolPinVerdict } from '../../mcp/tool-pins.ts';
import type { AuditFacts } from '../../telemetry/audit-record.ts';
import { mayUse } from '../../policy/mcp-rules.ts';
import { asTollgateError } from '../../policy/request.ts';
import type { RequestTranslator } from '../../providers/index.ts';
import type { ProcessingResponse } from '../../wire/ext-proc.ts';
import type { Denial, RequestState } from '../request-state.ts';
import { jsonRpcErrorResponse } from '../responses.ts';

export const isMcp = (state: Pick<RequestState, 'provider'>): boolean => state.provider?.config.kind === 'mcp';

/**
 * Parses the request body with the translator; for an MCP server first refuses a batch, then reads the JSON-RPC
 * message and checks the mirrored headers (state.mcp). Throws a TollgateError.
 */
export function parseRequestBody(state: RequestState, t: RequestTranslator, body: Buffer): void {
  const mcp = isMcp(state);
  let doc;
  try {
    if (mcp) refuseBatch(body);
    doc = t.parseBody(body);
  } catch (err) {
    throw asTollgateError(err);
  }
  if (!mcp || doc === undefined || state.provider === undefined) return;
  const server = state.provider.name;
  const bindings = toolBindingsFor(state.policy);
  state.mcp = { ...readMcpRequest(doc, state.headers, (tool) => bindings.get(server, tool)), hidden: 0 };
}

/** The request document with the MCP message, for policy. */
export function withMcp(state: RequestState, doc: RequestDocument): RequestDocument {
  return state.mcp === undefined ? doc : { ...doc, mcp: state.mcp.doc };
}

/** Request headers to remove in the body answer: mirrored headers nothing verified (versions before 2026-07-28). */
export function mcpHeaderRemovals(state: RequestState): readonly string[] {
  return state.mcp?.removeHeaders ?? [];
}

/**
 * List answers are buffered (even as SSE: a POST's stream ends with its answer) so they can be filtered whole;
 * everything else streams as usual. Notes whether the buffered answer is SSE.
 */
export function mcpBuffersResponse(state: RequestState, contentType: string | undefined): boolean {
  if (state.mcp?.list !== true) return false;
  state.mcp = { ...state.mcp, sse: contentType === 'text/event-stream' };
  return true;
}

const registries = new WeakMap<object, ToolPinRegistry>();

/** The pin registry of this policy revision (its reviewed pins) over the shared state store. */
function pinRegistry(state: RequestState): ToolPinRegistry {
  let r = registries.get(state.policy);
  if (r === undefined) {
    r = new ToolPinRegistry(state.services.state, state.policy.mcpPins);
    registries.set(state.policy, r);
  }
  return r;
}

/** A tool whose definition Tollgate cannot vouch for: changed since pinned, or unhashable. */
const untrusted = (v: ToolPinVerdict | undefined): boolean => v !== undefined && (v.status === 'changed' || v.status === 'invalid');

/**
 * A list answer shown as the caller's grants allow: items the grants do not name are hidden, and tools whose
 * definition changed since pinned (or cannot be hashed) too. Every tools/list page is observed by the pin
 * registry first (trust-on-first-use pins, last-seen hashes, shared through the state store). Under
 * policy.mode shadow nothing is hidden; what would have been is counted. Returns the body to inspect next.
 */
export async function filterMcpList(state: RequestState, body: Buffer): Promise<Buffer> {
  const { mcp, provider, authz } = state;
  // Only a successful answer is a list; an error answer is the server's and is inspected like any other.
  if (mcp?.list !== true || provider === undefined || authz === undefined || mcp.message.method === undefined || state.status !== 200) return body;
  const grants = (state.policy.identitiesById.get(authz.identity.id)?.providers.get(provider.name) ?? []).flatMap((g) => (g.mcp === undefined ? [] : [g.mcp]));
  const bindings = toolBindingsFor(state.policy);
  const shadow = state.policy.mode === 'shadow';
  const verdicts = new Map<string, ToolPinVerdict>();
  const listed: ToolPinVerdict[] = [];
  let hidden = 0;
  const r = await filterListAnswer(body, mcp.sse === true, mcp.message.method, {
    observe: async (items: readonly ListItem[]) => {
      const tools = items.filter((i) => i.target === 'tool');
      if (tools.length === 0) return;
      bindings.observe(provider.name, tools);
      const seen = await pinRegistry(state).observeList(provider.name, tools.map((t) => t.item));
      for (const v of seen) {
        verdicts.set(v.name, v);
        listed.push(v);
      }
    },
    keep: (item) => {
      const ok = mayUse(grants, item.target, item.name) && !(item.target === 'tool' && untrusted(verdicts.get(item.name)));
      if (!ok) hidden++;
      return ok || shadow;
    },
  });
  state.mcp = { ...mcp, hidden, listed };
  return r.body ?? body;
}

/**
 * A tools/call to a tool whose definition changed since it was pinned (or cannot be hashed) is denied with
 * tool_definition_changed, from the last definition any replica saw listed; under policy.mode shadow it is
 * recorded as a would-deny and goes on. A tool never listed yet ("unseen") goes on, audited as such.
 */
export async function checkToolPin(state: RequestState): Promise<Denial | undefined> {
  const { mcp, provider } = state;
  if (mcp?.message.method !== 'tools/call' || mcp.message.name === undefined || provider === undefined) return undefined;
  const verdict = await pinRegistry(state).verdictForCall(provider.name, mcp.message.name);
  state.mcp = { ...mcp, pin: verdict };
  if (!untrusted(verdict)) return undefined;
  if (state.policy.mode === 'shadow') {
    state.shadow ??= { rule: RULES.mcpPins, reason: 'tool_definition_changed' };
    return undefined;
  }
  return { code: 'tool_definition_changed', rule: RULES.mcpPins };
}

/** A denial of an MCP request as a JSON-RPC error (undefined for other kinds: the catalogue's JSON error). */
export function mcpDenialResponse(state: RequestState, denial: Denial): ProcessingResponse | undefined {
  if (!isMcp(state)) return undefined;
  const answer = jsonRpcDenial(denial.code, state.mcp?.message.kind === 'request' ? state.mcp.message.id : undefined, { requestId: state.requestId, decisionId: state.decisionId, types: denial.types });
  return jsonRpcErrorResponse(answer, denial.code, state.requestId, state.decisionId, denial.retryAfterSeconds);
}

/** The audit record's `mcp` field for a request to an MCP server (absent for other kinds). */
export function mcpAuditFacts(state: RequestState): { readonly mcp?: AuditFacts['mcp'] } {
  if (!isMcp(state)) return {};
  const m = state.mcp;
  const listed = m?.listed ?? [];
  const changes = listed.filter((v) => v.status === 'changed').slice(0, 32).map((v) => ({ tool: v.name.slice(0, 256), pinned: v.pinned ?? '', current: v.current }));
  const flagged = listed.filter((v) => v.flags.length > 0).slice(0, 32).map((v) => v.name.slice(0, 256));
  return {
    mcp: {
      method: m?.message.method ?? null,
      name: auditName(m?.message.name),
      protocol_version: m === undefined || m.version === 'legacy' ? null : m.version,
      pin: m?.pin?.status ?? null,
      hidden: m?.hidden ?? 0,
      ...(changes.length === 0 ? {} : { pin_changes: changes }),
      ...(flagged.length === 0 ? {} : { flagged }),
    },
  };
}
