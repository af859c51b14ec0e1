// The answers Tollgate sends most, encoded directly. Their generic encoding (proto-loader: protobufjs fromObject,
// then encode) copies each answer into message objects first. These write the same bytes straight from the
// answer, for exactly the shapes Tollgate builds on the happy path: the allowing CheckResponse and the ext_proc
// "continue" answers with header and body mutations. Any other answer (a denial, an immediate response, a field
// these do not know) returns undefined and is left to the generic encoder, so nothing is ever dropped. Each
// encoder checks the whole shape first, then writes it (wire/proto-writer.ts).
import type { CheckResponse } from './ext-authz.ts';
import type { ProcessingResponse } from './ext-proc.ts';
import { encodeMessage, type ProtoSink } from './proto-writer.ts';

type Obj = Record<string, unknown>;

const FIXED = new WeakSet<object>();

function deepFreeze(o: object): void {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v)) deepFreeze(v as object);
  Object.freeze(o);
}

/**
 * An answer that never changes, shared by every request: frozen all the way down, and marked so that it is
 * encoded once and those bytes are sent after (`prebuiltEncoder` in proto.ts).
 */
export function fixedAnswer<T extends object>(answer: T): T {
  deepFreeze(answer);
  FIXED.add(answer);
  return answer;
}

export function isFixedAnswer(answer: object): boolean {
  return FIXED.has(answer);
}

/** `o` is a plain object whose own keys are all in `keys`. */
function only(o: unknown, keys: readonly string[]): o is Obj {
  if (typeof o !== 'object' || o === null || Object.getPrototypeOf(o) !== Object.prototype) return false;
  // for-in, not Object.keys: no array per object (a plain object, so no inherited keys).
  for (const k in o) if (!keys.includes(k)) return false;
  return true;
}

const isStrings = (v: unknown): v is readonly string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** google.protobuf.Struct with string values only. */
function isStringStruct(struct: unknown): struct is { fields: Record<string, { stringValue: string }> } {
  if (!only(struct, ['fields'])) return false;
  const values = struct.fields;
  if (typeof values !== 'object' || values === null || Object.getPrototypeOf(values) !== Object.prototype) return false;
  for (const key in values) {
    const value = (values as Obj)[key];
    if (!only(value, ['stringValue']) || typeof value.stringValue !== 'string') return false;
  }
  return true;
}

/** Struct: fields (1) map entries {key (1), value (2) Value {string_value (3)}}. */
function writeStringStruct(struct: { fields: Record<string, { stringValue: string }> }, w: ProtoSink): void {
  for (const key in struct.fields) {
    w.begin(1);
    w.string(1, key);
    w.begin(2);
    w.string(3, struct.fields[key]?.stringValue ?? '');
    w.end();
    w.end();
  }
}

interface CheckOk {
  readonly ok_response: { readonly headers_to_remove?: readonly string[] };
  readonly dynamic_metadata?: { fields: Record<string, { stringValue: string }> };
}

function isCheckOk(res: CheckResponse): boolean {
  if (!only(res, ['status', 'ok_response', 'dynamic_metadata']) || !only(res.status, ['code']) || res.status.code !== 0) return false;
  const ok = res.ok_response;
  if (!only(ok, ['headers_to_remove']) || (ok.headers_to_remove !== undefined && !isStrings(ok.headers_to_remove))) return false;
  return res.dynamic_metadata === undefined || isStringStruct(res.dynamic_metadata);
}

/** CheckResponse: status (1) {code (1): 0}, ok_response (3) {headers_to_remove (5)}, dynamic_metadata (4). */
function writeCheckOk(res: CheckOk, w: ProtoSink): void {
  // proto3 writes a zero when it is set explicitly, as protobufjs does for `code: 0`.
  w.begin(1);
  w.varint(1, 0);
  w.end();
  w.begin(3);
  for (const name of res.ok_response.headers_to_remove ?? []) w.string(5, name);
  w.end();
  if (res.dynamic_metadata !== undefined) {
    w.begin(4);
    writeStringStruct(res.dynamic_metadata, w);
    w.end();
  }
}

/** An allowing CheckResponse with only headers_to_remove and a string metadata Struct; undefined for any other. */
export function encodeCheckOk(res: CheckResponse): Buffer | undefined {
  return isCheckOk(res) ? encodeMessage(res as unknown as CheckOk, writeCheckOk) : undefined;
}

