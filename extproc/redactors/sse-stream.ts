// Per-response stream processing for the response_body phase: call push() with each chunk Envoy sends and
// forward the returned bytes. SSE events, or AWS event-stream frames (Bedrock's converse-stream and
// invoke-with-response-stream; the JSON payload, or for invoke the model event in its base64 `bytes`), are
// re-framed whole; text deltas go through the leak scanner (mask before release) and then the placeholder
// restorer, per channel. Every other string leaf of every event is scanned whole and masked in place, then
// restored (response-leaves.ts); a finding in a protected field (a signature, an id, encrypted reasoning) fails
// the stream. Event text that is not JSON is scanned as text: a finding in it fails the stream, as does an
// event-stream frame that cannot be decoded (bad CRC, bad headers, oversized).
//
// Order: events leave in the order they arrived. An event whose text is still held back (a value may still be
// growing across it) waits, and every later event waits behind it, so nothing overtakes held text. Released text
// goes back into the event field it arrived in (text is tagged with its origin, tagged-text.ts); a mask or a
// restored value that spans several deltas goes into the earliest of them and the later ones shrink. An event
// whose fields come out unchanged is forwarded byte-identical, so a clean stream passes byte for byte.
//
// Bounds: held text per channel is bounded by the stages (maxHoldBack, longest placeholder). Events queued
// behind held text are bounded by maxQueueBytes: past it, held text is forced out (the leak scanner keeps it as
// context and fails the stream if a finding later reaches back into it).
// When the leak scanner cannot mask a finding in time, `failed` is set, nothing more is released, and the
// caller must fail the stream (reset it) instead of ending it cleanly.
import { ScanBudget, ScanLimitError } from '../detectors/scan-limits.ts';
import type { Scanner } from '../detectors/scanner.ts';
import { EventStreamReader, encodeEventStreamFrame, type EventStreamMessage } from '../providers/shared/eventstream.ts';
import type { ProtectedTest } from './protected-fields.ts';
import { processLeaves } from './response-leaves.ts';
import type { RestoreMap } from './restore-map.ts';
import { channelEnded, converseDeltas, eventDeltas, invokeDeltas, isSignedChannel, parseEvent, splitEvents, type DeltaField, type EventDeltas } from './sse-events.ts';
import { StreamLeakScanner, type StreamFinding, type StreamScanOptions } from './stream-scanner.ts';
import { StreamRestorer, type ChannelTransform } from './stream-restorer.ts';
import type { Run } from './tagged-text.ts';

export interface SseStreamOptions extends StreamScanOptions {
  /** Scan deltas for leaked secrets and mask them (omit to only restore). */
  readonly scanner?: Scanner;
  /** Restore the request's placeholders (omit to only scan). */
  readonly restore?: RestoreMap;
  /** Called with each parsed event document (e.g. to count usage in the same pass). */
  readonly onEvent?: (doc: unknown) => void;
  /** Bytes of events that may wait behind held text before it is forced out (default 1 MiB). */
  readonly maxQueueBytes?: number;
  /** Fields scanned but never changed; a finding in one fails the stream (default: ids only). */
  readonly isProtected?: ProtectedTest;
  /** How events are framed (default "sse"). */
  readonly framing?: 'sse' | 'aws-event-stream';
}

export interface SseChunkResult {
  /** Bytes to forward now (possibly empty while text is held back). */
  readonly output: Buffer;
  /** Leak findings released (masked) in this call, or the one that failed the stream. */
  readonly findings: readonly StreamFinding[];
  /** The stream must be failed closed: a finding could not be masked before release. */
  readonly failed: boolean;
}

/** One event waiting to be forwarded. */
interface Queued {
  readonly raw: Buffer;
  /** The event's bytes after its fields changed (undefined: forward `raw`). */
  readonly encode: (() => Buffer) | undefined;
  /** A string leaf outside the deltas was masked or restored: the event must be encoded again. */
  readonly changed: boolean;
  /** The event's text fields, each with its own tag (index into #fields). */
  readonly first: number;
  readonly count: number;
}

interface FieldOut {
  readonly field: DeltaField;
  readonly input: string;
  output: string;
}

/**
 * The stages in order (leak scan, then restore); a channel's text passes through each. The restorer skips
 * signed channels (their text goes back to the provider verbatim): held text of theirs is only ever scanned.
 */
