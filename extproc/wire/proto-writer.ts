// A small protobuf writer for the few answers Tollgate encodes itself (wire/answer-encoding.ts): the message is
// given as its fields, sizes are computed first, and the bytes are written into one Buffer of exactly that size.

/**
 * One field of a message, in the order it is written (field-number order, as protobufjs writes): a string,
 * bytes, a varint (a non-negative integer or a boolean) or a nested message.
 */
export type Field = readonly [number, string | Uint8Array | number | boolean | readonly Field[]];

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

function contentSize(v: Field[1]): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === 'number' || typeof v === 'boolean') return varintSize(Number(v));
  return messageSize(v);
}

function fieldSize(field: number, v: Field[1]): number {
  const tag = varintSize(field << 3);
  const n = contentSize(v);
  return typeof v === 'number' || typeof v === 'boolean' ? tag + n : tag + varintSize(n) + n;
}

function messageSize(fields: readonly Field[]): number {
  let size = 0;
  for (const [field, v] of fields) size += fieldSize(field, v);
  return size;
}

class Out {
  readonly buf: Buffer;
  at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.at++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.at++] = n;
  }
  message(fields: readonly Field[]): void {
    for (const [field, v] of fields) {
      if (typeof v === 'number' || typeof v === 'boolean') {
        this.varint((field << 3) | VARINT);
        this.varint(Number(v));
        continue;
      }
      this.varint((field << 3) | LEN);
      this.varint(contentSize(v));
      if (typeof v === 'string') this.at += this.buf.write(v, this.at, 'utf8');
      else if (v instanceof Uint8Array) {
        this.buf.set(v, this.at);
        this.at += v.length;
      } else this.message(v);
    }
  }
}

/** The message's bytes. Numbers must be non-negative integers. */
export function encodeMessage(fields: readonly Field[]): Buffer {
  const out = new Out(messageSize(fields));
  out.message(fields);
  if (out.at !== out.buf.length) throw new Error('protobuf writer: size mismatch');
  return out.buf;
}
