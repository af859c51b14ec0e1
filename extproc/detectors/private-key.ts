// PEM, OpenSSH and PGP private-key blocks: from "-----BEGIN … PRIVATE KEY[ BLOCK]-----" to the matching END line.
// A block without an END line within 16 KiB (truncated, or split by the caller) is still reported: the header
// and the key material that follows it. The body must look like key material: header lines (`Proc-Type: …`)
// aside, only base64 and line breaks (also written as `\n`), at least 16 base64 characters of at least 10
// distinct symbols; an empty block, `...`, `<your key here>` or `xxxx` is not a key.
import { hasAt, isBase64Char, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const MAX = 16384;
const isLabelChar = (c: number): boolean => (c >= 65 && c <= 90) || c === 32 || (c >= 48 && c <= 57);
const isBodyChar = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61 || c === 10 || c === 13 || c === 32 || c === 9 || c === 58 || c === 45 || c === 92 || c === 44;

/**
 * Where the next END line starts at or after `from`. Cached per text (scans move forward), so a text of many
 * BEGIN lines without an END costs one search in total, not one per BEGIN.
 */
function nextEnd(text: string, from: number, memo: Map<string, number>): number {
  const cachedFrom = memo.get('pk.from');
  const cachedAt = memo.get('pk.at');
  if (cachedFrom !== undefined && cachedAt !== undefined && from >= cachedFrom && (cachedAt === -1 || cachedAt >= from)) return cachedAt;
  const at = text.indexOf(END, from);
  memo.set('pk.from', from);
  memo.set('pk.at', at);
  return at;
}

const MIN_BODY = 16;
const MIN_DISTINCT = 10;

/** Whether text[from, to) is a key body (see the header comment). One pass, bounded by the block. */
export function keyBody(text: string, from: number, to: number): boolean {
  let b64 = 0;
  const seen = new Uint8Array(128);
  let distinct = 0;
  let i = from;
  let stop = false;
  while (i < to && !stop) {
    let j = i;
    let colon = false;
    for (; j < to; j++) {
      const c = text.charCodeAt(j);
      // "--" starts the next armour line: the body ends there (keeps the work per block bounded by the block).
      if (c === 45 && text.charCodeAt(j + 1) === 45) {
        stop = true;
        break;
      }
      // A line break, also written as the two characters `\n` (a key pasted from JSON source).
      if (c === 10 || c === 13 || (c === 92 && (text.charCodeAt(j + 1) === 110 || text.charCodeAt(j + 1) === 114))) break;
      if (c === 58) colon = true;
    }
    // Header lines (`Proc-Type: 4,ENCRYPTED`) do not count; any other line is base64 only.
    if (!colon) {
      for (let k = i; k < j; k++) {
        const c = text.charCodeAt(k);
        if (isBase64Char(c) || c === 61) {
          b64++;
          if (seen[c] === 0) {
            seen[c] = 1;
            distinct++;
          }
        } else if (c !== 32 && c !== 9) return false;
      }
    }
    i = j + (text.charCodeAt(j) === 92 ? 2 : 1);
  }
  return b64 >= MIN_BODY && distinct >= MIN_DISTINCT;
}

export const privateKey: CharDetector = {
  kind: 'char',
  id: 'secret.private_key',
  type: 'PRIVATE_KEY',
  // The B of "-----BEGIN": a dash before a B is rare in text, while runs of dashes (rules, tables, options) are not.
  triggers: 'B',
  prev: '-',
  next: 'E',
  maxLength: MAX,
  at(text, t, report, memo) {
    const i = t - 5;
    if (i < 0 || !hasAt(text, i, BEGIN) || (i > 0 && text.charCodeAt(i - 1) === 45)) return;
    const labelEnd = runEnd(text, i + BEGIN.length, isLabelChar, 40);
    const label = text.slice(i + BEGIN.length, labelEnd);
    if (!label.endsWith('PRIVATE KEY') && !label.endsWith('PRIVATE KEY BLOCK')) return;
    if (!hasAt(text, labelEnd, '-----')) return;
    const headerEnd = labelEnd + 5;
    const e = nextEnd(text, headerEnd, memo);
    if (e !== -1 && e - i <= MAX) {
      if (!keyBody(text, headerEnd, e)) return;
      const lineEnd = runEnd(text, e + END.length, isLabelChar, 40);
      report(i, hasAt(text, lineEnd, '-----') ? lineEnd + 5 : lineEnd);
      return;
    }
    // No END line: report the header and the key material after it, up to the next "-----" (a following
    // BEGIN line starts its own block, which keeps the work per block bounded by the block).
    let j = headerEnd;
    const limit = Math.min(text.length, i + MAX);
    while (j < limit && isBodyChar(text.charCodeAt(j)) && !(text.charCodeAt(j) === 45 && hasAt(text, j, '-----'))) j++;
    if (keyBody(text, headerEnd, j)) report(i, j);
  },
};
