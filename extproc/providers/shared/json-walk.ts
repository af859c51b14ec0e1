// Small helpers for reading parsed JSON documents and emitting text segments at exact JSON paths.
import type { JsonPath, SegmentRole, TextSegment } from '../../core/content.ts';
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

/** Collects segments; `text` adds one when the value at `path` is a string. */
export class SegmentSink {
  readonly out: TextSegment[] = [];

  text(v: Json, path: JsonPath, role: SegmentRole): void {
    if (typeof v === 'string' && v !== '') this.out.push({ path, text: v, role });
  }

  /** Every string leaf under `v` (tool arguments as objects, tool results as JSON, unknown bodies). */
  leaves(v: Json, path: JsonPath, role: SegmentRole, depth = 0): void {
    if (depth > 64) return;
    if (typeof v === 'string') this.text(v, path, role);
    else if (Array.isArray(v)) v.forEach((item, i) => { this.leaves(item, [...path, i], role, depth + 1); });
    else if (typeof v === 'object' && v !== null) for (const [k, item] of Object.entries(v)) this.leaves(item, [...path, k], role, depth + 1);
  }
}
