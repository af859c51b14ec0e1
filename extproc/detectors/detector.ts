// The detector contract. Every built-in detector is a hand-written scanner: the scanner calls it at
// trigger characters, and it does work bounded by its own constant (maxLength) per call, so a scan is
// linear in the input. Detectors never keep or return matched text: only offsets.

interface DetectorBase {
  /** Stable id, e.g. "secret.aws_access_key_id". */
  readonly id: string;
  /** Data type, e.g. "AWS_ACCESS_KEY"; placeholders are named after it. */
  readonly type: string;
  /** The longest match this detector can report (bounds the stream hold-back). */
  readonly maxLength: number;
}

/** Called at each occurrence of one of `triggers` (single characters). */
export interface CharDetector extends DetectorBase {
  readonly kind: 'char';
  readonly triggers: string;
  /** When set, the scanner calls `at` only if the character before the trigger is one of these (ASCII). */
  readonly prev?: string;
  /** When set, the scanner calls `at` only if the character after the trigger is one of these (ASCII). */
  readonly next?: string;
  /**
   * When set, the scanner calls `at` only if this admits the two code units before the trigger: `prev2` two
   * before it, `prev` just before it, each an ASCII code as it is, or 128 for any other code unit and for none
   * (before the text's start). Tabulated once when the scanner is built (into its dispatch tables), applied with
   * `prev` and `next`: it only saves calls (a prefix such as `xoxb-`, whose `-` follows a letter that ends many
   * words; a name read backwards from a separator, through a closing quote or spaces), so it must admit every
   * pair at which `at` could report.
   */
  readonly before?: (prev2: number, prev: number) => boolean;
  /**
   * When set, like `before` one code unit further back (`prev3` three before the trigger, coded alike), for a
   * name read backwards through a closing quote or a space (`"name": `, `name = `). Tabulated once per
   * (`prev2`, `prev`) the scanner looks up; it only saves calls, so it too must admit every place at which `at`
   * could report.
   */
  readonly before3?: (prev3: number, prev2: number, prev: number) => boolean;
  /**
   * When set, a shared precheck: detectors with the same `gate` function that trigger at one character are
   * skipped together when it fails, and it runs once for all of them (vendor names on assignments).
   */
  readonly gate?: (text: string, i: number) => boolean;
  /** `memo` is fresh for each scanned text: detectors cache far-reaching searches there to stay linear. */
  at(text: string, i: number, report: (start: number, end: number) => void, memo: Map<string, number>): void;
}

/**
 * A run of digits and single separators (space, '-', '.') between digits, pre-split into groups by the
 * scanner: numeric detectors (cards, SSN, IP, national ids...) look at the groups instead of each rescanning
 * the digits.
 */
export interface NumberToken {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** Group i (i < count) covers [starts[i], ends[i]) and is all digits; entries from count on are stale. */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly count: number;
  /** Total digits over all groups: detectors reject short tokens with one comparison. */
  readonly digits: number;
}

export interface NumberDetector extends DetectorBase {
  readonly kind: 'number';
  /** Tokens with fewer digits are never passed to this detector. */
  readonly minDigits: number;
  /*
   * Optional prefilters the scanner checks before calling onNumber, so most tokens cost no call at all. They
   * only skip tokens the detector would reject anyway: onNumber still does every check itself.
   */
  /** Tokens with more digits are never passed to this detector. */
  readonly maxDigits?: number;
  /** Only tokens with one of these group counts are passed (1 to 24). */
  readonly groupCounts?: readonly number[];
  /**
   * Only tokens whose preceding code unit passes are passed (a space is assumed at the start of the text). The
   * scanner tabulates it once per ASCII code and once, as 128, for all others: it must treat every code ≥ 128 alike.
   */
  readonly prev?: (c: number) => boolean;
  /**
   * Tokens with fewer than `below` digits are passed only when the code unit after the token passes `next` and
   * the one after that passes `then` (a detector that reads on past a short token for more digits, such as a
   * phone number, needs separators and a digit there). Tabulated like `prev`: every code ≥ 128 alike. `below` is
   * at most 32.
   */
  readonly shortTokens?: { readonly below: number; readonly next: (c: number) => boolean; readonly then: (c: number) => boolean };
  /**
   * Tokens of one group (no separator inside: `1717171717`, `123456789012`) are passed only when their digit
   * count is in `digits` (each below 32) and the code units before and after the token pass `around` (0 after the
   * end of the text; tabulated like `prev`). Most digit runs of technical text are single groups.
   */
  readonly lone?: { readonly digits?: readonly number[]; readonly around?: (prev: number, next: number) => boolean };
  onNumber(tok: NumberToken, report: (start: number, end: number) => void): void;
}

/**
 * Called at each case-insensitive (ASCII) occurrence of one of `keywords`. The scanner's hot loop stops at each
 * keyword's least likely pair of neighbouring characters (its pair table), so a keyword costs nothing on text
 * that lacks that pair; keywords are 3+ characters and not all digits.
 */
export interface KeywordDetector extends DetectorBase {
  readonly kind: 'keyword';
  /**
   * ASCII words (at least 3 characters of a-z, 0-9, `_`, `-`, `.`, `~`), in lower case to be found in any letter
   * case. A word written with an upper-case letter (`AKIA`) is one the detector needs in exactly that case: the
   * hot loop stops only at its marked pair as written (other cases may still be passed on where another
   * keyword marks the same pair, so the detector checks the case itself).
   */
  readonly keywords: readonly string[];
  /**
   * `keyword` is the entry of `keywords` found at i, lower-cased (in any letter case: the detector checks the case it needs).
   * `memo` is fresh for each scanned text (as for char detectors); callers outside the scanner may omit it.
   */
  atKeyword(text: string, i: number, keyword: string, report: (start: number, end: number) => void, memo?: Map<string, number>): void;
}

/** A detector that scans the whole text itself (custom operator patterns on V8's linear engine). */
export interface TextDetector extends DetectorBase {
  readonly kind: 'text';
  scanText(text: string, report: (start: number, end: number) => void): void;
}

export type Detector = CharDetector | NumberDetector | KeywordDetector | TextDetector;
