// Per-response SSE processing for the response_body phase: call push() with each chunk Envoy sends and
// forward the returned bytes. Events are re-framed whole; text deltas go through the leak scanner (mask
// before release) and then the placeholder restorer, per channel. Events without deltas pass byte-identical.
// When the leak scanner cannot mask a finding in time, `failed` is set, nothing more is released, and the
// caller must fail the stream (reset it) instead of ending it cleanly.
import type { Scanner } from '../detectors/scanner.ts';
import type { RestoreMap } from './restore-map.ts';
import { channelEnded, eventDeltas, parseEvent, splitEvents } from './sse-events.ts';
import { StreamLeakScanner, type StreamFinding, type StreamScanOptions } from './stream-scanner.ts';
import { StreamRestorer, type ChannelTransform } from './stream-restorer.ts';

export interface SseStreamOptions extends StreamScanOptions {
  /** Scan deltas for leaked secrets and mask them (omit to only restore). */
  readonly scanner?: Scanner;
  /** Restore the request's placeholders (omit to only scan). */
  readonly restore?: RestoreMap;
  /** Called with each parsed event document (e.g. to count usage in the same pass). */
  readonly onEvent?: (doc: unknown) => void;
}

export interface SseChunkResult {
  /** Bytes to forward now (possibly empty while text is held back). */
  readonly output: Buffer;
  /** Leak findings released (masked) in this call, or the one that failed the stream. */
  readonly findings: readonly StreamFinding[];
  /** The stream must be failed closed: a finding could not be masked before release. */
  readonly failed: boolean;
}

interface Template {
  readonly name: string | undefined;
  readonly doc: unknown;
}

class Pipeline implements ChannelTransform {
  readonly #stages: ChannelTransform[];
  constructor(stages: ChannelTransform[]) {
    this.#stages = stages;
  }
  push(channel: string, text: string): string {
    return this.#stages.reduce((t, s) => s.push(channel, t), text);
  }
  flush(channel: string): string {
    let t = '';
    for (const s of this.#stages) t = s.push(channel, t) + s.flush(channel);
    return t;
  }
  held(): string[] {
    return [...new Set(this.#stages.flatMap((s) => s.held()))];
  }
}

function serialise(name: string | undefined, doc: unknown): Buffer {
  return Buffer.from(`${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(doc)}\n\n`, 'utf8');
}

export class SseStream {
  readonly #leak: StreamLeakScanner | undefined;
  readonly #pipe: Pipeline;
  readonly #onEvent: ((doc: unknown) => void) | undefined;
  readonly #templates = new Map<string, Template>();
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
      this.#event(ev, out);
      if (this.#hasFailed()) return this.#result([]);
    }
    if (endOfStream) {
      this.#ended = true;
      if (this.#rest.length > 0) this.#event(this.#rest, out);
      this.#rest = Buffer.alloc(0);
      this.#flushAll(out);
      if (this.#hasFailed()) return this.#result([]);
    }
    return this.#result(out);
  }

  #result(out: Buffer[]): SseChunkResult {
    const all = this.findings;
    const findings = all.slice(this.#reported);
    this.#reported = all.length;
    return { output: this.failed ? Buffer.alloc(0) : Buffer.concat(out), findings, failed: this.failed };
  }

  #event(raw: Buffer, out: Buffer[]): void {
    const parsed = parseEvent(raw.toString('utf8'));
    if (parsed === undefined) {
      out.push(raw);
      return;
    }
    if (parsed.data.trim() === '[DONE]') {
      this.#flushAll(out);
      out.push(raw);
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(parsed.data);
    } catch {
      out.push(raw);
      return;
    }
    this.#onEvent?.(doc);
    const { fields, ends, final } = eventDeltas(doc);
    if (final) this.#flushAll(out);
    let changed = false;
    const carried = new Set<string>();
    for (const f of fields) {
      if (!this.#templates.has(f.channel)) this.#templates.set(f.channel, { name: parsed.name, doc: structuredClone(doc) });
      const before = f.holder[f.key] as string;
      let after = this.#pipe.push(f.channel, before);
      if (channelEnded(f.channel, ends)) {
        after += this.#pipe.flush(f.channel);
        carried.add(f.channel);
      }
      if (after !== before) {
        f.holder[f.key] = after;
        changed = true;
      }
    }
    // Channels that end here without a delta of their own: release their held text in a synthetic delta first.
    for (const ch of this.#pipe.held()) if (!carried.has(ch) && channelEnded(ch, ends)) this.#synthesise(ch, this.#pipe.flush(ch), out);
    out.push(changed ? serialise(parsed.name, doc) : raw);
  }

  #flushAll(out: Buffer[]): void {
    for (const ch of this.#pipe.held()) this.#synthesise(ch, this.#pipe.flush(ch), out);
  }

  /** An event shaped like the channel's first delta event, carrying `text` and nothing else. */
  #synthesise(channel: string, text: string, out: Buffer[]): void {
    if (text === '' || this.failed) return;
    const t = this.#templates.get(channel);
    if (t === undefined) return;
    const doc = structuredClone(t.doc);
    const { fields } = eventDeltas(doc);
    let placed = false;
    for (const f of fields) {
      if (f.channel === channel && !placed) {
        f.holder[f.key] = text;
        placed = true;
      } else f.holder[f.key] = '';
    }
    clearFinish(doc);
    out.push(serialise(t.name, doc));
  }
}

/** A synthetic delta must not end its choice/candidate early. */
function clearFinish(doc: unknown): void {
  if (typeof doc !== 'object' || doc === null) return;
  const d = doc as Record<string, unknown>;
  for (const key of ['choices', 'candidates']) {
    const list = d[key];
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (typeof item !== 'object' || item === null) continue;
      const o = item as Record<string, unknown>;
      if ('finish_reason' in o) o['finish_reason'] = null;
      delete o['finishReason'];
    }
  }
  delete d['usage'];
  delete d['usageMetadata'];
}
