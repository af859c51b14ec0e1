// The decoding layer's pieces: where a base64 / base64url run or a percent-encoded run around a position starts
// and ends, and its decoded text when that text is mostly printable. The scanner finds the runs in its hot
// loop, scans each decoded text once (one level, no recursion) and reports a finding there as the whole encoded
// run. Every run is decoded at most once and decodes to fewer characters than it has, so the decoded text of a
// scan is never longer than the scan's input.

/** Runs shorter than this are not decoded (24 base64 characters: 18 bytes, shorter than any credential). */
export const MIN_BASE64_RUN = 24;
/** Decoded text is scanned only when at least this share of its characters is printable (printableText). */
const PRINTABLE_SHARE = 0.9;

/** Base64 and base64url characters (both alphabets: a run is decoded leniently as either), by code below 256. */
export const B64 = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') B64[ch.charCodeAt(0)] = 1;
/** Characters of a percent-encoded token: unreserved characters and the escapes themselves. */
const PCT = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-._~+') PCT[ch.charCodeAt(0)] = 1;

const inSet = (set: Uint8Array, c: number): boolean => c < 128 && set[c] === 1;
const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/**
 * Whether position i may lie in a base64 run of MIN_BASE64_RUN (24) characters, by a few reads: such a run
 * holds either i to i + 11, or (ending sooner) i - 13 to i. Most camel-case words and prose fail both.
 */
export function mayBeBase64Run(text: string, i: number): boolean {
  const ahead = (k: number): boolean => inSet(B64, text.charCodeAt(i + k));
  if (ahead(11) && ahead(7) && ahead(3)) return true;
  return i >= 13 && ahead(-13) && ahead(-9) && ahead(-5);
}

/**
 * mayBeBase64Run on bytes (a Latin-1 copy of the text, one byte per code unit: the scanner's window) at the pair
 * whose second byte is b; bytes b - 13 to b + 11 must be in the buffer. Every byte is read: a camel-case name
 * (`TypeScript`, `localeCompare`) meets a space or a bracket within a few bytes either way, so the scanner
 * refuses it here without a call. A byte that stands for a code unit above 255 (its low byte) can only let a
 * place through to mayBeBase64Run on the text, never turn one away.
 */
export function mayBeRunBytes(bytes: Uint8Array, b: number): boolean {
  return allBase64(bytes, b + 1, b + 12) || allBase64(bytes, b - 13, b - 1);
}

/** Whether bytes [from, to) are all base64 characters. */
function allBase64(bytes: Uint8Array, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (B64[bytes[k] as number] !== 1) return false;
  return true;
}

/**
 * Base64 tools wrap their output in lines of one width (GNU `base64` and MIME at 76, PEM and `openssl base64` at
 * 64); a run this long or longer, a multiple of 4, that ends at a line break may go on at the next line.
 */
export const MIN_WRAP = 48;
/** Indentation (spaces or tabs) allowed before a wrapped line: YAML block scalars, indented code. */
const MAX_INDENT = 16;

/** A base64 run: `lines` > 1 when it is wrapped, and its text then holds line breaks and indentation. */
export interface Base64Run {
  start: number;
  end: number;
  lines: number;
}

/** The start of the base64 characters ending at i, not before `from`. */
function b64Start(text: string, i: number, from: number): number {
  let s = i;
  while (s > from && inSet(B64, text.charCodeAt(s - 1))) s--;
  return s;
}

/** The end of the base64 characters from i on (no padding). */
function b64End(text: string, i: number): number {
  let e = i;
  while (e < text.length && inSet(B64, text.charCodeAt(e))) e++;
  return e;
}

