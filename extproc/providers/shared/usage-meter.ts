// Reads usage from a response: a buffered body, or stream chunks as they pass (SSE or AWS event-stream).
import type { Usage } from '../../core/request-context.ts';
import type { BodyFormatHandler } from '../formats/format.ts';
import { EventStreamReader } from './eventstream.ts';
import { SseReader } from './sse.ts';
import type { JsonValue } from './strict-json.ts';
import { UsageTally } from './usage.ts';

export interface UsageMeter {
  /** A complete buffered response body. Never throws. */
  onBody(body: Buffer): void;
  /** A complete buffered response body the caller already parsed (the response is parsed once). Never throws. */
  onDocument(doc: JsonValue): void;
  /** One chunk of a streamed response, in order. Never throws; memory stays bounded. */
  onSseChunk(chunk: Buffer): void;
  /** The usage seen so far, if any. */
  usage(): Usage | undefined;
  /**
   * Whether the stream's terminal event has passed: `data: [DONE]` (OpenAI chat and completions),
   * `message_stop` (Anthropic), `response.completed` (OpenAI Responses), `metadata` (Bedrock ConverseStream).
   */
  complete(): boolean;
}

const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['message_stop', 'response.completed']);

const parse = (text: string): JsonValue | undefined => {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
};

// Usage fields are named "usage", "usageMetadata" or "invocationMetrics" (inside base64 for Bedrock invoke
// streams, which are decoded only for `chunk` events): a cheap test skips parsing the other events.
const mayHoldUsage = (data: string): boolean => data.includes('sage') || data.includes('"bytes"');

class Meter implements UsageMeter {
  readonly #format: BodyFormatHandler | undefined;
  readonly #framing: 'sse' | 'aws-event-stream';
  readonly #tally = new UsageTally();
  #sse: SseReader | undefined;
  #events: EventStreamReader | undefined;
  #complete = false;

  constructor(format: BodyFormatHandler | undefined, framing: 'sse' | 'aws-event-stream') {
    this.#format = format;
    this.#framing = framing;
  }

  onBody(body: Buffer): void {
    if (this.#format === undefined) return;
    const doc = parse(body.toString('utf8'));
    if (doc !== undefined) this.#tally.merge(this.#format.usage(doc));
  }

  onDocument(doc: JsonValue): void {
    if (this.#format !== undefined) this.#tally.merge(this.#format.usage(doc));
  }

  onSseChunk(chunk: Buffer): void {
    const format = this.#format;
    if (format === undefined) return;
    if (this.#framing === 'aws-event-stream') {
      this.#events ??= new EventStreamReader();
      for (const m of this.#events.push(chunk)) {
        if (m.headers.get(':message-type') !== 'event') continue;
        if (m.headers.get(':event-type') === 'metadata') this.#complete = true;
        const data = m.payload.toString('utf8');
        if (!mayHoldUsage(data)) continue;
        const doc = parse(data);
        if (doc !== undefined) this.#tally.merge(format.streamUsage(m.headers.get(':event-type'), doc));
      }
      return;
    }
    this.#sse ??= new SseReader();
    for (const e of this.#sse.push(chunk)) {
      if (e.data === '[DONE]' || (e.event !== undefined && TERMINAL_EVENTS.has(e.event))) this.#complete = true;
      if (!mayHoldUsage(e.data)) continue;
      const doc = parse(e.data);
      if (doc !== undefined) this.#tally.merge(format.streamUsage(e.event, doc));
    }
  }

  usage(): Usage | undefined {
    return this.#tally.result();
  }

  complete(): boolean {
    return this.#complete;
  }
}

export function newUsageMeter(format: BodyFormatHandler | undefined, framing: 'sse' | 'aws-event-stream'): UsageMeter {
  return new Meter(format, framing);
}
