// Bedrock Converse (and ConverseStream events), and InvokeModel bodies: Anthropic-shaped bodies are read as
// Anthropic Messages; any other model's body is read generically (every string leaf is a segment), so no
// text escapes inspection. reasoningContent blocks are signed: never emitted.
import type { SegmentRole } from '../../core/content.ts';
import { asArray, asCount, asObject, asString, SegmentSink, type Json } from '../shared/json-walk.ts';
import type { JsonObject, JsonValue } from '../shared/strict-json.ts';
import { largestCap } from '../shared/output-request.ts';
import type { UsageParts } from '../shared/usage.ts';
import { ANTHROPIC_MESSAGES } from './anthropic.ts';
import type { BodyFormatHandler } from './format.ts';

function content(sink: SegmentSink, c: Json, path: (string | number)[], role: SegmentRole): void {
  asArray(c).forEach((b, j) => {
    const block = asObject(b);
    if (block === undefined) return;
    const at = [...path, j];
    sink.text(block.text, [...at, 'text'], role);
    if (block.toolUse !== undefined) sink.leaves(asObject(block.toolUse)?.input, [...at, 'toolUse', 'input'], 'tool_call');
    const result = asObject(block.toolResult);
    if (result !== undefined) {
      asArray(result.content).forEach((r, k) => {
        const item = asObject(r);
        sink.text(item?.text, [...at, 'toolResult', 'content', k, 'text'], 'tool');
        if (item?.json !== undefined) sink.leaves(item.json, [...at, 'toolResult', 'content', k, 'json'], 'tool');
      });
    }
    const guard = asObject(asObject(block.guardContent)?.text);
    sink.text(guard?.text, [...at, 'guardContent', 'text', 'text'], role);
  });
}

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
  requestSegments(doc) {
    const sink = new SegmentSink();
    asArray(doc.system).forEach((s, i) => { sink.text(asObject(s)?.text, ['system', i, 'text'], 'system'); });
    asArray(doc.messages).forEach((m, i) => {
      const msg = asObject(m);
      content(sink, msg?.content, ['messages', i, 'content'], msg?.role === 'assistant' ? 'assistant' : 'user');
    });
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    content(sink, asObject(asObject(asObject(doc)?.output)?.message)?.content, ['output', 'message', 'content'], 'assistant');
    return sink.out;
  },
  usage: (doc) => converseUsage(asObject(doc)?.usage),
  // ConverseStream: the `metadata` event's payload holds usage.
  streamUsage: (event, doc) => (event === undefined || event === 'metadata' ? converseUsage(asObject(doc)?.usage) : undefined),
};

const isAnthropicBody = (doc: JsonObject): boolean => typeof doc.anthropic_version === 'string' || Array.isArray(doc.messages);

/** Generic: every string leaf except the top-level "anthropic_version"-style settings is a segment. */
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
  requestSegments(doc) {
    const sink = new SegmentSink();
    for (const [k, v] of Object.entries(doc)) if (k !== 'model') sink.leaves(v, [k], 'other');
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    sink.leaves(doc, [], 'other');
    return sink.out;
  },
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
  requestSegments: (doc) => (isAnthropicBody(doc) ? ANTHROPIC_MESSAGES.requestSegments(doc) : GENERIC_JSON.requestSegments(doc)),
  responseSegments(doc: JsonValue) {
    const o = asObject(doc);
    return o !== undefined && asString(o.type) === 'message' ? ANTHROPIC_MESSAGES.responseSegments(doc) : GENERIC_JSON.responseSegments(doc);
  },
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
