// An incremental server-sent-events reader: feed chunks as they pass; complete events come out, whatever
// the chunk boundaries. Memory is bounded: an event larger than the cap is dropped (and counted).

export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
}

export const SSE_MAX_EVENT_BYTES = 1 << 20;

export class SseReader {
  readonly #max: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipLine = false;
  #skipEvent = false;
  #event: string | undefined;
  #data: string[] = [];
  #dataBytes = 0;
  /** Events dropped because they exceeded the cap. */
  dropped = 0;

  constructor(maxEventBytes = SSE_MAX_EVENT_BYTES) {
    this.#max = maxEventBytes;
  }

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: Buffer): SseEvent[] {
    const events: SseEvent[] = [];
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      const part = chunk.subarray(from, nl);
      from = nl + 1;
      if (this.#skipLine) {
        this.#skipLine = false;
        this.#pending = [];
        this.#pendingBytes = 0;
        continue;
      }
      const line = this.#pendingBytes === 0 ? part : Buffer.concat([...this.#pending, part]);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#line(line, events);
    }
    const rest = chunk.subarray(from);
    if (rest.length > 0 && !this.#skipLine) {
      if (this.#pendingBytes + rest.length > this.#max) this.#overflow(true);
      else {
        this.#pending.push(Buffer.from(rest));
        this.#pendingBytes += rest.length;
      }
    }
    return events;
  }

  #overflow(partialLine: boolean): void {
    this.#skipEvent = true;
    if (partialLine) this.#skipLine = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#data = [];
    this.#dataBytes = 0;
    this.dropped++;
  }

  #line(raw: Buffer, events: SseEvent[]): void {
    const end = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.length - 1 : raw.length;
    if (end === 0) {
      if (!this.#skipEvent && this.#data.length > 0) events.push({ event: this.#event, data: this.#data.join('\n') });
      this.#event = undefined;
      this.#data = [];
      this.#dataBytes = 0;
      this.#skipEvent = false;
      return;
    }
    if (this.#skipEvent) return;
    const line = raw.toString('utf8', 0, end);
    const colon = line.indexOf(':');
    if (colon === 0) return; // comment
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.#dataBytes += value.length;
      if (this.#dataBytes > this.#max) this.#overflow(false);
      else this.#data.push(value);
    } else if (field === 'event') this.#event = value;
  }
}
