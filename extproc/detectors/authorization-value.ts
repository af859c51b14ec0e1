// HTTP authorization values written out in text: "Bearer <token>" and "Basic <base64 of user:password>".
// A bearer token must look like a credential (16+ characters, digits or mixed case, some entropy), so prose
// such as "bearer tokens" or "Basic authentication" does not match. A basic value must decode to "user:pass", or
// after an `Authorization` header name to a user name and a ':' (an empty password, bytes not printable).
import { boundaryAt, classMix, entropy, hasAtFold, isAlnum, isBase64Char, isQuote, runEnd } from './chars.ts';
import type { KeywordDetector } from './detector.ts';
import { decodesToUserColon, decodesToUserPass } from './validators.ts';

/** The scanner finds the keyword in any case; it counts when all letters after the first share one case. */
function tailOneCase(text: string, i: number, n: number): boolean {
  const c = text.charCodeAt(i + 1);
  const upper = c >= 65 && c <= 90;
  for (let k = i + 2; k < i + n; k++) {
    const d = text.charCodeAt(k);
    if ((d >= 65 && d <= 90) !== upper) return false;
  }
  return true;
}

const isBearerChar = (c: number): boolean => isAlnum(c) || c === 45 || c === 46 || c === 95 || c === 126 || c === 43 || c === 47 || c === 61;
const MAX = 4096;

function skipSpaces(text: string, j: number): number {
  let k = j;
  while (k < text.length && k < j + 4 && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
  return k;
}

function bearerAt(text: string, i: number, report: (s: number, e: number) => void): void {
    if (!boundaryAt(text, i - 1)) return;
    const v = skipSpaces(text, i + 6);
    if (v === i + 6) return;
    let end = runEnd(text, v, isBearerChar, MAX + 1);
    while (end > v && text.charCodeAt(end - 1) === 46) end--;
    const n = end - v;
    if (n < 16 || n > MAX) return;
    const m = classMix(text, v, end);
    if (m.digit === 0 && (m.upper === 0 || m.lower === 0)) return;
    if (entropy(text, v, end) < 3) return;
    report(v, end);
}

export const bearerToken: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.bearer_token',
  type: 'BEARER_TOKEN',
  maxLength: MAX,
  keywords: ['bearer'],
  atKeyword(text, i, _keyword, report) {
    if (tailOneCase(text, i, 6)) bearerAt(text, i, report);
  },
};

function basicAt(text: string, i: number, report: (s: number, e: number) => void): void {
    if (!boundaryAt(text, i - 1)) return;
    const v = skipSpaces(text, i + 5);
    if (v === i + 5) return;
    let end = runEnd(text, v, isBase64Char, 1021);
    let pad = 0;
    while (pad < 2 && text.charCodeAt(end) === 61) {
      end++;
      pad++;
    }
    const n = end - v;
    if (n < 8 || n > 1024 || n % 4 !== 0 || !boundaryAt(text, end, isBase64Char)) return;
    const b64 = text.slice(v, end);
    if (decodesToUserPass(b64) || (afterAuthorizationName(text, i) && decodesToUserColon(b64))) report(v, end);
}

/**
 * Whether the scheme at i is the value of an `Authorization` header (`Authorization: Basic`, `"authorization":
 * "Basic`): there the value is a credential by construction, also with an empty password (a key sent as the
 * user, `key:`) or bytes that are not printable.
 */
function afterAuthorizationName(text: string, i: number): boolean {
  let k = i;
  if (isQuote(text.charCodeAt(k - 1))) k--;
  while (k > i - 5 && (text.charCodeAt(k - 1) === 32 || text.charCodeAt(k - 1) === 9)) k--;
  if (text.charCodeAt(k - 1) !== 58) return false;
  k--;
  if (isQuote(text.charCodeAt(k - 1))) k--;
  return k >= 13 && hasAtFold(text, k - 13, 'authorization') && !isAlnum(text.charCodeAt(k - 14));
}

export const basicAuth: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.basic_auth',
  type: 'BASIC_AUTH',
  maxLength: 1024,
  keywords: ['basic'],
  atKeyword(text, i, _keyword, report) {
    if (tailOneCase(text, i, 5)) basicAt(text, i, report);
  },
};
