// SSE framing and the text deltas inside events, for the stream restorer and the stream leak scanner.
// Channels keep the text of one choice / content block / candidate apart, so a value split across
// consecutive events of the same channel is seen whole.

/**
 * Splits complete events ("…\n\n" or "…\r\n\r\n") off a byte buffer; returns the events and the remainder.
 * `from` skips bytes already searched in an earlier call (the remainder only grows), keeping framing linear.
 */
export function splitEvents(buf: Buffer, from = 0): { events: Buffer[]; rest: Buffer } {
  const events: Buffer[] = [];
  let at = 0;
  for (let i = Math.max(0, from - 3); i < buf.length - 1; i++) {
    if (buf[i] === 10 && buf[i + 1] === 10) {
      events.push(buf.subarray(at, i + 2));
      at = i + 2;
      i++;
    } else if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
      events.push(buf.subarray(at, i + 4));
      at = i + 4;
      i += 3;
    }
  }
  return { events, rest: buf.subarray(at) };
}

export interface ParsedEvent {
  /** The "event:" line's value, if any. */
  readonly name: string | undefined;
  /** The joined "data:" lines. */
  readonly data: string;
}

export function parseEvent(raw: string): ParsedEvent | undefined {
  let name: string | undefined;
  const data: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith('data:')) data.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5));
    else if (line.startsWith('event:')) name = line.slice(6).trim();
  }
  return data.length === 0 ? undefined : { name, data: data.join('\n') };
}

/** A text delta inside a parsed event: the object holding it, the key, and the channel it belongs to. */
export interface DeltaField {
  readonly channel: string;
  readonly holder: Record<string, unknown>;
  readonly key: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface EventDeltas {
  readonly fields: DeltaField[];
  /** Channels that end with this event (their held-back text must be released in it or before it). */
  readonly ends: string[];
  /** True when the whole stream ends with this event ([DONE], message_stop, response.completed). */
  readonly final: boolean;
}

/**
 * The text deltas of one event in the OpenAI chat, OpenAI Responses, Anthropic Messages and Gemini stream formats.
 * OpenAI: choices[i].delta.content and .tool_calls[j].function.arguments; Responses: *.delta on
 * response.output_text.delta / function_call_arguments.delta; Anthropic: content_block_delta text_delta.text and
 * input_json_delta.partial_json; Gemini: candidates[i].content.parts[j].text.
 */
export function eventDeltas(doc: unknown): EventDeltas {
  const fields: DeltaField[] = [];
  const ends: string[] = [];
  if (!isObj(doc)) return { fields, ends, final: false };
  const type = doc['type'];
  if (Array.isArray(doc['choices'])) {
    doc['choices'].forEach((ch: unknown, k) => {
      if (!isObj(ch)) return;
      const idx = typeof ch['index'] === 'number' ? ch['index'] : k;
      const delta = ch['delta'];
      if (isObj(delta)) {
        if (typeof delta['content'] === 'string') fields.push({ channel: `c${idx}`, holder: delta, key: 'content' });
        if (Array.isArray(delta['tool_calls'])) {
          delta['tool_calls'].forEach((tc: unknown, j) => {
            if (!isObj(tc) || !isObj(tc['function'])) return;
            const fn = tc['function'];
            const ti = typeof tc['index'] === 'number' ? tc['index'] : j;
            if (typeof fn['arguments'] === 'string') fields.push({ channel: `c${idx}t${ti}`, holder: fn, key: 'arguments' });
          });
        }
      }
      if (ch['finish_reason'] !== null && ch['finish_reason'] !== undefined) ends.push(`c${idx}`, `c${idx}t*`);
    });
    return { fields, ends, final: false };
  }
  if (type === 'content_block_delta' && isObj(doc['delta'])) {
    const d = doc['delta'];
    const ch = `b${JSON.stringify(doc['index'] ?? null)}`;
    if (d['type'] === 'text_delta' && typeof d['text'] === 'string') fields.push({ channel: ch, holder: d, key: 'text' });
    if (d['type'] === 'input_json_delta' && typeof d['partial_json'] === 'string') fields.push({ channel: ch, holder: d, key: 'partial_json' });
    return { fields, ends, final: false };
  }
  if (type === 'content_block_stop') return { fields, ends: [`b${JSON.stringify(doc['index'] ?? null)}`], final: false };
  if (type === 'message_stop' || type === 'response.completed' || type === 'response.failed' || type === 'response.incomplete') return { fields, ends, final: true };
  if (typeof type === 'string' && type.startsWith('response.') && type.endsWith('.delta') && typeof doc['delta'] === 'string') {
    const ch = `r${JSON.stringify(doc['output_index'] ?? null)}:${JSON.stringify(doc['content_index'] ?? null)}:${type}`;
    fields.push({ channel: ch, holder: doc, key: 'delta' });
    return { fields, ends, final: false };
  }
  if (typeof type === 'string' && type.startsWith('response.') && type.endsWith('.done')) return { fields, ends: [`r${JSON.stringify(doc['output_index'] ?? null)}:*`], final: false };
  if (Array.isArray(doc['candidates'])) {
    doc['candidates'].forEach((cand: unknown, k) => {
      if (!isObj(cand)) return;
      const idx = typeof cand['index'] === 'number' ? cand['index'] : k;
      const content = cand['content'];
      if (isObj(content) && Array.isArray(content['parts'])) {
        content['parts'].forEach((part: unknown) => {
          if (isObj(part) && typeof part['text'] === 'string' && part['thought'] !== true) fields.push({ channel: `g${idx}`, holder: part, key: 'text' });
        });
      }
      if (typeof cand['finishReason'] === 'string') ends.push(`g${idx}`);
    });
  }
  return { fields, ends, final: false };
}

/** Whether `channel` is ended by an `ends` entry (exact, or a "prefix*" wildcard). */
export function channelEnded(channel: string, ends: readonly string[]): boolean {
  return ends.some((e) => (e.endsWith('*') ? channel.startsWith(e.slice(0, -1)) : channel === e));
}
