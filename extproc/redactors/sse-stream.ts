// Per-response SSE processing for the response_body phase: call push() with each chunk Envoy sends and
// forward the returned bytes. Events are re-framed whole; text deltas go through the leak scanner (mask
// before release) and then the placeholder restorer, per channel.
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
import type { Scanner } from '../detectors/scanner.ts';
import type { RestoreMap } from './restore-map.ts';
import { channelEnded, eventDeltas, parseEvent, splitEvents, type DeltaField } from './sse-events.ts';
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
  readonly name: string | undefined;
  readonly doc: unknown;
  /** The event's text fields, each with its own tag (index into #fields). */
  readonly first: number;
  readonly count: number;
}

interface FieldOut {
  readonly field: DeltaField;
  readonly input: string;
  output: string;
}

/** The stages in order (leak scan, then restore); a channel's text passes through each. */
class Pipeline {
  readonly #stages: ChannelTransform[];
  constructor(stages: ChannelTransform[]) {
    this.#stages = stages;
  }
  push(channel: string, runs: readonly Run[]): Run[] {
    return this.#stages.reduce<Run[]>((r, s) => s.push(channel, r), [...runs]);
  }
  flush(channel: string): Run[] {
    let r: Run[] = [];
    for (const s of this.#stages) r = [...s.push(channel, r), ...s.flush(channel)];
    return r;
  }
  /** Forces everything out of a channel that goes on (the leak scanner keeps it as context). */
  force(channel: string): Run[] {
    let r: Run[] = [];
    for (const s of this.#stages) r = [...s.push(channel, r), ...(s instanceof StreamLeakScanner ? s.force(channel) : s.flush(channel))];
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

export class SseStream {
  readonly #leak: StreamLeakScanner | undefined;
  readonly #pipe: Pipeline;
  readonly #onEvent: ((doc: unknown) => void) | undefined;
  readonly #maxQueueBytes: number;
  /** Events not yet forwarded, oldest first. */
  readonly #queue: Queued[] = [];
  #queueBytes = 0;
  /** Text fields of queued events by tag; tag = #base + index. */
  readonly #fields: FieldOut[] = [];
  #base = 0;
  #rest: Buffer = Buffer.alloc(0);
  #reported = 0;
  #ended = false;

  constructor(options: SseStreamOptions) {
    const stages: ChannelTransform[] = [];
    if (options.scanner !== undefined) {
      this.#leak = new StreamLeakScanner(options.scanner, options);
      stages.push(this.#leak);
    }
    if (options.restore !== undefined) stages.push(new StreamRestorer(options.restore));
    this.#pipe = new Pipeline(stages);
    this.#onEvent = options.onEvent;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
  }

  get failed(): boolean {
    return this.#hasFailed();
  }

  #hasFailed(): boolean {
    return this.#leak?.failed ?? false;
  }

  /** All leak findings so far (types and offsets only). */
  get findings(): readonly StreamFinding[] {
    return this.#leak?.findings ?? [];
  }

  push(chunk: Buffer, endOfStream = false): SseChunkResult {
    if (this.#ended || this.failed) return this.#result([]);
    const searched = this.#rest.length;
    const buf = searched === 0 ? chunk : Buffer.concat([this.#rest, chunk]);
    const { events, rest } = splitEvents(buf, searched);
    this.#rest = Buffer.from(rest);
    const out: Buffer[] = [];
    for (const ev of events) {
      this.#event(ev);
      if (this.#hasFailed()) return this.#result([]);
      this.#drain(out);
    }
    if (endOfStream) {
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

  #enqueue(raw: Buffer, name: string | undefined, doc: unknown, fields: readonly DeltaField[]): number {
    const first = this.#base + this.#fields.length;
    for (const field of fields) {
      const input = field.holder[field.key] as string;
      this.#fields.push({ field, input, output: '' });
    }
    this.#queue.push({ raw, name, doc, first, count: fields.length });
    this.#queueBytes += raw.length;
    return first;
  }

  #event(raw: Buffer): void {
    const parsed = parseEvent(raw.toString('utf8'));
    if (parsed === undefined) {
      this.#enqueue(raw, undefined, undefined, []);
      return;
    }
    if (parsed.data.trim() === '[DONE]') {
      this.#flushAll();
      this.#enqueue(raw, undefined, undefined, []);
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(parsed.data);
    } catch {
      this.#enqueue(raw, undefined, undefined, []);
      return;
    }
    this.#onEvent?.(doc);
    const { fields, ends, final } = eventDeltas(doc);
    if (final) this.#flushAll();
    const first = this.#enqueue(raw, parsed.name, doc, fields);
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
      let changed = false;
      for (const f of mine) {
        if (f.output !== f.input) {
          f.field.holder[f.field.key] = f.output;
          changed = true;
        }
      }
      out.push(changed ? serialise(ev.name, ev.doc) : ev.raw);
    }
  }
}
