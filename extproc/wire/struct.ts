// google.protobuf.Struct as grpc-js/proto-loader encodes and decodes it with LOADER_OPTIONS.

export interface StructValue {
  readonly stringValue?: string;
  readonly numberValue?: number;
  readonly boolValue?: boolean;
  readonly kind?: string;
}

export interface Struct {
  readonly fields?: Readonly<Record<string, StructValue>>;
}

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