class Pipeline {
  readonly #stages: ChannelTransform[];
  readonly #restorer: ChannelTransform | undefined;
  constructor(stages: ChannelTransform[], restorer: ChannelTransform | undefined) {
    this.#stages = stages;
    this.#restorer = restorer;
  }
  #of(channel: string): ChannelTransform[] {
    return this.#restorer === undefined || !isSignedChannel(channel) ? this.#stages : this.#stages.filter((s) => s !== this.#restorer);
  }
  push(channel: string, runs: readonly Run[]): Run[] {
    return this.#of(channel).reduce<Run[]>((r, s) => s.push(channel, r), [...runs]);
  }
  flush(channel: string): Run[] {
    let r: Run[] = [];
    for (const s of this.#of(channel)) r = [...s.push(channel, r), ...s.flush(channel)];
    return r;
  }
  /** Forces everything out of a channel that goes on (the leak scanner keeps it as context). */
  force(channel: string): Run[] {
    let r: Run[] = [];
    for (const s of this.#of(channel)) r = [...s.push(channel, r), ...(s instanceof StreamLeakScanner ? s.force(channel) : s.flush(channel))];
    return r;
  }
  held(): string[] {
    return [...new Set(this.#stages.flatMap((s) => s.held()))];
  }
  oldestHeld(): number | undefined {
    let min: number | undefined;
    for (const s of this.#stages) {
      const t = s.oldestHeld();
      if (t !== undefined && (min === undefined || t < min)) min = t;
    }
    return min;
  }
}

function serialise(name: string | undefined, doc: unknown): Buffer {
  return Buffer.from(`${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(doc)}\n\n`, 'utf8');
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const idsOnly: ProtectedTest = (key) => typeof key === 'string' && (key === 'id' || key.endsWith('_id'));

/** Parses JSON, or undefined. */
function parseJson(text: string): { doc: unknown } | undefined {
  try {
    return { doc: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

export class SseStream {
  readonly #leak: StreamLeakScanner | undefined;
  readonly #pipe: Pipeline;
  readonly #scanner: Scanner | undefined;
  readonly #restore: RestoreMap | undefined;
  readonly #isProtected: ProtectedTest;
  readonly #onEvent: ((doc: unknown) => void) | undefined;
  readonly #maxQueueBytes: number;
  readonly #frames: EventStreamReader | undefined;
  /** Events not yet forwarded, oldest first. */
  readonly #queue: Queued[] = [];
  #queueBytes = 0;
  /** Text fields of queued events by tag; tag = #base + index. */
  readonly #fields: FieldOut[] = [];
  #base = 0;
  #rest: Buffer = Buffer.alloc(0);
  #reported = 0;
  #ended = false;
  /** Findings outside the delta channels (masked whole, or the one that failed the stream). */
  readonly #whole: StreamFinding[] = [];
  /** Failed for a reason the leak scanner does not know: a protected field, undecodable or unscannable content. */
  #failed = false;
  /** Short strings already scanned clean (ids, model and object names repeat in every event). */
  readonly #clean = new Set<string>();

  constructor(options: SseStreamOptions) {
    const stages: ChannelTransform[] = [];
    if (options.scanner !== undefined) {
      this.#leak = new StreamLeakScanner(options.scanner, options);
      stages.push(this.#leak);
    }
    const restorer = options.restore === undefined ? undefined : new StreamRestorer(options.restore);
    if (restorer !== undefined) stages.push(restorer);
    this.#pipe = new Pipeline(stages, restorer);
    this.#scanner = options.scanner;
    this.#restore = options.restore;
    this.#isProtected = options.isProtected ?? idsOnly;
    this.#onEvent = options.onEvent;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
    this.#frames = options.framing === 'aws-event-stream' ? new EventStreamReader() : undefined;
  }

  get failed(): boolean {
    return this.#hasFailed();
  }

  #hasFailed(): boolean {
    return this.#failed || (this.#leak?.failed ?? false);
  }

  /** All leak findings so far (types and offsets only). */
  get findings(): readonly StreamFinding[] {
    const channel = this.#leak?.findings ?? [];
    return this.#whole.length === 0 ? channel : [...channel, ...this.#whole];
  }

  push(chunk: Buffer, endOfStream = false): SseChunkResult {
    if (this.#ended || this.failed) return this.#result([]);
    const out: Buffer[] = [];
    if (this.#frames !== undefined) {
      for (const m of this.#frames.push(chunk)) {
        this.#frame(m);
        if (this.#hasFailed()) return this.#result([]);
        this.#drain(out);
      }
      // A frame that cannot be decoded, or a stream that ends inside a frame, cannot be scanned.
      if (this.#frames.broken || (endOfStream && this.#frames.pending > 0)) this.#failed = true;
    } else {
      const searched = this.#rest.length;
      const buf = searched === 0 ? chunk : Buffer.concat([this.#rest, chunk]);
      const { events, rest } = splitEvents(buf, searched);
      this.#rest = Buffer.from(rest);
      for (const ev of events) {
        this.#event(ev);
        if (this.#hasFailed()) return this.#result([]);
        this.#drain(out);
      }
    }
    if (endOfStream && !this.#hasFailed()) {
      this.#ended = true;
      if (this.#rest.length > 0) this.#event(this.#rest);
      this.#rest = Buffer.alloc(0);
      this.#flushAll();
      if (this.#hasFailed()) return this.#result([]);
      this.#drain(out);
    }
    return this.#result(out);
  }

  #result(out: Buffer[]): SseChunkResult {
    const all = this.findings;
    const findings = all.slice(this.#reported);
    this.#reported = all.length;
    return { output: this.failed ? Buffer.alloc(0) : Buffer.concat(out), findings, failed: this.failed };
  }

  #enqueue(raw: Buffer, encode: (() => Buffer) | undefined, fields: readonly DeltaField[], changed = false): number {
    const first = this.#base + this.#fields.length;
    for (const field of fields) {
      const input = field.holder[field.key] as string;
      this.#fields.push({ field, input, output: '' });
    }
    this.#queue.push({ raw, encode, changed, first, count: fields.length });
    this.#queueBytes += raw.length;
    return first;
  }

  /** Text that is not JSON (or not an event at all): it cannot be masked in place, so a finding fails the stream. */
  #scanOpaque(text: string): void {
    if (this.#scanner === undefined || text === '') return;
    try {
      const found = this.#scanner.scan(text);
      if (found.length === 0) return;
      const f = found[0];
      if (f !== undefined) this.#whole.push({ detector: f.detector, type: f.type, channel: 'opaque', start: f.start, end: f.end });
    } catch (err) {
      if (!(err instanceof ScanLimitError)) throw err;
    }
    this.#failed = true;
  }

  /**
   * Every string leaf of `docs` outside the delta fields: masked and restored in place (true when one changed),
   * or the stream fails (a finding in a protected field, or over the scan limits).
   */
  #wholeLeaves(docs: readonly unknown[], deltas: readonly DeltaField[]): boolean {
    if (this.#scanner === undefined && this.#restore === undefined) return false;
    const skip = new Map<object, string[]>();
    for (const f of deltas) skip.set(f.holder, [...(skip.get(f.holder) ?? []), f.key]);
    const budget = this.#scanner === undefined ? undefined : new ScanBudget(this.#scanner.limits);
    let changed = false;
    for (const doc of docs) {
      let r;
      try {
        r = processLeaves(doc, { scanner: this.#scanner, restore: this.#restore, isProtected: this.#isProtected, skip: (h, k) => skip.get(h)?.includes(String(k)) === true, tokenLists: true, clean: this.#clean }, budget);
      } catch (err) {
        if (!(err instanceof ScanLimitError)) throw err;
        this.#failed = true;
        return false;
      }
      const found = r.blocked === undefined ? r.masked : [r.blocked];
      for (const f of found) this.#whole.push({ detector: f.detector, type: f.type, channel: 'event', start: f.start, end: f.end });
      if (r.blocked !== undefined) {
        this.#failed = true;
        return false;
      }
      changed ||= r.changed;
    }
    return changed;
  }

  #event(raw: Buffer): void {
    const text = raw.toString('utf8');
    const parsed = parseEvent(text);
    if (parsed === undefined) {
      this.#scanOpaque(text);
      this.#enqueue(raw, undefined, []);
      return;
    }
    if (parsed.data.trim() === '[DONE]') {
      this.#flushAll();
      this.#enqueue(raw, undefined, []);
      return;
    }
    const json = parseJson(parsed.data);
    if (json === undefined) {
      this.#scanOpaque(text);
      this.#enqueue(raw, undefined, []);
      return;
    }
    const { doc } = json;
    this.#onEvent?.(doc);
    const deltas = eventDeltas(doc);
    const changed = this.#wholeLeaves([doc], deltas.fields);
    this.#accept(raw, () => serialise(parsed.name, doc), deltas, changed);
  }

  /**
   * One event-stream frame. Converse: the payload is the event ({"contentBlockIndex", "delta": {...}}), its type in
   * the `:event-type` header. Invoke: the payload is {"bytes": base64}, the model's own event (Anthropic's format
   * for Claude models) inside. Exceptions and errors carry no deltas; their strings are scanned whole.
   */
  #frame(m: EventStreamMessage): void {
    for (const [name, value] of m.headers) if (name !== ':event-type' && name !== ':message-type' && name !== ':content-type') this.#scanOpaque(value);
    if (this.#hasFailed()) return;
    const eventType = m.headers.get(':event-type');
    const json = m.payload.length === 0 ? undefined : parseJson(m.payload.toString('utf8'));
    if (json === undefined || !isObj(json.doc)) {
      this.#scanOpaque(m.payload.toString('utf8'));
      this.#enqueue(m.frame, undefined, []);
      return;
    }
    const payload = json.doc;
    this.#onEvent?.(payload);
    const bytes = payload['bytes'];
    if (typeof bytes === 'string') {
      const inner = parseJson(Buffer.from(bytes, 'base64').toString('utf8'));
      if (inner === undefined) {
        this.#scanOpaque(Buffer.from(bytes, 'base64').toString('utf8'));
        if (this.#hasFailed()) return;
      }
      const deltas = inner === undefined ? { fields: [], ends: [], final: false } : invokeDeltas(inner.doc);
      // The base64 text itself is not scanned as a leaf: its decoded event is.
      const outer = this.#wholeLeaves([payload], [{ channel: '', holder: payload, key: 'bytes' }]);
      const changed = this.#wholeLeaves(inner === undefined ? [] : [inner.doc], deltas.fields) || outer;
      this.#accept(m.frame, () => {
        if (inner !== undefined) payload['bytes'] = Buffer.from(JSON.stringify(inner.doc), 'utf8').toString('base64');
        return encodeEventStreamFrame(m.rawHeaders, Buffer.from(JSON.stringify(payload), 'utf8'));
      }, deltas, changed);
      return;
    }
    const deltas = converseDeltas(eventType, payload);
    const changed = this.#wholeLeaves([payload], deltas.fields);
    this.#accept(m.frame, () => encodeEventStreamFrame(m.rawHeaders, Buffer.from(JSON.stringify(payload), 'utf8')), deltas, changed);
  }

  /** Queues a decoded event and feeds its deltas through the channels. */
  #accept(raw: Buffer, encode: () => Buffer, deltas: EventDeltas, changed: boolean): void {
    if (this.#hasFailed()) return;
    const { fields, ends, final } = deltas;
    if (final) this.#flushAll();
    const first = this.#enqueue(raw, encode, fields, changed);
    const flushed = new Set<string>();
    fields.forEach((f, k) => {
      this.#place(this.#pipe.push(f.channel, [{ tag: first + k, text: this.#fields[first + k - this.#base]?.input ?? '' }]));
      // A channel that ends here releases its held text now, after this event's own delta.
      const last = !fields.slice(k + 1).some((g) => g.channel === f.channel);
      if (last && channelEnded(f.channel, ends)) {
        this.#place(this.#pipe.flush(f.channel));
        flushed.add(f.channel);
      }
    });
    // Channels that end here without a delta of their own: their held text goes back into earlier events.
    for (const ch of this.#pipe.held()) if (!flushed.has(ch) && channelEnded(ch, ends)) this.#place(this.#pipe.flush(ch));
    if (this.#queueBytes > this.#maxQueueBytes) for (const ch of this.#pipe.held()) this.#place(this.#pipe.force(ch));
  }

  #flushAll(): void {
    for (const ch of this.#pipe.held()) this.#place(this.#pipe.flush(ch));
  }

  /** Released text back into the fields it came from. */
  #place(runs: readonly Run[]): void {
    for (const r of runs) {
      const f = this.#fields[r.tag - this.#base];
      if (f !== undefined) f.output += r.text;
    }
  }

  /** Forwards queued events, oldest first, up to the first one that still has text held back. */
  #drain(out: Buffer[]): void {
    if (this.failed) return;
    const oldest = this.#pipe.oldestHeld();
    while (this.#queue.length > 0) {
      const ev = this.#queue[0];
      if (ev === undefined || (oldest !== undefined && oldest < ev.first + ev.count)) break;
      this.#queue.shift();
      this.#queueBytes -= ev.raw.length;
      const mine = this.#fields.splice(0, ev.count);
      this.#base += ev.count;
      let changed = ev.changed;
      for (const f of mine) {
        if (f.output !== f.input) {
          f.field.holder[f.field.key] = f.output;
          f.field.onChange?.();
          changed = true;
        }
      }
      out.push(changed && ev.encode !== undefined ? ev.encode() : ev.raw);
    }
  }
}
