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
 * (U+17B4-U+180F, U+FEFF-U+FFF8, the lead surrogates of U+1BC00-U+1D3FF and U+E0000-U+E0FFF) and `ACTION`
 * decides each code unit exactly. Adding a character here: keep the count of ranges at 16 or below. The class
 * is of single code units on purpose (joiners, variation selectors and lead surrogates each alone).
 */
/* eslint-disable no-misleading-character-class */
const FLAGGED =
  /[\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4-\u180f\u2000-\u2015\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff-\ufff8\ud82f-\ud834\udb40-\udb43]/;
const FLAGGED_ALL = new RegExp(FLAGGED.source, 'g');
/* eslint-enable no-misleading-character-class */

/** `ACTION`'s entries besides 0 (kept) and an ASCII code (folded to it). */
const REMOVE = 128;
/** A lead surrogate: the pair is removed when it is one of the astral default-ignorables (`astralIgnorable`). */
const LEAD = 129;

/** What each code unit becomes in the view: 0 kept, an ASCII code it is folded to, REMOVE or LEAD. */
const ACTION = new Uint8Array(0x10000);
{
  const set = (from: number, to: number, action: number | ((c: number) => number)): void => {
    for (let c = from; c <= to; c++) ACTION[c] = typeof action === 'number' ? action : action(c);
  };
  // Default_Ignorable_Code_Point below U+10000: soft hyphen, combining grapheme joiner, Arabic letter mark,
  // Hangul fillers, Khmer inherent vowels, Mongolian free variation selectors and vowel separator, zero-width
  // characters and marks, bidi controls and isolates, word joiner and invisible operators (U+2065 reserved),
  // variation selectors, the BOM, and the reserved U+FFF0-U+FFF8.
  for (const [from, to] of [[0xad, 0xad], [0x34f, 0x34f], [0x61c, 0x61c], [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180b, 0x180f], [0x200b, 0x200f], [0x202a, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0], [0xfff0, 0xfff8]] as const) set(from, to, REMOVE);
  // The Unicode spaces (Space_Separator) but U+0020: no-break, Ogham, en to hair, narrow no-break, medium
  // mathematical, ideographic.
  for (const [from, to] of [[0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]] as const) set(from, to, 32);
  set(0x2010, 0x2015, 45);
  set(0x2028, 0x2029, 10);
  set(0xff01, 0xff5e, (c) => c - 0xfee0);
  set(0xd82f, 0xd82f, LEAD);
  set(0xd834, 0xd834, LEAD);
  set(0xdb40, 0xdb43, LEAD);
}

/**
 * Whether the surrogate pair lead, trail is an astral default-ignorable: shorthand format controls
 * U+1BCA0-U+1BCA3, musical format controls U+1D173-U+1D17A, or U+E0000-U+E0FFF (tags, the variation selectors
 * supplement, the rest reserved).
 */
function astralIgnorable(lead: number, trail: number): boolean {
  if (lead === 0xd82f) return trail >= 0xdca0 && trail <= 0xdca3;
  if (lead === 0xd834) return trail >= 0xdd73 && trail <= 0xdd7a;
  return trail >= 0xdc00 && trail <= 0xdfff;
}

export interface NormalView {
  /** The folded text. */
  readonly text: string;
  /** View indices where characters were removed before them, ascending. */
  readonly at: readonly number[];
  /** Per entry of `at`: how many characters were removed before that view index in all. */
  readonly shift: readonly number[];
}

/**
 * The view of a non-ASCII text, or undefined when it has none of the characters the view folds. The caller
 * asks only for texts whose UTF-8 size differs from their length (ASCII text never needs a view). The regexp
 * skips to each flagged code unit (a loop over every code unit from the first cost 30% more on prose with em
 * dashes; it paid only where flagged characters are dense, such as emoji with U+FE0F).
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
    const a = ACTION[text.charCodeAt(i)] as number;
    if (a === 0 || (a === LEAD && !astralIgnorable(text.charCodeAt(i), text.charCodeAt(i + 1)))) continue;
    if (i > last) parts.push(text.slice(last, i));
    if (a < REMOVE) {
      last = i + 1;
      parts.push(String.fromCharCode(a));
      continue;
    }
    last = a === LEAD ? i + 2 : i + 1;
    removed += last - i;
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
