import { z } from 'zod';

// Tool-definition pins of one MCP server (issue 16). The `mcp` provider kind's schema spreads MCP_PINS_FIELDS
// (or uses mcpPinsSchema) so that a server's config reads `pins: { tool: sha256:... }, trustOnFirstUse: false`.
// This file imports nothing from schema.ts, so schema.ts can import it without a cycle.

/** A pin as `tollgate mcp pins` prints it. */
export const TOOL_PIN_RE = /^sha256:[0-9a-f]{64}$/;

export const MCP_PINS_FIELDS = {
  /** Reviewed pins: tool name → the hash of its reviewed definition. A reviewed pin wins over a trust-on-first-use one. */
  pins: z
    .record(z.string(), z.string().regex(TOOL_PIN_RE, 'must be "sha256:" and 64 lowercase hex digits, as `tollgate mcp pins` prints it'))
    .superRefine((pins, ctx) => {
      for (const tool of Object.keys(pins)) {
        if (tool.length === 0 || tool.length > 256) ctx.addIssue({ code: 'custom', path: [tool], message: 'a tool name has 1 to 256 characters' });
      }
    })
    .optional(),
  /** Pin the first definition seen of a tool without a reviewed pin (kept in the state store, shared by replicas). */
  trustOnFirstUse: z.boolean({ error: 'must be true or false' }).default(true),
};

export const mcpPinsSchema = z.strictObject(MCP_PINS_FIELDS);

export type McpPinsConfig = z.output<typeof mcpPinsSchema>;
