// OpenAI formats: chat completions, completions, embeddings, moderations and the Responses API.
// Azure OpenAI and OpenAI-compatible servers (vLLM, Ollama's /v1) speak the same formats.
import type { SegmentRole } from '../../core/content.ts';
import { asArray, asCount, asObject, asString, SegmentSink, type Json } from '../shared/json-walk.ts';
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

function chatMessages(sink: SegmentSink, messages: Json, base: (string | number)[]): void {
  asArray(messages).forEach((m, i) => { chatMessage(sink, m, [...base, i]); });
}

function chatMessage(sink: SegmentSink, m: Json, path: (string | number)[]): void {
    const msg = asObject(m);
    if (msg === undefined) return;
    const role = chatRole(msg.role);
    const content = msg.content;
    if (typeof content === 'string') sink.text(content, [...path, 'content'], role);
    else asArray(content).forEach((p, j) => { sink.text(asObject(p)?.text, [...path, 'content', j, 'text'], role); });
    sink.text(msg.refusal, [...path, 'refusal'], role);
    asArray(msg.tool_calls).forEach((c, k) => {
      sink.text(asObject(asObject(c)?.function)?.arguments, [...path, 'tool_calls', k, 'function', 'arguments'], 'tool_call');
    });
    sink.text(asObject(msg.function_call)?.arguments, [...path, 'function_call', 'arguments'], 'tool_call');
}

function stringOrList(sink: SegmentSink, v: Json, path: (string | number)[], role: SegmentRole): void {
  if (typeof v === 'string') sink.text(v, path, role);
  else asArray(v).forEach((item, i) => {
    if (typeof item === 'string') sink.text(item, [...path, i], role);
    else sink.text(asObject(item)?.text, [...path, i, 'text'], role);
  });
}

function responsesItems(sink: SegmentSink, items: Json, base: (string | number)[]): void {
  asArray(items).forEach((it, i) => {
    const item = asObject(it);
    if (item === undefined) return;
    const path = [...base, i];
    const type = asString(item.type);
    if (type === 'function_call' || type === 'custom_tool_call') {
      sink.text(item.arguments, [...path, 'arguments'], 'tool_call');
      sink.text(item.input, [...path, 'input'], 'tool_call');
    } else if (type === 'function_call_output' || type === 'custom_tool_call_output') {
      stringOrList(sink, item.output, [...path, 'output'], 'tool');
    } else if (type === 'reasoning') {
      // Reasoning items may carry encrypted content the provider verifies: never touched.
    } else {
      const role = chatRole(item.role);
      if (typeof item.content === 'string') sink.text(item.content, [...path, 'content'], role);
      else asArray(item.content).forEach((p, j) => { sink.text(asObject(p)?.text, [...path, 'content', j, 'text'], role); });
    }
  });
}

const base = {
  bodyModel: true,
  usage: usageOf,
  streamUsage: (_event: string | undefined, doc: Json) => usageOf(doc),
} as const;

export const OPENAI_CHAT: BodyFormatHandler = {
  ...base,
  // Ollama's native /api/chat reads this format too: its cap is options.num_predict.
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_tokens, doc.max_completion_tokens, asObject(doc.options)?.num_predict), choices: choiceCount(doc.n) }),
  requestSegments(doc: JsonObject) {
    const sink = new SegmentSink();
    chatMessages(sink, doc.messages, ['messages']);
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    asArray(asObject(doc)?.choices).forEach((c, i) => { chatMessage(sink, asObject(c)?.message, ['choices', i, 'message']); });
    return sink.out;
  },
};

export const OPENAI_COMPLETIONS: BodyFormatHandler = {
  ...base,
  // best_of completions are generated (and billed) server-side, n of them returned.
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_tokens), choices: choiceCount(doc.n, doc.best_of) }),
  requestSegments(doc) {
    const sink = new SegmentSink();
    stringOrList(sink, doc.prompt, ['prompt'], 'user');
    sink.text(doc.suffix, ['suffix'], 'user');
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    asArray(asObject(doc)?.choices).forEach((c, i) => { sink.text(asObject(c)?.text, ['choices', i, 'text'], 'assistant'); });
    return sink.out;
  },
};

export const OPENAI_EMBEDDINGS: BodyFormatHandler = {
  ...base,
  outputRequest: () => NO_OUTPUT,
  requestSegments(doc) {
    const sink = new SegmentSink();
    stringOrList(sink, doc.input, ['input'], 'user');
    return sink.out;
  },
  responseSegments: () => [],
};

export const OPENAI_MODERATIONS: BodyFormatHandler = OPENAI_EMBEDDINGS;

export const OPENAI_RESPONSES: BodyFormatHandler = {
  ...base,
  outputRequest: (doc) => ({ maxTokens: largestCap(doc.max_output_tokens), choices: 1 }),
  requestSegments(doc) {
    const sink = new SegmentSink();
    sink.text(doc.instructions, ['instructions'], 'system');
    if (typeof doc.input === 'string') sink.text(doc.input, ['input'], 'user');
    else responsesItems(sink, doc.input, ['input']);
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    responsesItems(sink, asObject(doc)?.output, ['output']);
    return sink.out;
  },
};