/** Where the next line's first non-indentation character is, when e is a line break (`\n` or `\r\n`); else -1. */
function nextLine(text: string, e: number): number {
  let k = e;
  if (text.charCodeAt(k) === 13) k++;
  if (text.charCodeAt(k) !== 10) return -1;
  k++;
  const limit = k + MAX_INDENT;
  while (k < limit && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
  return k;
}

/** Where the line ending just before position s (after its indentation) ends, when s starts a line; else -1. */
function previousLineEnd(text: string, s: number, from: number): number {
  let k = s;
  const limit = Math.max(from, s - MAX_INDENT);
  while (k > limit && (text.charCodeAt(k - 1) === 32 || text.charCodeAt(k - 1) === 9)) k--;
  if (k <= from || text.charCodeAt(k - 1) !== 10) return -1;
  k--;
  if (k > from && text.charCodeAt(k - 1) === 13) k--;
  return k;
}

/**
 * The run of base64 characters around i (plus its `=` padding), not starting before `from`. When it is one line
 * of base64 wrapped by a tool (every line but the last as long as the others, a multiple of 4 and at least
 * MIN_WRAP), the run takes in the lines before and after it, so a secret cut by a line break decodes whole. Each
 * character is read a bounded number of times.
 */
export function base64Run(text: string, i: number, from: number): Base64Run {
  const s = b64Start(text, i, from);
  const e = b64End(text, i);
  // Only a line of MIN_WRAP or more is looked at as part of wrapped output (the shorter last line of a block is
  // reached from the lines before it).
  if (e - s >= MIN_WRAP) return wrappedRun(text, s, e, from);
  return { start: s, end: e + padding(text, e), lines: 1 };
}

/** base64Run for a line [s, e) of MIN_WRAP or more: the wrapped lines around it, when there are any. */
function wrappedRun(text: string, s: number, e: number, from: number): Base64Run {
  const first = e - s;
  let lines = 1;
  let width = first;
  // Lines before: at least as long as this one (which may be the shorter last line), then all of one width.
  for (let pe = previousLineEnd(text, s, from); pe >= 0; pe = previousLineEnd(text, s, from)) {
    const ps = b64Start(text, pe, from);
    const w = pe - ps;
    if (w < MIN_WRAP || (w & 3) !== 0 || w < first || (lines > 1 && w !== width)) break;
    s = ps;
    width = w;
    lines++;
  }
  // Lines after, while the last line taken is a full one. A line taken is all base64 to its end (a line break,
  // the text's end, or a closing quote, bracket or separator), and a shorter last line closes its 4-groups.
  let last = first;
  while (last === width && (width & 3) === 0) {
    const ns = nextLine(text, e);
    if (ns < 0 || !inSet(B64, text.charCodeAt(ns))) break;
    const ne = b64End(text, ns);
    const w = ne - ns;
    const pad = padding(text, ne);
    if (w > width || !LINE_END[text.charCodeAt(ne + pad) & 127] || (w < width && ((w + pad) & 3) !== 0)) break;
    e = ne;
    last = pad > 0 ? 0 : w;
    lines++;
  }
  return { start: s, end: e + padding(text, e), lines };
}

/** The `=` padding at e (0-2 characters). */
function padding(text: string, e: number): number {
  let pad = 0;
  while (pad < 2 && text.charCodeAt(e + pad) === 61) pad++;
  return pad;
}

/** What may follow the last character of a wrapped line: past the text's end (NaN & 127 is 0), a line break, closing quotes, brackets, separators. */
const LINE_END = new Uint8Array(128);
for (const ch of '\0\r\n"\'`)]},;') LINE_END[ch.charCodeAt(0)] = 1;

/** The run of percent-token characters around i, not starting before `from`. */
export function percentRun(text: string, i: number, from: number): { start: number; end: number } {
  let s = i;
  while (s > from && inSet(PCT, text.charCodeAt(s - 1))) s--;
  let e = i;
  const n = text.length;
  while (e < n && inSet(PCT, text.charCodeAt(e))) e++;
  return { start: s, end: e };
}

/** Printable ASCII, tab or a line break. */
const asciiText = (c: number): boolean => (c >= 32 && c < 127) || c === 9 || c === 10 || c === 13;

/**
 * The bytes as text (UTF-8 unless told) when they are mostly printable: ASCII printable characters and whitespace, and
 * characters of valid multi-byte sequences (an encoded `＠` or zero-width space is text, which the scanner's
 * normalising view then folds); C0 controls, DEL and invalid bytes (decoded as U+FFFD) are not. Random
 * binary is mostly invalid UTF-8, so it stays refused.
 */
function printableText(bytes: Buffer, encoding: 'utf8' | 'utf16le' = 'utf8'): string | undefined {
  const text = bytes.toString(encoding);
  let ok = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (asciiText(c) || (c >= 160 && c !== 0xfffd)) ok++;
  }
  return text.length > 0 && ok >= text.length * PRINTABLE_SHARE ? text : undefined;
}

/**
 * The first character of each 4-character group carries the top 6 bits of a byte: for printable ASCII, tab or
 * line breaks that is `C`, `D` or `I`-`f`. A run whose first groups all start so may decode to ASCII text; the
 * others are checked byte by byte (textKind), so text in other scripts is decoded too.
 */
const TEXT_LEAD = new Uint8Array(128);
for (const ch of 'CDIJKLMNOPQRSTUVWXYZabcdef') TEXT_LEAD[ch.charCodeAt(0)] = 1;
const LEAD_GROUPS = 8;

function asciiLeads(run: string): boolean {
  const groups = Math.min(LEAD_GROUPS, run.length >> 2);
  let bad = 0;
  for (let g = 0; g < groups; g++) if (!inSet(TEXT_LEAD, run.charCodeAt(g << 2))) bad++;
  return bad * 10 <= groups;
}

/** Each base64 and base64url character's 6-bit value, -1 for anything else (padding included). */
const B64_VALUE = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((ch, v) => {
  B64_VALUE[ch.charCodeAt(0)] = v;
});
B64_VALUE[45] = 62; // '-'
B64_VALUE[95] = 63; // '_'
/** What the first bytes of a run read as: textKind's answers. */
const NOT_TEXT = 0;
const UTF8_TEXT = 1;
const UTF16_TEXT = 2;

