// google.protobuf.Struct as grpc-js/proto-loader encodes and decodes it with LOADER_OPTIONS (generated types).
import type { Struct as GenStruct, Struct__Output as GenStructOutput } from './generated/google/protobuf/Struct.ts';
import type { Value as GenValue } from './generated/google/protobuf/Value.ts';
import type { Wire } from './shape.ts';

/** One value of a Struct: exactly one of nullValue, numberValue, stringValue, boolValue, structValue, listValue. */
export type StructValue = Wire<GenValue>;

/** A Struct Tollgate builds or reads. A decoded Struct (DecodedStruct) is assignable to it. */
export type Struct = Wire<GenStruct>;

/** A Struct as grpc-js decodes it. */
export type DecodedStruct = Wire<GenStructOutput>;

/** A flat Struct of strings. */
export function stringStruct(values: Readonly<Record<string, string>>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(values)) fields[k] = { stringValue: v };
  return { fields };
}

/** Reads a string field of a decoded Struct; undefined unless it is a non-empty string. */
export function structString(struct: Struct | undefined, key: string): string | undefined {
  const v = struct?.fields?.[key]?.stringValue;
  return typeof v === 'string' && v !== '' ? v : undefined;
}