function isHeaderOption(o: unknown): boolean {
  if (!only(o, ['header', 'append']) || !only(o.header, ['key', 'raw_value'])) return false;
  if (typeof o.header.key !== 'string' || !Buffer.isBuffer(o.header.raw_value)) return false;
  return o.append === undefined || (only(o.append, ['value']) && typeof o.append.value === 'boolean');
}

function isHeaderMutation(m: unknown): boolean {
  if (!only(m, ['set_headers', 'remove_headers'])) return false;
  if (m.set_headers !== undefined && !(Array.isArray(m.set_headers) && m.set_headers.every(isHeaderOption))) return false;
  return m.remove_headers === undefined || isStrings(m.remove_headers);
}

function isCommonResponse(c: unknown): boolean {
  if (!only(c, ['status', 'header_mutation', 'body_mutation', 'clear_route_cache'])) return false;
  if (c.status !== undefined && c.status !== 'CONTINUE') return false;
  if (c.header_mutation !== undefined && !isHeaderMutation(c.header_mutation)) return false;
  if (c.body_mutation !== undefined && !(only(c.body_mutation, ['body']) && Buffer.isBuffer(c.body_mutation.body))) return false;
  return c.clear_route_cache === undefined || typeof c.clear_route_cache === 'boolean';
}

interface Common {
  readonly status?: 'CONTINUE';
  readonly header_mutation?: {
    readonly set_headers?: readonly { readonly header: { readonly key: string; readonly raw_value: Buffer }; readonly append?: { readonly value: boolean } }[];
    readonly remove_headers?: readonly string[];
  };
  readonly body_mutation?: { readonly body: Buffer };
  readonly clear_route_cache?: boolean;
}

/**
 * CommonResponse: status (1) CONTINUE = 0, header_mutation (2) {set_headers (1) HeaderValueOption {header (1)
 * {key (1), raw_value (3)}, append (2) BoolValue {value (1)}}, remove_headers (2)}, body_mutation (3) {body (1)},
 * clear_route_cache (5).
 */
function writeCommon(c: Common, w: ProtoSink): void {
  if (c.status !== undefined) w.varint(1, 0);
  const m = c.header_mutation;
  if (m !== undefined) {
    w.begin(2);
    for (const o of m.set_headers ?? []) {
      w.begin(1);
      w.begin(1);
      w.string(1, o.header.key);
      w.bytes(3, o.header.raw_value);
      w.end();
      if (o.append !== undefined) {
        w.begin(2);
        w.varint(1, o.append.value);
        w.end();
      }
      w.end();
    }
    for (const name of m.remove_headers ?? []) w.string(2, name);
    w.end();
  }
  if (c.body_mutation !== undefined) {
    w.begin(3);
    w.bytes(1, c.body_mutation.body);
    w.end();
  }
  if (c.clear_route_cache !== undefined) w.varint(5, c.clear_route_cache);
}

/** The ProcessingResponse field of each answer kind that carries a CommonResponse (HeadersResponse or BodyResponse). */
const COMMON_ANSWERS: ReadonlyMap<string, number> = new Map([['request_headers', 1], ['response_headers', 2], ['request_body', 3], ['response_body', 4]]);

interface CommonAnswer {
  readonly field: number;
  readonly response: Common | undefined;
}

/** {field: HeadersResponse or BodyResponse {response (1): CommonResponse}}. */
function writeCommonAnswer(a: CommonAnswer, w: ProtoSink): void {
  w.begin(a.field);
  if (a.response !== undefined) {
    w.begin(1);
    writeCommon(a.response, w);
    w.end();
  }
  w.end();
}

/**
 * A ProcessingResponse that is one headers or body answer in the shapes above; undefined for any other answer
 * (immediate responses, mode overrides, trailers, anything unknown).
 */
export function encodeProcessingAnswer(res: ProcessingResponse): Buffer | undefined {
  let kind: string | undefined;
  for (const k in res) {
    if (kind !== undefined) return undefined;
    kind = k;
  }
  const field = kind === undefined ? undefined : COMMON_ANSWERS.get(kind);
  if (kind === undefined || field === undefined || Object.getPrototypeOf(res) !== Object.prototype) return undefined;
  const inner = (res as Obj)[kind];
  if (!only(inner, ['response']) || (inner.response !== undefined && !isCommonResponse(inner.response))) return undefined;
  return encodeMessage({ field, response: inner.response as Common | undefined }, writeCommonAnswer);
}
