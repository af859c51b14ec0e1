// SSE framing and the text deltas inside events, for the stream restorer and the stream leak scanner.
// Channels keep the text of one choice / content block / candidate apart, so a value split across
// consecutive events of the same channel is seen whole.
import { dropLegacyDetail, dropTokenDetail, legacyTokens } from './response-leaves.ts';

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
  /** Called when the field's text changed (a logprobs token drops its `bytes` and alternatives, which could spell the old text). */
  readonly onChange?: () => void;
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
 * Channels of signed reasoning text (Anthropic thinking, Bedrock reasoningContent): leaks are masked there, but
 * placeholders are not restored, because the caller sends these blocks back verbatim and the provider checks them
 * against their signature.
 */
export const SIGNED = '#signed';
export const isSignedChannel = (channel: string): boolean => channel.endsWith(SIGNED);

/** Logprobs entries ({token, ...}) as token deltas on their own channel. */
function tokenFields(list: unknown, channel: string, fields: DeltaField[]): void {
  if (!Array.isArray(list)) return;
  for (const e of list) if (isObj(e) && typeof e['token'] === 'string') fields.push({ channel, holder: e, key: 'token', onChange: () => { dropTokenDetail(e); } });
}

/** Legacy completions logprobs: each entry of `tokens` is a delta of its own channel; a changed one loses its alternatives. */
function legacyTokenFields(lp: Record<string, unknown>, channel: string, fields: DeltaField[]): void {
  const tokens = legacyTokens(lp);
  if (tokens === undefined) return;
  const holder = tokens as unknown as Record<string, unknown>;
  tokens.forEach((_, j) => { fields.push({ channel, holder, key: String(j), onChange: () => { dropLegacyDetail(lp, j); } }); });
}

/** Text-bearing delta keys of an OpenAI chat `delta` besides `content` (reasoning of vLLM, DeepSeek, Ollama; refusals). */
const CHAT_TEXT_KEYS = ['reasoning_content', 'reasoning', 'refusal'] as const;

/**
 * The text deltas of one event in the OpenAI chat, OpenAI Responses, Anthropic Messages and Gemini stream formats.
 * OpenAI: choices[i].delta.content, .reasoning_content, .reasoning, .refusal, .audio.transcript,
 * .tool_calls[j].function.arguments and the logprobs tokens (content and refusal); Responses: *.delta (but
 * response.audio.delta, which is base64 audio) and the logprobs tokens of output_text deltas; Anthropic:
 * content_block_delta text_delta.text, thinking_delta.thinking and input_json_delta.partial_json; Gemini:
 * candidates[i].content.parts[j].text, thoughts on their own channel. Every other string in an event is scanned
 * whole (response-leaves.ts).
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
      // Completions: the choice's own `text` is the delta.
      if (typeof ch['text'] === 'string') fields.push({ channel: `c${idx}`, holder: ch, key: 'text' });
      if (isObj(delta)) {
        if (typeof delta['content'] === 'string') fields.push({ channel: `c${idx}`, holder: delta, key: 'content' });
        for (const key of CHAT_TEXT_KEYS) if (typeof delta[key] === 'string') fields.push({ channel: `c${idx}:${key}`, holder: delta, key });
        const audio = delta['audio'];
        if (isObj(audio) && typeof audio['transcript'] === 'string') fields.push({ channel: `c${idx}:audio`, holder: audio, key: 'transcript' });
        if (Array.isArray(delta['tool_calls'])) {
          delta['tool_calls'].forEach((tc: unknown, j) => {
            if (!isObj(tc) || !isObj(tc['function'])) return;
            const fn = tc['function'];
            const ti = typeof tc['index'] === 'number' ? tc['index'] : j;
            if (typeof fn['arguments'] === 'string') fields.push({ channel: `c${idx}t${ti}`, holder: fn, key: 'arguments' });
          });
        }
      }
      const lp = ch['logprobs'];
      if (isObj(lp)) {
        tokenFields(lp['content'], `c${idx}:lp`, fields);
        tokenFields(lp['refusal'], `c${idx}:lpr`, fields);
        legacyTokenFields(lp, `c${idx}:lpt`, fields);
      }
      if (ch['finish_reason'] !== null && ch['finish_reason'] !== undefined) ends.push(`c${idx}`, `c${idx}t*`, `c${idx}:*`);
    });
    return { fields, ends, final: false };
  }
  if (type === 'content_block_delta' && isObj(doc['delta'])) {
    const d = doc['delta'];
    const ch = `b${JSON.stringify(doc['index'] ?? null)}`;
    if (d['type'] === 'text_delta' && typeof d['text'] === 'string') fields.push({ channel: ch, holder: d, key: 'text' });
    if (d['type'] === 'thinking_delta' && typeof d['thinking'] === 'string') fields.push({ channel: `${ch}${SIGNED}`, holder: d, key: 'thinking' });
    if (d['type'] === 'input_json_delta' && typeof d['partial_json'] === 'string') fields.push({ channel: ch, holder: d, key: 'partial_json' });
    return { fields, ends, final: false };
  }
  if (type === 'content_block_stop') {
    const ch = `b${JSON.stringify(doc['index'] ?? null)}`;
    return { fields, ends: [ch, `${ch}${SIGNED}`], final: false };
  }
  if (type === 'message_stop' || type === 'response.completed' || type === 'response.failed' || type === 'response.incomplete') return { fields, ends, final: true };
  if (typeof type === 'string' && type.startsWith('response.') && type.endsWith('.delta') && type !== 'response.audio.delta' && typeof doc['delta'] === 'string') {
    const ch = `r${JSON.stringify(doc['output_index'] ?? null)}:${JSON.stringify(doc['content_index'] ?? null)}:${type}`;
    fields.push({ channel: ch, holder: doc, key: 'delta' });
    tokenFields(doc['logprobs'], `${ch}:lp`, fields);
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
          if (isObj(part) && typeof part['text'] === 'string') fields.push({ channel: part['thought'] === true ? `g${idx}:thought` : `g${idx}`, holder: part, key: 'text' });
        });
      }
      if (typeof cand['finishReason'] === 'string') ends.push(`g${idx}`, `g${idx}:*`);
    });
  }
  return { fields, ends, final: false };
}

/** Text keys of the model events Bedrock's invoke-with-response-stream wraps for models other than Claude Messages. */
const INVOKE_TEXT_KEYS = ['completion', 'outputText', 'generation', 'text'] as const;

