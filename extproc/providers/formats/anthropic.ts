// Anthropic Messages (also the body of Bedrock InvokeModel for Claude, and of Vertex rawPredict).
// Thinking and redacted_thinking blocks are signed by the provider: never emitted as segments.
import type { SegmentRole } from '../../core/content.ts';
import { asArray, asCount, asObject, asString, SegmentSink, type Json } from '../shared/json-walk.ts';
import { largestCap } from '../shared/output-request.ts';
import { sum, type UsageParts } from '../shared/usage.ts';
import type { BodyFormatHandler } from './format.ts';

function blocks(sink: SegmentSink, content: Json, path: (string | number)[], role: SegmentRole): void {
  if (typeof content === 'string') {
    sink.text(content, path, role);
    return;
  }
  asArray(content).forEach((b, j) => {
    const block = asObject(b);
    if (block === undefined) return;
    const p = [...path, j];
    switch (asString(block.type)) {
      case 'text':
        sink.text(block.text, [...p, 'text'], role);
        break;
      case 'tool_use':
      case 'server_tool_use':
        sink.leaves(block.input, [...p, 'input'], 'tool_call');
        break;
      case 'tool_result':
        blocks(sink, block.content, [...p, 'content'], 'tool');
        break;
      case 'document': {
        const source = asObject(block.source);
        if (asString(source?.type) === 'text') sink.text(source?.data, [...p, 'source', 'data'], role);
        else if (asString(source?.type) === 'content') blocks(sink, source?.content, [...p, 'source', 'content'], role);
        break;
      }
      default:
        // thinking, redacted_thinking (signed), image, search results: not text we may touch.
        break;
    }
  });
}

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
  requestSegments(doc) {
    const sink = new SegmentSink();
    blocks(sink, doc.system, ['system'], 'system');
    asArray(doc.messages).forEach((m, i) => {
      const msg = asObject(m);
      if (msg === undefined) return;
      blocks(sink, msg.content, ['messages', i, 'content'], msg.role === 'assistant' ? 'assistant' : 'user');
    });
    return sink.out;
  },
  responseSegments(doc) {
    const sink = new SegmentSink();
    blocks(sink, asObject(doc)?.content, ['content'], 'assistant');
    return sink.out;
  },
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
