// The normalising view: a text with the characters that hide a value from detectors folded away (zero-width
// characters, soft hyphens and bidi controls removed; fullwidth ASCII forms, Unicode hyphens and spaces folded
// to ASCII), with a map back to the original. Built only for texts that contain such a character, from slices
// between them, and the map holds one entry per removed run only (hits are few, so each is looked up there).

/** The code points the view removes or folds. */
const HIDDEN = /[\u00a0\u00ad\u200b-\u2015\u2028-\u202e\u2060-\u2064\u3000\ufeff\uff01-\uff5e]/;
const HIDDEN_ALL = new RegExp(HIDDEN.source, 'g');

export interface NormalView {
  /** The folded text. */
  readonly text: string;
  /** View indices where characters were removed before them, ascending. */
  readonly at: readonly number[];
  /** Per entry of `at`: how many characters were removed before that view index in all. */
  readonly shift: readonly number[];
}

/** What a flagged code unit becomes in the view: -1 removed, otherwise the ASCII code it is folded to. */
function fold(c: number): number {
  if (c === 0xa0 || c === 0x3000) return 32;
  if (c >= 0x2010 && c <= 0x2015) return 45;
  if (c === 0x2028 || c === 0x2029) return 10;
  if (c >= 0xff01 && c <= 0xff5e) return c - 0xfee0;
  // Soft hyphen, zero-width characters and marks, bidi controls, word joiners, the BOM.
  return -1;
}

/**
 * The view of a non-ASCII text, or undefined when it has none of the characters the view folds. The caller
 * asks only for texts whose UTF-8 size differs from their length (ASCII text never needs a view).
 */
export function normalView(text: string): NormalView | undefined {
  if (!HIDDEN.test(text)) return undefined;
  const parts: string[] = [];
  const at: number[] = [];
  const shift: number[] = [];
  let last = 0;
  let removed = 0;
  HIDDEN_ALL.lastIndex = 0;
  for (let m = HIDDEN_ALL.exec(text); m !== null; m = HIDDEN_ALL.exec(text)) {
    const i = m.index;
    if (i > last) parts.push(text.slice(last, i));
    last = i + 1;
    const c = fold(text.charCodeAt(i));
    if (c >= 0) {
      parts.push(String.fromCharCode(c));
      continue;
    }
    removed++;
    const v = i + 1 - removed;
    if (at.length > 0 && at[at.length - 1] === v) shift[shift.length - 1] = removed;
    else {
      at.push(v);
      shift.push(removed);
    }
  }
  parts.push(text.slice(last));
  return { text: parts.join(''), at, shift };
}

/** The original index of the view's code unit at v (v may be the view's length: then the original's). */
export function originalIndex(view: NormalView, v: number): number {
  const at = view.at;
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((at[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? v : v + (view.shift[lo - 1] as number);
}
