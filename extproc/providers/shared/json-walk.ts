// Small helpers for reading parsed JSON documents.
import type { JsonObject, JsonValue } from './strict-json.ts';

export type Json = JsonValue | undefined;

export function asObject(v: Json): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
}

export function asArray(v: Json): readonly JsonValue[] {
  return Array.isArray(v) ? v : [];
}

export function asString(v: Json): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function asCount(v: Json): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}
