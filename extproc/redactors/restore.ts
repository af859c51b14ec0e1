// Restore for buffered responses: every JSON string value in the body that contains a known placeholder gets
// the original values back. Strings are decoded first, so placeholders written with JSON escapes
// ("\u003cEMAIL_1\u003e", as Go-based backends emit) are found too. Unknown placeholder-shaped text (models
// invent "<EMAIL_7>") is left alone and counted.
import { splice, walkStrings } from './json-strings.ts';
import type { RestoreMap } from './restore-map.ts';
import { placeholdersIn } from './restore-map.ts';

export interface RestoreResult {
  readonly text: string;
  readonly restored: number;
  readonly unknown: number;
}

/** The known placeholders in plain text as edits (placeholder → original value), in order. */
export function restoreEdits(text: string, map: RestoreMap): { edits: { start: number; end: number; text: string }[]; unknown: number } {
  const edits: { start: number; end: number; text: string }[] = [];
  let unknown = 0;
  if (map.size === 0 || !text.includes('<')) return { edits, unknown };
  let at = 0;
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    if (i < at) continue;
    let close = i + 1;
    const limit = Math.min(text.length, i + 67);
    while (close < limit && text.charCodeAt(close) !== 62 && text.charCodeAt(close) !== 60) close++;
    if (close >= limit || text.charCodeAt(close) !== 62) continue;
    const candidate = text.slice(i, close + 1);
    const v = map.valueOf(candidate);
    if (v !== undefined) {
      edits.push({ start: i, end: close + 1, text: v.reveal() });
      at = close + 1;
    } else if (placeholdersIn(candidate).length === 1) unknown++;
  }
  return { edits, unknown };
}

/** Replaces known placeholders in plain text (longest placeholder first, so <EMAIL_12> never matches <EMAIL_1>). */
export function restoreText(text: string, map: RestoreMap): RestoreResult {
  const { edits, unknown } = restoreEdits(text, map);
  if (edits.length === 0) return { text, restored: 0, unknown };
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return { text: out + text.slice(at), restored: edits.length, unknown };
}

/** Restores placeholders in every string value of a JSON body; returns the new body bytes. */
export function restoreJson(body: Buffer | string, map: RestoreMap): { body: Buffer; restored: number; unknown: number } {
  const raw = typeof body === 'string' ? body : body.toString('utf8');
  let restored = 0;
  let unknown = 0;
  if (map.size === 0) return { body: typeof body === 'string' ? Buffer.from(body) : body, restored, unknown };
  const edits: { start: number; end: number; text: string }[] = [];
  walkStrings(
    raw,
    (tok) => {
      if (tok.isKey) return;
      const token = raw.slice(tok.start, tok.end);
      if (!token.includes('<') && !token.includes('\\u003c') && !token.includes('\\u003C')) return;
      const r = restoreText(JSON.parse(token) as string, map);
      restored += r.restored;
      unknown += r.unknown;
      if (r.restored > 0) edits.push({ start: tok.start, end: tok.end, text: JSON.stringify(r.text) });
    },
    false,
  );
  return { body: Buffer.from(splice(raw, edits), 'utf8'), restored, unknown };
}
