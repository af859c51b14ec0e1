// AWS event-stream framing (application/vnd.amazon.eventstream), as Bedrock's converse-stream and
// invoke-with-response-stream send it: [total length u32][headers length u32][prelude CRC32]
// [headers][payload][message CRC32]. Read incrementally, whatever the chunk boundaries; frames larger
// than the cap, or with a bad CRC, stop the reader (it reports `broken`), so memory stays bounded.
import { crc32 } from 'node:zlib';

export interface EventStreamMessage {
  /** The string-valued headers. */
  readonly headers: ReadonlyMap<string, string>;
  /** The header block as sent (every header type), for re-encoding the frame with a new payload. */
  readonly rawHeaders: Buffer;
  readonly payload: Buffer;
  /** The whole frame as sent. */
  readonly frame: Buffer;
}

export const EVENT_STREAM_MAX_FRAME = 1 << 20;
const PRELUDE = 12;

export class EventStreamReader {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  broken = false;

  constructor(maxFrameBytes = EVENT_STREAM_MAX_FRAME) {
    this.#max = maxFrameBytes;
  }

  /** Bytes received that do not yet make a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): EventStreamMessage[] {
    if (this.broken) return [];
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: EventStreamMessage[] = [];
    let off = 0;
    while (this.#buf.length - off >= PRELUDE) {
      const total = this.#buf.readUInt32BE(off);
      const headersLen = this.#buf.readUInt32BE(off + 4);
      if (total > this.#max || total < PRELUDE + 4 + headersLen || crc32(this.#buf.subarray(off, off + 8)) !== this.#buf.readUInt32BE(off + 8)) {
        this.broken = true;
        this.#buf = Buffer.alloc(0);
        return out;
      }
      if (this.#buf.length - off < total) break;
      const frame = this.#buf.subarray(off, off + total);
      if (crc32(frame.subarray(0, total - 4)) !== frame.readUInt32BE(total - 4)) {
        this.broken = true;
        this.#buf = Buffer.alloc(0);
        return out;
      }
      const headers = readHeaders(frame.subarray(PRELUDE, PRELUDE + headersLen));
      if (headers === undefined) {
        this.broken = true;
        this.#buf = Buffer.alloc(0);
        return out;
      }
      out.push({ headers, rawHeaders: frame.subarray(PRELUDE, PRELUDE + headersLen), payload: frame.subarray(PRELUDE + headersLen, total - 4), frame });
      off += total;
    }
    this.#buf = off === 0 ? Buffer.from(this.#buf) : Buffer.from(this.#buf.subarray(off));
    return out;
  }
}

// Value sizes by header type: 0 true, 1 false, 2 byte, 3 short, 4 int, 5 long, 6 bytes, 7 string, 8 timestamp, 9 uuid.
const FIXED: Readonly<Record<number, number>> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

function readHeaders(b: Buffer): Map<string, string> | undefined {
  const headers = new Map<string, string>();
  let i = 0;
  while (i < b.length) {
    const nameLen = b[i];
    if (nameLen === undefined || i + 1 + nameLen + 1 > b.length) return undefined;
    const name = b.toString('utf8', i + 1, i + 1 + nameLen);
    i += 1 + nameLen;
    const type = b[i++] ?? -1;
    const fixed = FIXED[type];
    if (fixed !== undefined) {
      i += fixed;
    } else if (type === 6 || type === 7) {
      if (i + 2 > b.length) return undefined;
      const len = b.readUInt16BE(i);
      if (i + 2 + len > b.length) return undefined;
      if (type === 7) headers.set(name, b.toString('utf8', i + 2, i + 2 + len));
      i += 2 + len;
    } else return undefined;
    if (i > b.length) return undefined;
  }
  return headers;
}

/** Encodes one frame from an encoded header block and a payload (lengths and both CRCs computed). */
export function encodeEventStreamFrame(rawHeaders: Buffer, payload: Buffer): Buffer {
  const total = PRELUDE + rawHeaders.length + payload.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(rawHeaders.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  rawHeaders.copy(out, PRELUDE);
  payload.copy(out, PRELUDE + rawHeaders.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

/** Encodes one message with string headers (for fixtures and fake upstreams). */
export function encodeEventStreamMessage(headers: Readonly<Record<string, string>>, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h[0] = n.length;
    n.copy(h, 1);
    h[1 + n.length] = 7;
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    parts.push(h);
  }
  return encodeEventStreamFrame(Buffer.concat(parts), payload);
}
