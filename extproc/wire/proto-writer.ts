// A small protobuf writer for the few answers Tollgate encodes itself (wire/answer-encoding.ts). An encoder
// describes its message once, as calls on a ProtoSink; it runs twice, first on a sizer (every nested length),
// then on a writer filling one Buffer of exactly that size. Nothing else is allocated per message.

/** Fields in field-number order (as protobufjs writes them). Varints: non-negative integers or booleans. */
export interface ProtoSink {
  string(field: number, s: string): void;
  bytes(field: number, b: Uint8Array): void;
  varint(field: number, n: number | boolean): void;
  /** A nested message: its fields follow, up to the matching end(). */
  begin(field: number): void;
  end(): void;
}

const VARINT = 0;
const LEN = 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

const tagSize = (field: number): number => varintSize(field << 3);

class Sizer implements ProtoSink {
  total = 0;
  /** The length of every nested message, in the order begin() was called. */
  readonly sizes: number[] = [];
  readonly #stack: number[] = [];
  string(field: number, s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.total += tagSize(field) + varintSize(n) + n;
  }
  bytes(field: number, b: Uint8Array): void {
    this.total += tagSize(field) + varintSize(b.length) + b.length;
  }
  varint(field: number, n: number | boolean): void {
    this.total += tagSize(field) + varintSize(Number(n));
  }
  begin(field: number): void {
    this.#stack.push(this.total + tagSize(field), this.sizes.length);
    this.sizes.push(0);
    this.total = 0;
  }
  end(): void {
    const index = this.#stack.pop() ?? 0;
    const outer = this.#stack.pop() ?? 0;
    const inner = this.total;
    this.sizes[index] = inner;
    this.total = outer + varintSize(inner) + inner;
  }
}

class Writer implements ProtoSink {
  readonly buf: Buffer;
  at = 0;
  #next = 0;
  readonly #sizes: readonly number[];
  constructor(size: number, sizes: readonly number[]) {
    this.buf = Buffer.allocUnsafe(size);
    this.#sizes = sizes;
  }
  #raw(n: number): void {
    while (n >= 0x80) {
      this.buf[this.at++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.at++] = n;
  }
  string(field: number, s: string): void {
    this.#raw((field << 3) | LEN);
    this.#raw(Buffer.byteLength(s, 'utf8'));
    this.at += this.buf.write(s, this.at, 'utf8');
  }
  bytes(field: number, b: Uint8Array): void {
    this.#raw((field << 3) | LEN);
    this.#raw(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }
  varint(field: number, n: number | boolean): void {
    this.#raw((field << 3) | VARINT);
    this.#raw(Number(n));
  }
  begin(field: number): void {
    this.#raw((field << 3) | LEN);
    this.#raw(this.#sizes[this.#next++] ?? 0);
  }
  end(): void {
    // The length went first, in begin().
  }
}

/** The bytes of the message `write` describes (it is called twice, and must describe the same fields both times). */
export function encodeMessage<T>(value: T, write: (value: T, sink: ProtoSink) => void): Buffer {
  const sizer = new Sizer();
  write(value, sizer);
  const writer = new Writer(sizer.total, sizer.sizes);
  write(value, writer);
  if (writer.at !== writer.buf.length) throw new Error('protobuf writer: size mismatch');
  return writer.buf;
}
