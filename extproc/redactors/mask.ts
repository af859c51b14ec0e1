// Masking: replace each finding inside its JSON string with a typed, numbered placeholder ("<EMAIL_1>"; the
// same value gets the same placeholder throughout the request), splice the new strings into the original body
// and return the new bytes with the restore map. A text file sent as inline base64 is masked in its decoded text
// and re-encoded. Only strings listed as segments are touched; a segment whose
// text does not match the body at its path is refused (MaskError), never guessed at.
import type { Finding, TextSegment } from '../core/content.ts';
import { encodeInlineText } from '../core/inline-text.ts';
import { pathKey, splice, walkStrings } from './json-strings.ts';
import { placeholdersIn, RestoreMap } from './restore-map.ts';

export class MaskError extends Error {
  constructor(detail: string) {
    super(`mask: ${detail}`);
    this.name = 'MaskError';
  }
}

export interface MaskResult {
  /** The new body (UTF-8). Equal to the input bytes when nothing was masked. */
  readonly body: Buffer;
  readonly restore: RestoreMap;
  /** Number of spans replaced. */
  readonly masked: number;
  /** Masked-span counts by type, for audit. */
  readonly counts: Readonly<Record<string, number>>;
}

/**
 * Replaces findings [start, end) in text with placeholders from the map, numbering left to right; with `mark`,
 * with mark(type) instead (response leak masking: "[REDACTED:TYPE]", never restorable).
 */
export function maskText(text: string, findings: readonly Finding[], map: RestoreMap, mark?: (type: string) => string): string {
  const sorted = [...findings].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const f of sorted) {
    if (f.start < at || f.end > text.length || f.start >= f.end) throw new MaskError('findings overlap or are out of range');
    out += text.slice(at, f.start) + (mark === undefined ? map.placeholderFor(f.type, text.slice(f.start, f.end)) : mark(f.type));
    at = f.end;
  }
  return out + text.slice(at);
}

export interface MaskOptions {
  /** Replace with mark(type) instead of numbered placeholders (for leaks found in buffered responses). */
  readonly mark?: (type: string) => string;
}

/**
 * Masks `findings` (each with `segment` = index into `segments`) in the JSON `body`. Numbering follows request
 * order: segments in order, then findings left to right. Pass `map` to continue an existing numbering.
 */
export function maskBody(body: Buffer | string, segments: readonly TextSegment[], findings: readonly Finding[], map: RestoreMap = new RestoreMap(), options: MaskOptions = {}): MaskResult {
  const raw = typeof body === 'string' ? body : body.toString('utf8');
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const counts: Record<string, number> = {};
  if (findings.length === 0) return { body: bytes, restore: map, masked: 0, counts };
  try {
    JSON.parse(raw);
  } catch {
    throw new MaskError('body is not valid JSON');
  }
  for (const s of segments) map.reserve(placeholdersIn(s.text));
  const bySegment = new Map<number, Finding[]>();
  for (const f of findings) {
    if (f.segment === undefined || segments[f.segment] === undefined) throw new MaskError('finding without a valid segment index');
    const list = bySegment.get(f.segment) ?? [];
    list.push(f);
    bySegment.set(f.segment, list);
  }
  // New text per path, in request order.
  const replacements = new Map<string, { text: string; original: string }>();
  segments.forEach((seg, k) => {
    const list = bySegment.get(k);
    if (list === undefined) return;
    const key = pathKey(seg.path);
    if (replacements.has(key)) throw new MaskError('two segments share one JSON path');
    const text = maskText(seg.text, list, map, options.mark);
    // Text decoded from inline media goes back in the form it came in (same data: header, alphabet).
    replacements.set(key, seg.inline === undefined ? { text, original: seg.text } : { text: encodeInlineText(seg.inline, text), original: seg.inline.source });
    for (const f of list) counts[f.type] = (counts[f.type] ?? 0) + 1;
  });
  const edits: { start: number; end: number; text: string }[] = [];
  walkStrings(raw, (tok) => {
    if (tok.isKey) return;
    const key = pathKey(tok.path);
    const r = replacements.get(key);
    if (r === undefined) return;
    if ((JSON.parse(raw.slice(tok.start, tok.end)) as string) !== r.original) throw new MaskError('segment text does not match the body at its path');
    edits.push({ start: tok.start, end: tok.end, text: JSON.stringify(r.text) });
    replacements.delete(key);
  });
  if (replacements.size > 0) throw new MaskError('a segment path does not name a string in the body');
  const masked = findings.length;
  return { body: Buffer.from(splice(raw, edits), 'utf8'), restore: map, masked, counts };
}
