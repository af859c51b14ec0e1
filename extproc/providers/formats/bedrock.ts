// Bedrock Converse (and ConverseStream events), and InvokeModel bodies: Anthropic-shaped bodies are read as
// Anthropic Messages; any other model's body is read generically (every string leaf is a segment), so no
// text escapes inspection. reasoningContent blocks are signed: protected in requests.
import { asCount, asObject, asString, type Json } from '../shared/json-walk.ts';
import { requestProtectedKeys } from '../shared/protected-fields.ts';
import type { WalkRules } from '../shared/request-walk.ts';
import type { JsonObject, JsonValue } from '../shared/strict-json.ts';
import { largestCap } from '../shared/output-request.ts';
import type { UsageParts } from '../shared/usage.ts';
import { ANTHROPIC_MESSAGES, ANTHROPIC_RULES } from './anthropic.ts';
import type { BodyFormatHandler } from './format.ts';

/** The media type of a document block's bytes, from its `format` (text formats only). */
const DOCUMENT_TEXT: ReadonlyMap<string, string> = new Map([['txt', 'text/plain'], ['md', 'text/markdown'], ['csv', 'text/csv'], ['html', 'text/html']]);
const documentType = (block: string | number | undefined, o: JsonObject | undefined): string | undefined => {
  const format = block === 'document' ? asString(o?.format) : undefined;
  return format === undefined ? undefined : DOCUMENT_TEXT.get(format);
};

/**
 * Converse bodies. Protected: the request rows of the bedrock-converse table (tool-use ids), whole
 * reasoningContent blocks (signed). Inline media: `source.bytes` of image, document and video blocks
 * (a txt/md/csv/html document's text is decoded and scanned). Provider
 * fetches: `source.s3Location`. Server tools: `toolConfig.tools[]` entries other than `toolSpec`.
 */
export const CONVERSE_RULES: WalkRules = {
  protectedKeys: requestProtectedKeys('bedrock-converse'),
  roles: { system: 'system' },
  object(o, path, role, parent) {
    const n = path.length;
    if (n === 2 && path[0] === 'messages') return { role: o.role === 'assistant' ? 'assistant' : 'user' };
    if (n === 3 && path[0] === 'toolConfig' && path[1] === 'tools') return Object.keys(o).every((k) => k === 'toolSpec' || k === 'cachePoint') ? undefined : { tools: ['other'] };
    if (role === 'tool_call') return undefined; // tool input is free-form
    const last = path.at(-1);
    if (last === 'toolUse') return { role: 'tool_call' };
    if (last === 'toolResult') return { role: 'tool' };
    if (last === 'reasoningContent') return { protect: true };
    if (last === 'source' && typeof path.at(-3) === 'number' && path[0] === 'messages') return { media: 'bytes', mediaType: documentType(path.at(-2), parent), fetch: o.s3Location !== undefined };
    return undefined;
  },
};

function converseUsage(u: Json): UsageParts | undefined {
  const o = asObject(u);
  if (o === undefined) return undefined;
  const input = asCount(o.inputTokens);
  const output = asCount(o.outputTokens);
  const total = asCount(o.totalTokens);
  if (input === undefined && output === undefined && total === undefined) return undefined;
  return { input, output, total };
}

export const BEDROCK_CONVERSE: BodyFormatHandler = {
  bodyModel: false,
  outputRequest: (doc) => ({ maxTokens: largestCap(asObject(doc.inferenceConfig)?.maxTokens), choices: 1 }),
  requestRules: () => CONVERSE_RULES,
  usage: (doc) => converseUsage(asObject(doc)?.usage),
  // ConverseStream: the `metadata` event's payload holds usage.
  streamUsage: (event, doc) => (event === undefined || event === 'metadata' ? converseUsage(asObject(doc)?.usage) : undefined),
};

const isAnthropicBody = (doc: JsonObject): boolean => typeof doc.anthropic_version === 'string' || Array.isArray(doc.messages);

/** Generic: every string leaf and key is a segment (the top-level "model" is the model rules'), nothing protected. */
export const GENERIC_RULES: WalkRules = { protectedKeys: requestProtectedKeys('generic') };

export const GENERIC_JSON: BodyFormatHandler = {
  bodyModel: true,
  // The caps of the model families Bedrock InvokeModel and Ollama's /api/generate carry (Llama, Mistral,
  // Cohere, Titan, Nova, Ollama options); none set means no cap.
  outputRequest(doc) {
    const titan = asObject(doc.textGenerationConfig);
    const nova = asObject(doc.inferenceConfig);
    const ollama = asObject(doc.options);
    return { maxTokens: largestCap(doc.max_tokens, doc.max_gen_len, doc.max_new_tokens, doc.maxTokens, titan?.maxTokenCount, nova?.max_new_tokens, nova?.maxTokens, ollama?.num_predict), choices: 1 };
  },
  requestRules: () => GENERIC_RULES,
  usage: () => undefined,
  streamUsage: () => undefined,
};

function invocationMetrics(doc: Json): UsageParts | undefined {
  const m = asObject(asObject(doc)?.['amazon-bedrock-invocationMetrics']);
  if (m === undefined) return undefined;
  return { input: asCount(m.inputTokenCount), output: asCount(m.outputTokenCount) };
}

export const BEDROCK_INVOKE: BodyFormatHandler = {
  bodyModel: false,
  outputRequest: (doc) => (isAnthropicBody(doc) ? ANTHROPIC_MESSAGES.outputRequest(doc) : GENERIC_JSON.outputRequest(doc)),
  requestRules: (doc) => (isAnthropicBody(doc) ? ANTHROPIC_RULES : GENERIC_RULES),
  usage: (doc) => ANTHROPIC_MESSAGES.usage(doc) ?? converseUsage(asObject(doc)?.usage),
  // invoke-with-response-stream: `chunk` events whose payload {"bytes": base64} holds the model's own event.
  streamUsage(event, doc) {
    if (event !== undefined && event !== 'chunk') return undefined;
    const bytes = asString(asObject(doc)?.bytes);
    if (bytes === undefined) return undefined;
    let inner: JsonValue;
    try {
      inner = JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) as JsonValue;
    } catch {
      return undefined;
    }
    const metrics = invocationMetrics(inner);
    return metrics ?? ANTHROPIC_MESSAGES.streamUsage(undefined, inner);
  },
};
