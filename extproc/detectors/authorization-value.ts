// HTTP authorization values written out in text: "Bearer <token>" and "Basic <base64 of user:password>".
// A bearer token must look like a credential (16+ characters, digits or mixed case, some entropy), so prose
// such as "bearer tokens" or "Basic authentication" does not match. A basic value must decode to "user:pass".
import { boundaryAt, classMix, entropy, hasAtFold, isAlnum, isBase64Char, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

const isBearerChar = (c: number): boolean => isAlnum(c) || c === 45 || c === 46 || c === 95 || c === 126 || c === 43 || c === 47 || c === 61;
const MAX = 4096;

function skipSpaces(text: string, j: number): number {
  let k = j;
  while (k < text.length && k < j + 4 && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
  return k;
}

export const bearerToken: CharDetector = {
  kind: 'char',
  id: 'secret.bearer_token',
  type: 'BEARER_TOKEN',
  triggers: 'rR',
  maxLength: MAX,
  at(text, i, report) {
    const s = i - 5;
    if (s < 0 || !hasAtFold(text, s, 'bearer') || !boundaryAt(text, s - 1)) return;
    const v = skipSpaces(text, i + 1);
    if (v === i + 1) return;
    let end = runEnd(text, v, isBearerChar, MAX + 1);
    while (end > v && text.charCodeAt(end - 1) === 46) end--;
    const n = end - v;
    if (n < 16 || n > MAX) return;
    const m = classMix(text, v, end);
    if (m.digit === 0 && (m.upper === 0 || m.lower === 0)) return;
    if (entropy(text, v, end) < 3) return;
    report(v, end);
  },
};

function decodesToUserPass(b64: string): boolean {
  const raw = Buffer.from(b64, 'base64').toString('latin1');
  const colon = raw.indexOf(':');
  if (colon <= 0 || colon === raw.length - 1) return false;
  for (let k = 0; k < raw.length; k++) {
    const c = raw.charCodeAt(k);
    if (c < 32 || c > 126) return false;
  }
  return true;
}

export const basicAuth: CharDetector = {
  kind: 'char',
  id: 'secret.basic_auth',
  type: 'BASIC_AUTH',
  triggers: 'cC',
  maxLength: 1024,
  at(text, i, report) {
    const s = i - 4;
    if (s < 0 || !hasAtFold(text, s, 'basic') || !boundaryAt(text, s - 1)) return;
    const v = skipSpaces(text, i + 1);
    if (v === i + 1) return;
    let end = runEnd(text, v, isBase64Char, 1021);
    let pad = 0;
    while (pad < 2 && text.charCodeAt(end) === 61) {
      end++;
      pad++;
    }
    const n = end - v;
    if (n < 8 || n > 1024 || n % 4 !== 0 || !boundaryAt(text, end, isBase64Char)) return;
    if (decodesToUserPass(text.slice(v, end))) report(v, end);
  },
};
