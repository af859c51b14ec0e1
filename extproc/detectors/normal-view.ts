// The normalising view: a text with the characters that hide a value from detectors folded away (zero-width
// characters, soft hyphens and bidi controls removed; fullwidth ASCII forms, Unicode hyphens and spaces folded
// to ASCII), with an index map back to the original. Built only for texts that contain such a character, so
// ASCII text and ordinary non-ASCII text pay for no copy.

/** The code points the view removes or folds. */
const HIDDEN = /[\u00a0\u00ad\u200b-\u2015\u2028-\u202e\u2060-\u2064\u3000\ufeff\uff01-\uff5e]/;

export interface NormalView {
  /** The folded text. */
  readonly text: string;
  /** Per code unit of `text`, its index in the original (one entry more: the original length). */
  readonly map: Int32Array;
}

/** What a code unit becomes in the view: -1 removed, otherwise the code unit it is folded to. */
function fold(c: number): number {
  if (c < 0xa0) return c;
  if (c === 0xa0 || c === 0x3000) return 32;
  if (c === 0xad || c === 0xfeff) return -1;
  if (c >= 0x200b && c <= 0x200f) return -1;
  if (c >= 0x2010 && c <= 0x2015) return 45;
  if (c === 0x2028 || c === 0x2029) return 10;
  if (c >= 0x202a && c <= 0x202e) return -1;
  if (c >= 0x2060 && c <= 0x2064) return -1;
  if (c >= 0xff01 && c <= 0xff5e) return c - 0xfee0;
  return c;
}

/**
 * The view of a non-ASCII text, or undefined when it has none of the characters the view folds. The caller
 * asks only for texts whose UTF-8 size differs from their length (ASCII text never needs a view).
 */
export function normalView(text: string): NormalView | undefined {
  if (!HIDDEN.test(text)) return undefined;
  const n = text.length;
  const map = new Int32Array(n + 1);
  const parts: string[] = [];
  let codes: number[] = [];
  let m = 0;
  for (let i = 0; i < n; i++) {
    const c = fold(text.charCodeAt(i));
    if (c < 0) continue;
    codes.push(c);
    map[m++] = i;
    if (codes.length === 4096) {
      parts.push(String.fromCharCode(...codes));
      codes = [];
    }
  }
  parts.push(String.fromCharCode(...codes));
  map[m] = n;
  return { text: parts.join(''), map: map.subarray(0, m + 1) };
}
