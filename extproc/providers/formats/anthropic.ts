// Anthropic Messages (also the body of Bedrock InvokeModel for Claude, and of Vertex rawPredict).
// Thinking and redacted_thinking blocks are signed by the provider: in requests they are protected (scanned, a
// finding blocks); in responses, redactors/protected-fields.ts says what of them may not change.
import { asArray, asCount, asObject, asString, type Json } from '../shared/json-walk.ts';
import { largestCap } from '../shared/output-request.ts';
import { requestProtectedKeys } from '../shared/protected-fields.ts';
import type { ServerTool, WalkRules } from '../shared/request-walk.ts';
import { sum, type UsageParts } from '../shared/usage.ts';
import type { BodyFormatHandler } from './format.ts';

// Anthropic-defined tools the caller executes itself; every other typed tool runs at Anthropic.
const CLIENT_TOOL = /^(?:bash|text_editor|memory)_/;

function serverTool(type: string | undefined): ServerTool | undefined {
  if (type === undefined || type === 'custom' || CLIENT_TOOL.test(type)) return undefined;
  if (type.startsWith('web_search')) return 'web_search';
  if (type.startsWith('web_fetch')) return 'web_fetch';
  if (type.startsWith('code_execution')) return 'code_execution';
  if (type.startsWith('computer')) return 'computer_use';
  if (type.startsWith('mcp')) return 'mcp';
  return 'other';
}

/**
 * Messages bodies. Protected: the request rows of the anthropic table (ids, signatures), whole thinking and
 * redacted_thinking blocks. Inline media: a content block's `source.data` when the source is base64
 * (decoded and scanned when `media_type` is text). Provider
 * fetches: `source.type: url`. Server tools: typed tools other than bash/text_editor/memory, and `mcp_servers`.
 */
export const ANTHROPIC_RULES: WalkRules = {
  protectedKeys: requestProtectedKeys('anthropic'),
  roles: { system: 'system' },
  object(o, path, role) {
    const n = path.length;
    if (n === 0) return asArray(o.mcp_servers).length > 0 ? { tools: ['mcp'] } : undefined;
    if (n === 2 && path[0] === 'tools') {
      const tool = serverTool(asString(o.type));
      return tool === undefined ? undefined : { tools: [tool] };
    }
    if (n === 2 && path[0] === 'messages') return { role: o.role === 'assistant' ? 'assistant' : 'user' };
    if (role === 'tool_call') return undefined; // tool input is free-form: no structure is read in it
    if (path.at(-1) === 'source' && typeof path.at(-2) === 'number' && (path[0] === 'messages' || path[0] === 'system')) {
      const type = asString(o.type);
      if (type === 'base64') return { media: 'data', mediaType: asString(o.media_type) };
      return type === 'url' ? { fetch: true } : undefined;
    }
    if (typeof path.at(-1) !== 'number') return undefined;
    const type = asString(o.type);
    if (type === 'thinking' || type === 'redacted_thinking') return { protect: true };
    if (type === 'tool_use' || type === 'server_tool_use' || type === 'mcp_tool_use') return { role: 'tool_call' };
    if (type !== undefined && type.endsWith('tool_result')) return { role: 'tool' };
    return undefined;
  },
};

/** Anthropic usage; cache reads and writes are input tokens too. */
export function anthropicUsage(u: Json): UsageParts | undefined {
  const o = asObject(u);
  if (o === undefined) return undefined;
  const input = sum(asCount(o.input_tokens), asCount(o.cache_creation_input_tokens), asCount(o.cache_read_input_tokens));
  const output = asCount(o.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  return { input, output };
}

export const ANTHROPIC_MESSAGES: BodyFormatHandler = {
  bodyModel: true,
  requestRules: () => ANTHROPIC_RULES,
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_tokens), choices: 1 }),
  usage: (doc) => anthropicUsage(asObject(doc)?.usage),
  streamUsage(event, doc) {
    const o = asObject(doc);
    const type = event ?? asString(o?.type);
    if (type === 'message_start') return anthropicUsage(asObject(o?.message)?.usage);
    if (type === 'message_delta') return anthropicUsage(o?.usage);
    return undefined;
  },
};
