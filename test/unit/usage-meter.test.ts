// The usage meter's view of a stream's end: whether the terminal event has passed (so a client that closes
// right after it completed the request), per format, whatever the chunk boundaries; and the usage seen by then.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANTHROPIC_MESSAGES } from '../../extproc/providers/formats/anthropic.ts';
import { BEDROCK_CONVERSE } from '../../extproc/providers/formats/bedrock.ts';
import { OPENAI_CHAT, OPENAI_RESPONSES } from '../../extproc/providers/formats/openai.ts';
import { encodeEventStreamMessage } from '../../extproc/providers/shared/eventstream.ts';
import { newUsageMeter } from '../../extproc/providers/shared/usage-meter.ts';

/** Feeds `text` one byte at a time (the worst split) and reports complete() before and after the last byte. */
function feedSse(meter: ReturnType<typeof newUsageMeter>, text: string): { beforeLast: boolean; after: boolean } {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length - 1; i++) meter.onSseChunk(bytes.subarray(i, i + 1));
  const beforeLast = meter.complete();
  meter.onSseChunk(bytes.subarray(bytes.length - 1));
  return { beforeLast, after: meter.complete() };
}

describe('usage meter: the terminal event', () => {
  it('OpenAI chat: data: [DONE] completes; the usage chunk before it is kept', () => {
    const m = newUsageMeter(OPENAI_CHAT, 'sse');
    const body = `data: ${JSON.stringify({ choices: [{ delta: { content: 'hi' } }] })}\n\ndata: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } })}\n\ndata: [DONE]\n\n`;
    assert.deepEqual(feedSse(m, body), { beforeLast: false, after: true });
    assert.deepEqual(m.usage(), { inputTokens: 5, outputTokens: 7, totalTokens: 12 });
  });

  it('OpenAI chat: a stream cut before [DONE] is not complete; text that mentions [DONE] is not the end', () => {
    const m = newUsageMeter(OPENAI_CHAT, 'sse');
    m.onSseChunk(Buffer.from(`data: ${JSON.stringify({ choices: [{ delta: { content: 'data: [DONE]' } }] })}\n\n`));
    assert.equal(m.complete(), false);
  });

  it('Anthropic: event message_stop completes', () => {
    const m = newUsageMeter(ANTHROPIC_MESSAGES, 'sse');
    const body = `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', usage: { output_tokens: 9 } })}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`;
    assert.deepEqual(feedSse(m, body), { beforeLast: false, after: true });
  });

  it('OpenAI Responses: event response.completed completes', () => {
    const m = newUsageMeter(OPENAI_RESPONSES, 'sse');
    const body = `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } } })}\n\n`;
    assert.deepEqual(feedSse(m, body), { beforeLast: false, after: true });
    assert.deepEqual(m.usage(), { inputTokens: 3, outputTokens: 4, totalTokens: 7 });
  });

  it('Bedrock ConverseStream: the metadata event completes', () => {
    const m = newUsageMeter(BEDROCK_CONVERSE, 'aws-event-stream');
    const event = (type: string, doc: object): Buffer => encodeEventStreamMessage({ ':message-type': 'event', ':event-type': type, ':content-type': 'application/json' }, Buffer.from(JSON.stringify(doc)));
    m.onSseChunk(event('messageStop', { stopReason: 'end_turn' }));
    assert.equal(m.complete(), false);
    m.onSseChunk(event('metadata', { usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 } }));
    assert.equal(m.complete(), true);
    assert.deepEqual(m.usage(), { inputTokens: 2, outputTokens: 3, totalTokens: 5 });
  });
});
