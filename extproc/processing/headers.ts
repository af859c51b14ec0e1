import type { HttpHeaders } from '../wire/ext-proc.ts';

/** Envoy's HeaderMap as a lower-cased name → value map. Repeated headers are joined with ",". */
export function headerMap(h: HttpHeaders | undefined): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const hv of h?.headers?.headers ?? []) {
    const name = (hv.key ?? '').toLowerCase();
    // Envoy sends raw_value; `value` is only read as a fallback for older builds.
    const value = hv.raw_value !== undefined && hv.raw_value.length > 0 ? hv.raw_value.toString('latin1') : (hv.value ?? '');
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

/** Media type without parameters, lower-cased: "application/json; charset=utf-8" → "application/json". */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  return contentType.split(';', 1)[0]?.trim().toLowerCase();
}
