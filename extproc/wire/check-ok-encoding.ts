// The allowing CheckResponse, encoded directly. Every allowed request gets one, and its generic encoding
// (proto-loader: protobufjs fromObject, then encode) copies the whole answer into message objects first. This
// writes the same bytes straight from the answer, for exactly the shape Check builds when it allows; any other
// answer (a denial, headers to add, a metadata value that is not a string) is left to the generic encoder.
import type { CheckResponse } from './ext-authz.ts';

// Field numbers: envoy.service.auth.v3.CheckResponse, OkHttpResponse, google.rpc.Status, google.protobuf.Struct/Value.
const CHECK_STATUS = 1;
const CHECK_OK_RESPONSE = 3;
const CHECK_DYNAMIC_METADATA = 4;
const STATUS_CODE = 1;
const OK_HEADERS_TO_REMOVE = 5;
const STRUCT_FIELDS = 1;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
const VALUE_STRING = 3;

function only(o: object, keys: readonly string[]): boolean {
  for (const k of Object.keys(o)) if (!keys.includes(k)) return false;
  return true;
}

/** The string fields of a flat string Struct, or undefined if it holds anything else. */
function stringFields(struct: CheckResponse['dynamic_metadata']): [string, string][] | undefined {
  if (struct === undefined || struct === null || !only(struct, ['fields']) || struct.fields === undefined) return undefined;
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(struct.fields)) {
    if (!only(value, ['stringValue']) || typeof value.stringValue !== 'string') return undefined;
    out.push([key, value.stringValue]);
  }
  return out;
}

const LEN = 2; // wire type: length-delimited
const key = (field: number, wireType: number): number => (field << 3) | wireType;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) { n >>>= 7; size++; }
  return size;
}

/** The size of a length-delimited field whose content is `n` bytes (tag and field numbers below 16: one byte). */
const delimited = (n: number): number => 1 + varintSize(n) + n;

/** Writes into one Buffer sized in advance: every length is known before the bytes. */
class Out {
  readonly buf: Buffer;
  at = 0;
  constructor(size: number) { this.buf = Buffer.allocUnsafe(size); }
  varint(n: number): this {
    while (n >= 0x80) { this.buf[this.at++] = (n & 0x7f) | 0x80; n >>>= 7; }
    this.buf[this.at++] = n;
    return this;
  }
  /** A length-delimited field's tag and length; its content follows. */
  open(field: number, length: number): this { return this.varint(key(field, LEN)).varint(length); }
  string(field: number, s: string, bytes: number): this {
    this.open(field, bytes);
    this.at += this.buf.write(s, this.at, 'utf8');
    return this;
  }
}

/**
 * The bytes of `res` if it is an allow with status code 0, an ok_response with only headers_to_remove, and
 * dynamic_metadata a flat Struct of strings; undefined for any other answer.
 */
export function encodeCheckOk(res: CheckResponse): Buffer | undefined {
  const ok = res.ok_response;
  if (ok === undefined || res.denied_response !== undefined || !only(res, ['status', 'ok_response', 'dynamic_metadata'])) return undefined;
  if (res.status.code !== 0 || !only(res.status, ['code']) || !only(ok, ['headers_to_remove'])) return undefined;
  const fields = stringFields(res.dynamic_metadata);
  if (fields === undefined) return undefined;
  const remove = (ok.headers_to_remove ?? []).map((name) => ({ name, bytes: Buffer.byteLength(name, 'utf8') }));
  const okSize = remove.reduce((sum, r) => sum + delimited(r.bytes), 0);
  const entries = fields.map(([k, v]) => {
    const kb = Buffer.byteLength(k, 'utf8');
    const vb = Buffer.byteLength(v, 'utf8');
    const valueSize = delimited(vb);
    return { k, v, kb, vb, valueSize, size: delimited(kb) + delimited(valueSize) };
  });
  const structSize = entries.reduce((sum, e) => sum + delimited(e.size), 0);
  // Status {code: 0}: proto3 writes a zero when it is set explicitly, as protobufjs does.
  const out = new Out(delimited(2) + delimited(okSize) + delimited(structSize));
  out.open(CHECK_STATUS, 2).varint(key(STATUS_CODE, 0)).varint(0);
  out.open(CHECK_OK_RESPONSE, okSize);
  for (const r of remove) out.string(OK_HEADERS_TO_REMOVE, r.name, r.bytes);
  out.open(CHECK_DYNAMIC_METADATA, structSize);
  for (const e of entries) out.open(STRUCT_FIELDS, e.size).string(ENTRY_KEY, e.k, e.kb).open(ENTRY_VALUE, e.valueSize).string(VALUE_STRING, e.v, e.vb);
  if (out.at !== out.buf.length) throw new Error('CheckResponse encoding: size mismatch');
  return out.buf;
}