/**
 * The text deltas of one model event inside a Bedrock invoke-with-response-stream chunk: Anthropic Messages events
 * (those with a "type") as in SSE; otherwise the top-level `completion` (Claude text completions), `outputText`
 * (Titan), `generation` (Llama), `text`, and `outputs[].text` (Mistral), one channel per key.
 */
export function invokeDeltas(doc: unknown): EventDeltas {
  if (!isObj(doc) || typeof doc['type'] === 'string') return eventDeltas(doc);
  const fields: DeltaField[] = [];
  for (const key of INVOKE_TEXT_KEYS) if (typeof doc[key] === 'string') fields.push({ channel: `i:${key}`, holder: doc, key });
  if (Array.isArray(doc['outputs'])) {
    doc['outputs'].forEach((o: unknown, k) => {
      if (isObj(o) && typeof o['text'] === 'string') fields.push({ channel: `i:outputs${k}`, holder: o, key: 'text' });
    });
  }
  return { fields, ends: [], final: false };
}

/**
 * The text deltas of one Bedrock ConverseStream event (the event type is the frame's `:event-type` header):
 * contentBlockDelta's delta.text, delta.toolUse.input and delta.reasoningContent.text, per content block.
 */
export function converseDeltas(eventType: string | undefined, doc: unknown): EventDeltas {
  const fields: DeltaField[] = [];
  if (!isObj(doc)) return { fields, ends: [], final: false };
  const ch = `k${JSON.stringify(doc['contentBlockIndex'] ?? null)}`;
  if (eventType === 'contentBlockDelta' && isObj(doc['delta'])) {
    const d = doc['delta'];
    if (typeof d['text'] === 'string') fields.push({ channel: ch, holder: d, key: 'text' });
    const tool = d['toolUse'];
    if (isObj(tool) && typeof tool['input'] === 'string') fields.push({ channel: `${ch}:tool`, holder: tool, key: 'input' });
    const reasoning = d['reasoningContent'];
    if (isObj(reasoning) && typeof reasoning['text'] === 'string') fields.push({ channel: `${ch}:reasoning${SIGNED}`, holder: reasoning, key: 'text' });
    return { fields, ends: [], final: false };
  }
  if (eventType === 'contentBlockStop') return { fields, ends: [ch, `${ch}:*`], final: false };
  return { fields, ends: [], final: eventType === 'messageStop' };
}

/** Whether `channel` is ended by an `ends` entry (exact, or a "prefix*" wildcard). */
export function channelEnded(channel: string, ends: readonly string[]): boolean {
  return ends.some((e) => (e.endsWith('*') ? channel.startsWith(e.slice(0, -1)) : channel === e));
}
