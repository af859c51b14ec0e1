// The Mcp-Param-* declarations of the tools each server listed, as seen in its tools/list answers: what a
// 2026-07-28 tools/call's headers are checked against. Kept per policy revision (a reload starts empty) and per
// server, bounded; a tool not seen yet has no known declarations (its headers go on to the server, which checks).
import type { JsonObject } from '../providers/shared/strict-json.ts';
import { paramBindings, type ParamBinding } from './headers.ts';

const MAX_TOOLS_PER_SERVER = 4096;

export class ToolBindings {
  readonly #byServer = new Map<string, Map<string, readonly ParamBinding[]>>();

  /** Records the declarations of listed tools (the definitions as the server sent them). */
  observe(server: string, tools: readonly { readonly name: string; readonly item: JsonObject }[]): void {
    let m = this.#byServer.get(server);
    if (m === undefined) {
      m = new Map();
      this.#byServer.set(server, m);
    }
    for (const t of tools) {
      if (!m.has(t.name) && m.size >= MAX_TOOLS_PER_SERVER) continue;
      m.set(t.name, paramBindings(t.item.inputSchema));
    }
  }

  /** The tool's declarations, or undefined when its definition has not been seen. */
  get(server: string, tool: string): readonly ParamBinding[] | undefined {
    return this.#byServer.get(server)?.get(tool);
  }
}

const perPolicy = new WeakMap<object, ToolBindings>();

/** The bindings seen under one policy revision (keyed by the policy object). */
export function toolBindingsFor(policy: object): ToolBindings {
  let b = perPolicy.get(policy);
  if (b === undefined) {
    b = new ToolBindings();
    perPolicy.set(policy, b);
  }
  return b;
}