/**
 * What the first 8 groups (24 bytes) of a run decode to, by the rule printableText applies to the whole run, 9
 * characters in 10 printable: UTF-8 text (ASCII or a well-formed sequence: `é`, `日`, an emoji; a sequence the
 * window cuts short is not counted), else UTF-16LE text of Latin characters (a printable ASCII byte, then 0:
 * PowerShell's `-EncodedCommand`), else neither. Bytes are decoded a group at a time and the check stops once
 * neither reading can pass (a third bad UTF-8 character, a second bad UTF-16 one), so random tokens, which are
 * malformed UTF-8 from their first bytes, cost a few reads and no allocation.
 */
function textKind(run: string): number {
  // A last group cut short by the run's end still gives its 1 or 2 bytes.
  const groups = Math.min(LEAD_GROUPS, (run.length + 3) >> 2);
  let chars = 0;
  let bad = 0;
  // UTF-8: continuation bytes still expected, and whether the open sequence is a C1 control (C2 80-9F).
  let need = 0;
  let c1 = false;
  // UTF-16LE: characters, bad ones, and whether the pair's low byte was printable ASCII.
  let chars16 = 0;
  let bad16 = 0;
  let low = false;
  let odd = true;
  for (let g = 0; g < groups && (bad < 3 || bad16 < 2); g++) {
    const k = g << 2;
    const a = B64_VALUE[run.charCodeAt(k) & 127] as number;
    const b = B64_VALUE[run.charCodeAt(k + 1) & 127] as number;
    const c = B64_VALUE[run.charCodeAt(k + 2) & 127] as number;
    const d = B64_VALUE[run.charCodeAt(k + 3) & 127] as number;
    // Padding or the run's end inside a group leaves 1 or 2 bytes in it.
    const n = (a | b) < 0 ? 0 : c < 0 ? 1 : d < 0 ? 2 : 3;
    for (let q = 0; q < n; q++) {
      const x = q === 0 ? (a << 2) | (b >> 4) : q === 1 ? ((b & 15) << 4) | (c >> 2) : ((c & 3) << 6) | d;
      if (odd) low = asciiText(x);
      else {
        chars16++;
        if (x !== 0 || !low) bad16++;
      }
      odd = !odd;
      if (need > 0) {
        if ((x & 0xc0) === 0x80) {
          if (c1 && x >= 0xa0) c1 = false;
          need--;
          if (need === 0) {
            chars++;
            if (c1) bad++;
          }
          continue;
        }
        // A sequence cut by a byte that does not continue it is one bad character; the byte is read anew.
        chars++;
        bad++;
        need = 0;
      }
      if (x < 0x80) {
        chars++;
        if (!asciiText(x)) bad++;
      } else if (x >= 0xc2 && x < 0xf5) {
        need = x < 0xe0 ? 1 : x < 0xf0 ? 2 : 3;
        c1 = x === 0xc2;
      } else {
        chars++;
        bad++;
      }
    }
    if (n < 3) break;
  }
  if (chars > 0 && bad * 10 <= chars) return UTF8_TEXT;
  return chars16 > 0 && bad16 * 10 <= chars16 ? UTF16_TEXT : NOT_TEXT;
}

/**
 * The decoded text of a base64 run (UTF-8, or UTF-16LE when it reads so), or undefined when it does not decode
 * to mostly printable text.
 */
export function decodeBase64(run: string): string | undefined {
  if (asciiLeads(run)) return printableText(Buffer.from(run, 'base64'));
  const kind = textKind(run);
  if (kind === NOT_TEXT) return undefined;
  return printableText(Buffer.from(run, 'base64'), kind === UTF8_TEXT ? 'utf8' : 'utf16le');
}

/** The decoded text of a percent-encoded run (`%XX` escapes; anything else kept), or undefined without one. */
export function decodePercent(run: string, level = 1): string | undefined {
  const bytes = Buffer.allocUnsafe(run.length);
  let m = 0;
  let escapes = 0;
  for (let k = 0; k < run.length; k++) {
    const c = run.charCodeAt(k);
    const hi = c === 37 && k + 2 < run.length ? hexValue(run.charCodeAt(k + 1)) : -1;
    const lo = hi >= 0 ? hexValue(run.charCodeAt(k + 2)) : -1;
    if (lo >= 0) {
      bytes[m++] = (hi << 4) | lo;
      escapes++;
      k += 2;
    } else bytes[m++] = c & 255;
  }
  if (escapes === 0) return undefined;
  const text = printableText(bytes.subarray(0, m));
  // Encoded twice or three times (`%252D`, a URL carried in a query parameter): ASCII text with escapes left is
  // decoded again, and the deepest text that decodes is scanned.
  if (text !== undefined && level < MAX_PERCENT_LEVELS && ESCAPE.test(text) && ASCII.test(text)) return decodePercent(text, level + 1) ?? text;
  return text;
}

/** How many times a percent-encoded token is decoded at most. */
const MAX_PERCENT_LEVELS = 3;
const ESCAPE = /%[0-9A-Fa-f]{2}/;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
