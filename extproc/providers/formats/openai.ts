// OpenAI formats: chat completions, completions, embeddings, moderations and the Responses API.
// Azure OpenAI and OpenAI-compatible servers (vLLM, Ollama's /v1) speak the same formats.
import type { JsonPath, SegmentRole } from '../../core/content.ts';
import { asCount, asObject, asString, type Json } from '../shared/json-walk.ts';
import { requestProtectedKeys } from '../shared/protected-fields.ts';
import { isRemoteUrl, type ServerTool, type WalkRules } from '../shared/request-walk.ts';
import type { JsonObject } from '../shared/strict-json.ts';
import { choiceCount, largestCap, NO_OUTPUT } from '../shared/output-request.ts';
import type { UsageParts } from '../shared/usage.ts';
import type { BodyFormatHandler } from './format.ts';

export function chatRole(role: Json): SegmentRole {
  switch (role) {
    case 'system':
    case 'developer':
      return 'system';
    case 'user':
      return 'user';
    case 'assistant':
      return 'assistant';
    case 'tool':
    case 'function':
      return 'tool';
    default:
      return 'other';
  }
}

/** OpenAI `usage` in either naming: prompt/completion (chat, completions, embeddings) or input/output (Responses). */
export function openAiUsage(u: Json): UsageParts | undefined {
  const o = asObject(u);
  if (o === undefined) return undefined;
  const input = asCount(o.prompt_tokens) ?? asCount(o.input_tokens);
  const output = asCount(o.completion_tokens) ?? asCount(o.output_tokens);
  const total = asCount(o.total_tokens);
  if (input === undefined && output === undefined && total === undefined) return undefined;
  return { input, output: output ?? (input === undefined ? undefined : 0), total };
}

function usageOf(doc: Json): UsageParts | undefined {
  const o = asObject(doc);
  if (o === undefined) return undefined;
  // Chat/completions chunks carry `usage`; Responses API events carry it in `response.usage`.
  return openAiUsage(o.usage) ?? openAiUsage(asObject(o.response)?.usage);
}

// Tools the caller runs itself; every other tool type is run by the provider (unknown types too).
const CLIENT_TOOLS: ReadonlySet<string> = new Set(['function', 'custom', 'local_shell', 'shell', 'apply_patch']);

function serverTool(type: string | undefined): ServerTool | undefined {
  if (type === undefined || CLIENT_TOOLS.has(type)) return undefined;
  if (type.startsWith('web_search')) return 'web_search';
  if (type === 'code_interpreter') return 'code_execution';
  if (type.startsWith('computer')) return 'computer_use';
  if (type === 'file_search') return 'file_search';
  if (type === 'mcp') return 'mcp';
  if (type === 'image_generation') return 'image_generation';
  return 'other';
}

/**
 * A content part: messages[i].content[j], input[i].content[j], input[i].output[j] (a tool output's parts), or
 * input[i] (moderations). Never inside tool arguments or a field the format does not know.
 */
function isPart(path: JsonPath, role: SegmentRole): boolean {
  if (role === 'tool_call' || typeof path.at(-1) !== 'number') return false;
  if (path.length === 2) return path[0] === 'input';
  return path.length === 4 && (path[0] === 'messages' || path[0] === 'input') && (path[2] === 'content' || path[2] === 'output');
}

function item(o: JsonObject): SegmentRole {
  const type = asString(o.type);
  if (type === undefined || type === 'message') return chatRole(o.role);
  if (type.endsWith('_output')) return 'tool';
  return type.endsWith('_call') ? 'tool_call' : 'other';
}

/**
 * Chat, completions, embeddings, moderations and Responses bodies. Protected: the request rows of the openai
 * table (ids, encrypted reasoning) and whole Responses `reasoning` items. Inline media: `image_url.url`, `input_image.image_url`, `file_data`,
 * `input_audio.data`. Provider fetches: http(s) image URLs, `input_file.file_url`.
 */
export const OPENAI_RULES: WalkRules = {
  protectedKeys: requestProtectedKeys('openai'),
  roles: { instructions: 'system', input: 'user', prompt: 'user', suffix: 'user' },
  object(o, path, role) {
    const n = path.length;
    if (n === 0) return o.web_search_options === undefined ? undefined : { tools: ['web_search'] };
    if (n === 2 && path[0] === 'tools') {
      const tool = serverTool(asString(o.type));
      return tool === undefined ? undefined : { tools: [tool] };
    }
    if (n === 2 && path[0] === 'messages') return { role: chatRole(o.role) };
    if (n === 2 && path[0] === 'input') return asString(o.type) === 'reasoning' ? { role: 'assistant', protect: true } : { role: item(o) };
    const last = path.at(-1);
    if (last === 'function_call' || path.at(-2) === 'tool_calls') return { role: 'tool_call' };
    if (last === 'image_url' && role !== 'tool_call' && isPart(path.slice(0, -1), role)) return { media: 'url', fetch: isRemoteUrl(o.url) };
    if (last === 'input_audio' && isPart(path.slice(0, -1), role)) return { media: 'data' };
    if (last === 'file' && isPart(path.slice(0, -1), role)) return { media: 'file_data' };
    if (!isPart(path, role)) return undefined;
    const type = asString(o.type);
    if (type === 'input_image') return { media: 'image_url', fetch: isRemoteUrl(o.image_url) };
    if (type === 'input_file') return { media: 'file_data', fetch: o.file_url !== undefined };
    return undefined;
  },
};

const base = {
  bodyModel: true,
  usage: usageOf,
  streamUsage: (_event: string | undefined, doc: Json) => usageOf(doc),
} as const;

export const OPENAI_CHAT: BodyFormatHandler = {
  ...base,
  // Ollama's native /api/chat reads this format too: its cap is options.num_predict.
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_tokens, doc.max_completion_tokens, asObject(doc.options)?.num_predict), choices: choiceCount(doc.n) }),
  requestRules: () => OPENAI_RULES,
};

export const OPENAI_COMPLETIONS: BodyFormatHandler = {
  ...base,
  // best_of completions are generated (and billed) server-side, n of them returned.
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_tokens), choices: choiceCount(doc.n, doc.best_of) }),
  requestRules: () => OPENAI_RULES,
};

export const OPENAI_EMBEDDINGS: BodyFormatHandler = {
  ...base,
  outputRequest: () => NO_OUTPUT,
  requestRules: () => OPENAI_RULES,
};

export const OPENAI_MODERATIONS: BodyFormatHandler = OPENAI_EMBEDDINGS;

export const OPENAI_RESPONSES: BodyFormatHandler = {
  ...base,
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_output_tokens), choices: 1 }),
  requestRules: () => OPENAI_RULES,
};

