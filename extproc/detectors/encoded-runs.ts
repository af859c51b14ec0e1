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

/** The run of base64 characters around i (plus its `=` padding), not starting before `from`. */
export function base64Run(text: string, i: number, from: number): { start: number; end: number } {
  let s = i;
  while (s > from && inSet(B64, text.charCodeAt(s - 1))) s--;
  let e = i;
  const n = text.length;
  while (e < n && inSet(B64, text.charCodeAt(e))) e++;
  let pad = 0;
  while (e < n && pad < 2 && text.charCodeAt(e) === 61) {
    e++;
    pad++;
  }
  return { start: s, end: e };
}

/** The run of percent-token characters around i, not starting before `from`. */
export function percentRun(text: string, i: number, from: number): { start: number; end: number } {
  let s = i;
  while (s > from && inSet(PCT, text.charCodeAt(s - 1))) s--;
  let e = i;
  const n = text.length;
  while (e < n && inSet(PCT, text.charCodeAt(e))) e++;
  return { start: s, end: e };
}

/**
 * The bytes as UTF-8 text when they are mostly printable: ASCII printable characters and whitespace, and
 * characters of valid multi-byte sequences (an encoded `＠` or zero-width space is text, which the scanner's
 * normalising view then folds); C0 controls, DEL and invalid bytes (decoded as U+FFFD) are not. Random
 * binary is mostly invalid UTF-8, so it stays refused.
 */
function printableText(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  let ok = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if ((c >= 32 && c < 127) || c === 9 || c === 10 || c === 13 || (c >= 160 && c !== 0xfffd)) ok++;
  }
  return text.length > 0 && ok >= text.length * PRINTABLE_SHARE ? text : undefined;
}

/**
 * The first character of each 4-character group carries the top 6 bits of a byte: for printable ASCII, tab or
 * line breaks that is `C`, `D` or `I`-`f`. A run whose first groups mostly start otherwise cannot decode to
 * text, so most random tokens are refused after a few reads, without decoding.
 */
const TEXT_LEAD = new Uint8Array(128);
for (const ch of 'CDIJKLMNOPQRSTUVWXYZabcdef') TEXT_LEAD[ch.charCodeAt(0)] = 1;
const LEAD_GROUPS = 8;

function textLeads(run: string): boolean {
  const groups = Math.min(LEAD_GROUPS, run.length >> 2);
  let bad = 0;
  for (let g = 0; g < groups; g++) if (!inSet(TEXT_LEAD, run.charCodeAt(g << 2))) bad++;
  return bad * 10 <= groups;
}

/**
 * The decoded text of a base64 run (UTF-8), or undefined when it does not decode to mostly printable text.
 */
export function decodeBase64(run: string): string | undefined {
  if (!textLeads(run)) return undefined;
  const bytes = Buffer.from(run, 'base64');
  return printableText(bytes);
}

/** The decoded text of a percent-encoded run (`%XX` escapes; anything else kept), or undefined without one. */
export function decodePercent(run: string): string | undefined {
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
  const out = bytes.subarray(0, m);
  return printableText(out);
}
