// A grant's MCP rules, compiled once: the methods it allows beyond the session ones, and the tool, prompt and
// resource names it allows. Default deny: a grant for an MCP server that lists no names allows the session and
// the lists (which then show nothing) and no tool, prompt or resource.
import type { McpDocument } from '../core/decision.ts';
import { compileNamePatterns, type NameMatcher } from '../mcp/name-glob.ts';
import { DEFAULT_MCP_METHODS, SESSION_METHODS, type McpTarget } from '../mcp/protocol.ts';

export interface McpGrantInput {
  readonly methods?: readonly string[] | undefined;
  readonly tools: readonly string[];
  readonly prompts: readonly string[];
  readonly resources: readonly string[];
}

export interface McpGrantRules {
  readonly methods: ReadonlySet<string>;
  /** True when the grant lists no methods (DEFAULT_MCP_METHODS applies). */
  readonly methodsDefault: boolean;
  readonly names: Readonly<Record<Exclude<McpTarget, 'task'>, NameMatcher>>;
}

const NO_NAMES: McpGrantInput = { tools: [], prompts: [], resources: [] };

export function compileMcpGrant(input: McpGrantInput | undefined): McpGrantRules {
  const i = input ?? NO_NAMES;
  return Object.freeze({
    methods: new Set(i.methods ?? DEFAULT_MCP_METHODS),
    methodsDefault: i.methods === undefined,
    names: Object.freeze({ tool: compileNamePatterns(i.tools), prompt: compileNamePatterns(i.prompts), resource: compileNamePatterns(i.resources) }),
  });
}

export type McpFailure = { readonly reason: 'mcp_method_forbidden' | 'mcp_name_forbidden'; readonly check: 'mcp.methods' | 'mcp.names'; readonly detail: string };
export type McpPass = { readonly check: 'mcp.methods' | 'mcp.names'; readonly detail: string };

/** Checks one JSON-RPC message against a grant's MCP rules: the passes made (for `explain`) and the failure, if any. */
export function checkMcp(rules: McpGrantRules, mcp: McpDocument): { readonly passes: readonly McpPass[]; readonly failure?: McpFailure } {
  if (mcp.kind === 'response') return { passes: [{ check: 'mcp.methods', detail: 'a response to a server request (its content is scanned)' }] };
  const method = mcp.method;
  if (SESSION_METHODS.has(method)) return { passes: [{ check: 'mcp.methods', detail: `${method} is a session method, allowed with any grant for the server` }] };
  if (!rules.methods.has(method)) {
    const listed = rules.methodsDefault ? ' (no methods listed: the default set)' : '';
    return { passes: [], failure: { reason: 'mcp_method_forbidden', check: 'mcp.methods', detail: `method ${method} not in the grant's methods${listed}` } };
  }
  const passes: McpPass[] = [{ check: 'mcp.methods', detail: `method ${method} in the grant's methods` }];
  if (mcp.target === undefined || mcp.target === 'task' || mcp.name === undefined) return { passes };
  const ok = rules.names[mcp.target](mcp.name);
  if (!ok) return { passes, failure: { reason: 'mcp_name_forbidden', check: 'mcp.names', detail: `${mcp.target} ${mcp.name} does not match the grant's ${mcp.target}s` } };
  return { passes: [...passes, { check: 'mcp.names', detail: `${mcp.target} ${mcp.name} matches the grant's ${mcp.target}s` }] };
}

/** The method that uses a listed item: what a list answer is filtered by. */
export const USE_METHOD: Readonly<Record<Exclude<McpTarget, 'task'>, string>> = Object.freeze({ tool: 'tools/call', prompt: 'prompts/get', resource: 'resources/read' });

/** Whether one of `grants` lets the caller use the listed item (method and name; conditions are decided per call). */
export function mayUse(grants: readonly McpGrantRules[], target: Exclude<McpTarget, 'task'>, name: string): boolean {
  return grants.some((g) => g.methods.has(USE_METHOD[target]) && g.names[target](name));
}
