// Credentials in HTTP header lines written out in text (curl -H, HTTP dumps, JSON header maps): the value of
// `Authorization:` with any scheme but Bearer and Basic (they have their own detectors) or with none
// (`Token …`, `Api-Token …`, `SSWS …`, a bare key), and the value of key headers (`apikey:`, `x-api-key:`,
// `api-token:`, `X-Octopus-ApiKey:`, `private-token:`, `x-auth-token:`, `access-token:`,
// `Ocp-Apim-Subscription-Key:`). The value must look like a credential: 16+ token characters with digits or random
// mixed case (not a CamelCase type name), entropy ≥ 3 bits (2.75 for 16-23 hex digits), no placeholder shape, no `key=value` parameters (SigV4, Digest), no code reference
// (`process.env.API_KEY`). Only the value
// is reported.
import { boundaryAt, classMix, entropy, hasAtFold, isAlnum, isAlpha, isCodeReference, isQuote, looksLikePlaceholder, randomCase, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';
import { enoughEntropy } from './generic-secret.ts';

const isValueChar = (c: number): boolean => isAlnum(c) || c === 45 || c === 46 || c === 95 || c === 126 || c === 43 || c === 47 || c === 61 || c === 58;
const isSchemeChar = (c: number): boolean => isAlnum(c) || c === 45;
const MAX = 4096;
const MIN = 16;

/** Skips up to `max` spaces or tabs. */
function spaces(text: string, j: number, max: number): number {
  let k = j;
  while (k < text.length && k < j + max && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
  return k;
}

/** Whether text[v, end) passes the credential gate (see the header comment). */
export function credentialLike(text: string, v: number, end: number): boolean {
  const n = end - v;
  if (n < MIN || n > MAX) return false;
  // '=' only as trailing padding; ':' not at all outside a key's body (`user:pass` is Basic's business).
  let pad = end;
  while (pad > v && text.charCodeAt(pad - 1) === 61) pad--;
  for (let k = v; k < pad; k++) {
    const c = text.charCodeAt(k);
    if (c === 61 || c === 58) return false;
  }
  const m = classMix(text, v, end);
  if (m.digit === 0 && (m.upper === 0 || m.lower === 0 || !randomCase(text, v, end))) return false;
  return enoughEntropy(text, v, end, entropy(text, v, end)) && !looksLikePlaceholder(text, v, end) && !isCodeReference(text, v, end);
}

/** Index past the header value's credential starting at v, or -1. */
function valueEnd(text: string, v: number): number {
  let end = runEnd(text, v, isValueChar, MAX + 1);
  while (end > v && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 58)) end--;
  return credentialLike(text, v, end) ? end : -1;
}

const NAMES = ['authorization', 'apikey', 'api-key', 'api-token', 'auth-token', 'private-token', 'access-token', 'subscription-key'];
/** The names' last letters: before the ':' stands one of them (either case), a closing quote or spaces. */
const LAST_LETTERS = [...new Set(NAMES.map((n) => n.slice(-1)))].join('');
const isLastLetter = (c: number): boolean => LAST_LETTERS.includes(String.fromCharCode(c | 32));
const isBlank = (c: number): boolean => c === 32 || c === 9;
/** Whether some name ends in these two characters (either case; `| 32` folds more than letters: it only admits more). */
const endsName = (second: number, last: number): boolean => NAMES.some((n) => n.charCodeAt(n.length - 2) === (second | 32) && n.charCodeAt(n.length - 1) === (last | 32));

/** The header name (one of NAMES) that ends just before `e`, case-insensitively and as a whole name part. */
function nameBefore(text: string, e: number): string | undefined {
  // Every name ends in 'n' or 'y': one comparison rejects most separators.
  const last = text.charCodeAt(e - 1) | 32;
  if (last !== 110 && last !== 121) return undefined;
  for (const name of NAMES) {
    const s = e - name.length;
    // `X-Api-Key:` yes (a '-' before the name is fine), `myapikey:` no.
    if (s >= 0 && hasAtFold(text, s, name) && boundaryAt(text, s - 1)) return name;
  }
  return undefined;
}

/**
 * Called at each ':' after a letter, a quote or a space: the header name is looked up backwards (through an
 * optional closing quote and two spaces), so header names cost nothing where no ':' follows them.
 */
export const headerCredential: CharDetector = {
  kind: 'char',
  id: 'secret.header_credential',
  type: 'API_KEY',
  triggers: ':',
  prev: `${LAST_LETTERS}${LAST_LETTERS.toUpperCase()}"' \t`,
  // Right after the name, its last two letters; after a quote, the name's last letter; after a space, another
  // space, a quote or that letter (see `at`). Tabulated once by the scanner.
  before: (p2, p) => endsName(p2, p) || (isQuote(p) && isLastLetter(p2)) || (isBlank(p) && (isBlank(p2) || isQuote(p2) || isLastLetter(p2))),
  // Through a closing quote or one space, the name's last two letters.
  before3: (p3, p2, p) => (isQuote(p) || (isBlank(p) && !isBlank(p2) && !isQuote(p2)) ? endsName(p3, p2) : true),
  maxLength: MAX,
  at(text, colon, report) {
    let e = colon;
    while (e > colon - 2 && (text.charCodeAt(e - 1) === 32 || text.charCodeAt(e - 1) === 9)) e--;
    const q = text.charCodeAt(e - 1);
    if (q === 34 || q === 39) e--;
    const name = nameBefore(text, e);
    if (name === undefined) return;
    let j = spaces(text, colon + 1, 4);
    const oq = text.charCodeAt(j);
    if (oq === 34 || oq === 39) j++;
    if (name !== 'authorization') {
      const end = valueEnd(text, j);
      if (end > 0) report(j, end);
      return;
    }
    // Authorization: [scheme ]credential. A first word followed by a space is the scheme.
    const w = runEnd(text, j, isSchemeChar, 26);
    const t = spaces(text, w, 4);
    if (w > j && w - j <= 25 && t > w && isAlpha(text.charCodeAt(j))) {
      const scheme = text.slice(j, w).toLowerCase();
      if (scheme === 'bearer' || scheme === 'basic') return;
      const end = valueEnd(text, t);
      if (end > 0) report(t, end);
      return;
    }
    const end = valueEnd(text, j);
    if (end > 0) report(j, end);
  },
};
