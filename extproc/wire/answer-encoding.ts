// The answers Tollgate sends most, encoded directly. Their generic encoding (proto-loader: protobufjs fromObject,
// then encode) copies each answer into message objects first. These write the same bytes straight from the
// answer, for exactly the shapes Tollgate builds on the happy path: the allowing CheckResponse and the ext_proc
// "continue" answers with header and body mutations. Any other answer (a denial, an immediate response, a field
// these do not know) returns undefined and is left to the generic encoder, so nothing is ever dropped.
import type { CheckResponse } from './ext-authz.ts';
import type { ProcessingResponse } from './ext-proc.ts';
import { encodeMessage, type Field } from './proto-writer.ts';

type Fields = Field[];

/** `o` is a plain object whose own keys are all in `keys`. */
function only(o: unknown, keys: readonly string[]): o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o) || Buffer.isBuffer(o) || Object.getPrototypeOf(o) !== Object.prototype) return false;
  // for-in, not Object.keys: no array per object (a plain object, so no inherited keys).
  for (const k in o) if (!keys.includes(k)) return false;
  return true;
}

const isStrings = (v: unknown): v is readonly string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** google.protobuf.Struct of string values only: fields (1) map entries key (1), Value (2) string_value (3). */
function stringStruct(struct: unknown): Fields | undefined {
  if (!only(struct, ['fields'])) return undefined;
  const values = struct.fields;
  if (typeof values !== 'object' || values === null || Object.getPrototypeOf(values) !== Object.prototype) return undefined;
  const out: Fields = [];
  for (const key in values) {
    const value = (values as Record<string, unknown>)[key];
    if (!only(value, ['stringValue']) || typeof value.stringValue !== 'string') return undefined;
    out.push([1, [[1, key], [2, [[3, value.stringValue]]]]]);
  }
  return out;
}

/**
 * An allowing CheckResponse: status (1) {code (1): 0}, ok_response (3) with only headers_to_remove (5), and
 * dynamic_metadata (4) a Struct of strings; undefined for any other answer.
 */
export function encodeCheckOk(res: CheckResponse): Buffer | undefined {
  if (!only(res, ['status', 'ok_response', 'dynamic_metadata']) || !only(res.status, ['code']) || res.status.code !== 0) return undefined;
  const ok = res.ok_response;
  if (!only(ok, ['headers_to_remove']) || (ok.headers_to_remove !== undefined && !isStrings(ok.headers_to_remove))) return undefined;
  const metadata = res.dynamic_metadata === undefined ? [] : stringStruct(res.dynamic_metadata);
  if (metadata === undefined) return undefined;
  const remove: Fields = (ok.headers_to_remove ?? []).map((name) => [5, name]);
  // proto3 writes a zero when it is set explicitly, as protobufjs does for `code: 0`.
  const fields: Fields = [[1, [[1, 0]]], [3, remove]];
  if (res.dynamic_metadata !== undefined) fields.push([4, metadata]);
  return encodeMessage(fields);
}

/** HeaderValueOption: header (1) {key (1), raw_value (3)}, append (2) BoolValue {value (1)}. */
function headerOption(o: unknown): Field | undefined {
  if (!only(o, ['header', 'append']) || !only(o.header, ['key', 'raw_value'])) return undefined;
  const { key, raw_value } = o.header;
  if (typeof key !== 'string' || !Buffer.isBuffer(raw_value)) return undefined;
  const option: Fields = [[1, [[1, key], [3, raw_value]]]];
  if (o.append !== undefined) {
    if (!only(o.append, ['value']) || typeof o.append.value !== 'boolean') return undefined;
    option.push([2, [[1, o.append.value]]]);
  }
  return [1, option];
}

/** HeaderMutation: set_headers (1), remove_headers (2). */
function headerMutation(m: unknown): Fields | undefined {
  if (!only(m, ['set_headers', 'remove_headers'])) return undefined;
  const out: Fields = [];
  if (m.set_headers !== undefined) {
    if (!Array.isArray(m.set_headers)) return undefined;
    for (const o of m.set_headers) {
      const f = headerOption(o);
      if (f === undefined) return undefined;
      out.push(f);
    }
  }
  if (m.remove_headers !== undefined) {
    if (!isStrings(m.remove_headers)) return undefined;
    for (const name of m.remove_headers) out.push([2, name]);
  }
  return out;
}

/** CommonResponse: status (1) CONTINUE, header_mutation (2), body_mutation (3) {body (1)}, clear_route_cache (5). */
function commonResponse(c: unknown): Fields | undefined {
  if (!only(c, ['status', 'header_mutation', 'body_mutation', 'clear_route_cache'])) return undefined;
  const out: Fields = [];
  if (c.status !== undefined) {
    if (c.status !== 'CONTINUE') return undefined;
    out.push([1, 0]);
  }
  if (c.header_mutation !== undefined) {
    const m = headerMutation(c.header_mutation);
    if (m === undefined) return undefined;
    out.push([2, m]);
  }
  if (c.body_mutation !== undefined) {
    if (!only(c.body_mutation, ['body']) || !Buffer.isBuffer(c.body_mutation.body)) return undefined;
    out.push([3, [[1, c.body_mutation.body]]]);
  }
  if (c.clear_route_cache !== undefined) {
    if (typeof c.clear_route_cache !== 'boolean') return undefined;
    out.push([5, c.clear_route_cache]);
  }
  return out;
}

/** The ProcessingResponse field of each answer kind that carries a CommonResponse (HeadersResponse or BodyResponse). */
const COMMON_ANSWERS: ReadonlyMap<string, number> = new Map([['request_headers', 1], ['response_headers', 2], ['request_body', 3], ['response_body', 4]]);

/**
 * A ProcessingResponse that is one headers or body answer ({response (1): CommonResponse}) in the shapes above;
 * undefined for any other answer (immediate responses, mode overrides, trailers, anything unknown).
 */
export function encodeProcessingAnswer(res: ProcessingResponse): Buffer | undefined {
  const keys = Object.keys(res);
  const kind = keys[0];
  if (keys.length !== 1 || kind === undefined) return undefined;
  const field = COMMON_ANSWERS.get(kind);
  if (field === undefined) return undefined;
  const inner = (res as Record<string, unknown>)[kind];
  if (!only(inner, ['response'])) return undefined;
  const common = inner.response === undefined ? [] : commonResponse(inner.response);
  if (common === undefined) return undefined;
  return encodeMessage([[field, inner.response === undefined ? [] : [[1, common]]]]);
}
