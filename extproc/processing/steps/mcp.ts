// MCP servers (kind mcp) in ext_proc: the request-body steps and response work of the kind's pipeline
// (processing/mcp.ts registers it). The protocol itself is in extproc/mcp/.
import { RULES, type RequestDocument } from '../../core/decision.ts';
import type { Denial, DenialReply } from '../../errors.ts';
import { toolBindingsFor } from '../../mcp/bindings.ts';
import { jsonRpcDenialReply } from '../../mcp/jsonrpc-error.ts';
import { filterListAnswer, type ListItem } from '../../mcp/lists.ts';
import { auditName, readMcpRequest, refuseBatch } from '../../mcp/request.ts';
import { ToolPinRegistry, type ToolPinVerdict } from '../../mcp/tool-pins.ts';
import { mayUse } from '../../policy/mcp-rules.ts';
import { asTollgateError } from '../../policy/request.ts';
import type { AuditFacts } from '../../telemetry/audit-record.ts';
import type { RequestStep } from '../pipeline.ts';
import type { Admitted, ProcRequest } from '../request.ts';
import type { ReadBody } from './content.ts';
import { translator } from './credential.ts';
import { policyStep } from './request-body.ts';
import { admitMcpUsage } from './usage.ts';

/** The strict parse of the body: a batch refused first, then the JSON-RPC message and its mirrored headers (400s). */
export const mcpParse: RequestStep = {
  name: 'mcp.parse',
  run(req, w) {
    let doc;
    try {
      refuseBatch(w.body);
      doc = translator(req).parseBody(w.body);
    } catch (err) {
      throw asTollgateError(err);
    }
    if (doc === undefined) return undefined;
    const server = req.route.provider.name;
    const bindings = toolBindingsFor(req.policy);
    req.mcp = { ...readMcpRequest(doc, req.headers, (tool) => bindings.get(server, tool)), hidden: 0, sse: false, pin: undefined, listed: [] };
    return undefined;
  },
};

/** The final policy evaluation over the request document and the JSON-RPC message (403s). */
export const mcpPolicy: RequestStep = policyStep((req: Admitted, doc: RequestDocument) => (req.mcp === undefined ? doc : { ...doc, mcp: req.mcp.doc }));

const registries = new WeakMap<object, ToolPinRegistry>();

/** The pin registry of this policy revision (its reviewed pins) over the shared state store. */
function pinRegistry(req: ProcRequest): ToolPinRegistry {
  let r = registries.get(req.policy);
  if (r === undefined) {
    r = new ToolPinRegistry(req.services.state, req.policy.mcpPins);
    registries.set(req.policy, r);
  }
  return r;
}

/** A tool whose definition Tollgate cannot vouch for: changed since pinned, or unhashable. */
const untrusted = (v: ToolPinVerdict | undefined): boolean => v !== undefined && (v.status === 'changed' || v.status === 'invalid');

const DEFINITION_CHANGED: Denial = Object.freeze({ code: 'tool_definition_changed', rule: RULES.mcpPins });

/**
 * A tools/call to a tool whose definition changed since it was pinned (or cannot be hashed) is denied with
 * tool_definition_changed, from the last definition any replica saw listed; under policy.mode shadow it is
 * recorded as a would-deny and goes on. A tool never listed yet ("unseen") goes on, audited as such.
 */
export const toolPin: RequestStep = {
  name: 'mcp.pin',
  async run(req) {
    const mcp = req.mcp;
    if (mcp?.message.method !== 'tools/call' || mcp.message.name === undefined) return undefined;
    mcp.pin = await pinRegistry(req).verdictForCall(req.route.provider.name, mcp.message.name);
    if (!untrusted(mcp.pin)) return undefined;
    if (req.policy.mode !== 'shadow') return DEFINITION_CHANGED;
    req.shadow ??= { rule: RULES.mcpPins, reason: 'tool_definition_changed' };
    return undefined;
  },
};

/** Request and tool-call rate limits (no token limits or budgets: MCP carries no model tokens). */
export const mcpUsage: RequestStep = { name: 'mcp.usage', run: (req) => admitMcpUsage(req, req.mcp?.message.method === 'tools/call') };

/** After the credential: mirrored headers nothing verified (versions before 2026-07-28) are removed. */
export const mcpHeaders: RequestStep = {
  name: 'mcp.headers',
  run(req, w) {
    const remove = req.mcp?.removeHeaders ?? [];
    if (remove.length > 0) w.credential = { ...w.credential, remove: [...(w.credential?.remove ?? []), ...remove] };
    return undefined;
  },
};

/** List answers are read whole, even as SSE (a POST's stream ends with its answer), so they can be filtered. */
export function bufferListAnswer(req: ProcRequest, contentType: string | undefined): boolean {
  if (req.mcp?.list !== true) return false;
  req.mcp.sse = contentType === 'text/event-stream';
  return true;
}

/**
 * A list answer shown as the caller's grants allow: items the grants do not name are hidden, and tools whose
 * definition changed since pinned (or cannot be hashed) too. Every tools/list page is observed by the pin
 * registry first (trust-on-first-use pins, last-seen hashes, shared through the state store). Under
 * policy.mode shadow nothing is hidden; what would have been is counted.
 */
export async function filterMcpList(req: ProcRequest, body: Buffer): Promise<{ readonly body: Buffer; readonly read?: ReadBody }> {
  const { mcp, route } = req;
  const authz = req.caller?.authz;
  // Only a successful answer is a list; an error answer is the server's and is inspected like any other.
  if (mcp?.list !== true || route === undefined || authz === undefined || mcp.message.method === undefined || req.response.status !== 200) return { body };
  const server = route.provider.name;
  const grants = (req.policy.identitiesById.get(authz.identity.id)?.providers.get(server) ?? []).flatMap((g) => (g.mcp === undefined ? [] : [g.mcp]));
  const bindings = toolBindingsFor(req.policy);
  const shadow = req.policy.mode === 'shadow';
  const verdicts = new Map<string, ToolPinVerdict>();
  const listed: ToolPinVerdict[] = [];
  let hidden = 0;
  const r = await filterListAnswer(body, mcp.sse, mcp.message.method, {
    observe: async (items: readonly ListItem[]) => {
      const tools = items.filter((i) => i.target === 'tool');
      if (tools.length === 0) return;
      bindings.observe(server, tools);
      for (const v of await pinRegistry(req).observeList(server, tools.map((t) => t.item))) {
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
  mcp.hidden = hidden;
  mcp.listed = listed;
  // The response scan reads what the filter read: the JSON document, or an SSE stream (through the SSE transform).
  return { body: r.body ?? body, read: r.document === undefined ? { sse: true } : { json: r.document } };
}

/** A denial as a JSON-RPC error, answering the request's id when it has one. */
export function mcpReply(req: ProcRequest, denial: Denial): DenialReply {
  const m = req.mcp?.message;
  return jsonRpcDenialReply(denial, m?.kind === 'request' ? m.id : undefined, req.requestId, req.decisionId);
}

/** The audit record's `mcp` field: never arguments or results. */
export function mcpFacts(req: ProcRequest): Pick<AuditFacts, 'mcp'> {
  const m = req.mcp;
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
