// The normalising view: a text with the characters that hide a value from detectors folded away (Unicode's
// default-ignorable code points removed: zero-width characters, soft hyphens, bidi controls and isolates, word
// joiners, invisible operators, variation selectors, Hangul fillers, tag characters; fullwidth ASCII forms,
// Unicode hyphens, every Unicode space and the line separators folded to ASCII), with a map back to the
// original. Built only for texts that contain such a character, from slices between them, and the map holds one
// entry per removed run only (hits are few, so each is looked up there).

/**
 * The code units that may start a character the view removes or folds: a superset, in at most 16 ranges. V8
 * tests a class of up to 16 ranges in a few compares per code unit; one range more made the test 3-5x slower
 * on Cyrillic, Japanese, Arabic and emoji text (Node 24, measured). So rare neighbours are merged in
 * (U+17B4-U+180F, U+FEFF-U+FFF8, the lead surrogates of U+1BC00-U+1D3FF and U+E0000-U+E0FFF) and `fold` decides
 * each flagged unit exactly. Adding a character here: keep the count of ranges at 16 or below. The class is of
 * single code units on purpose (joiners, variation selectors and lead surrogates each alone).
 */
/* eslint-disable no-misleading-character-class */
const FLAGGED =
  /[\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4-\u180f\u2000-\u2015\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff-\ufff8\ud82f-\ud834\udb40-\udb43]/;
const FLAGGED_ALL = new RegExp(FLAGGED.source, 'g');
/* eslint-enable no-misleading-character-class */

export interface NormalView {
  /** The folded text. */
  readonly text: string;
  /** View indices where characters were removed before them, ascending. */
  readonly at: readonly number[];
  /** Per entry of `at`: how many characters were removed before that view index in all. */
  readonly shift: readonly number[];
}

/** `fold`'s answer for a flagged code unit the view keeps as it is. */
const KEEP = 0;

/**
 * What the flagged code unit at i becomes in the view: KEEP, the ASCII code it is folded to, or -n: the n code
 * units from i are removed (1, or 2 for an astral character's surrogate pair). Removed are the
 * Default_Ignorable_Code_Point characters (with the reserved ones among them).
 */
function fold(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xff01 && c <= 0xff5e) return c - 0xfee0;
  if (c >= 0x2010 && c <= 0x2015) return 45;
  if (c === 0x2028 || c === 0x2029) return 10;
  // The Unicode spaces: no-break, Ogham, en to hair, narrow no-break, medium mathematical, ideographic.
  if (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f || c === 0x205f || c === 0x3000) return 32;
  if (c >= 0xd82f && c <= 0xdb43) {
    // Shorthand format controls U+1BCA0-U+1BCA3, musical format controls U+1D173-U+1D17A, and the tags, the
    // variation selectors supplement and the rest of U+E0000-U+E0FFF.
    const d = text.charCodeAt(i + 1);
    if (c === 0xd82f) return d >= 0xdca0 && d <= 0xdca3 ? -2 : KEEP;
    if (c === 0xd834) return d >= 0xdd73 && d <= 0xdd7a ? -2 : KEEP;
    return c >= 0xdb40 && d >= 0xdc00 && d <= 0xdfff ? -2 : KEEP;
  }
  // Khmer's inherent vowels and the Mongolian free variation selectors and vowel separator; the halfwidth
  // Hangul filler and U+FFF0-U+FFF8 after the BOM; of U+FEFF-U+FFF8 the fullwidth forms are folded above.
  if (c >= 0x17b4 && c <= 0x180f) return c <= 0x17b5 || c >= 0x180b ? -1 : KEEP;
  if (c >= 0xff00) return c === 0xffa0 || c >= 0xfff0 ? -1 : KEEP;
  // Soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, zero-width characters and
  // marks, bidi controls and isolates, word joiner, invisible operators, variation selectors, the BOM.
  return -1;
}

/**
 * The view of a non-ASCII text, or undefined when it has none of the characters the view folds. The caller
 * asks only for texts whose UTF-8 size differs from their length (ASCII text never needs a view).
 */
export function normalView(text: string): NormalView | undefined {
  if (!FLAGGED.test(text)) return undefined;
  const parts: string[] = [];
  const at: number[] = [];
  const shift: number[] = [];
  let last = 0;
  let removed = 0;
  FLAGGED_ALL.lastIndex = 0;
  for (let m = FLAGGED_ALL.exec(text); m !== null; m = FLAGGED_ALL.exec(text)) {
    const i = m.index;
    const c = fold(text, i);
    if (c === KEEP) continue;
    if (i > last) parts.push(text.slice(last, i));
    if (c > 0) {
      last = i + 1;
      parts.push(String.fromCharCode(c));
      continue;
    }
    last = i - c;
    removed -= c;
    const v = last - removed;
    if (at.length > 0 && at[at.length - 1] === v) shift[shift.length - 1] = removed;
    else {
      at.push(v);
      shift.push(removed);
    }
  }
  if (last === 0) return undefined;
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
