// AWS access key ids (AKIA long-term, ASIA temporary, ABIA/ACCA) and secret access keys. A secret key is a
// 40-character base64 string; alone it is indistinguishable from other base64, so it is reported only next
// to evidence: after a key id (within 200 characters) or after a keyword such as aws_secret_access_key.
import { boundaryAt, classMix, entropy, hasAt, hasAtFold, isAlnum, isBase64Char, isUpper, looksLikePlaceholder, runEnd } from './chars.ts';
import type { CharDetector, KeywordDetector } from './detector.ts';

const KEY_ID_PREFIXES = ['AKIA', 'ASIA', 'ABIA', 'ACCA'];
const isBase32Upper = (c: number): boolean => isUpper(c) || (c >= 50 && c <= 55);

/** Index past a key id starting at i, or -1. */
function keyIdEnd(text: string, i: number): number {
  // The boundary first: most `AB`, `AC`, `AS` pairs sit inside base64 runs and words, refused by one read.
  if (!boundaryAt(text, i - 1)) return -1;
  let known = false;
  for (const p of KEY_ID_PREFIXES) if (hasAt(text, i, p)) known = true;
  if (!known) return -1;
  const end = runEnd(text, i + 4, isBase32Upper, 17);
  return end - i === 20 && boundaryAt(text, end) && !looksLikePlaceholder(text, i + 4, end) ? end : -1;
}

export const awsAccessKeyId: CharDetector = {
  kind: 'char',
  id: 'secret.aws_access_key_id',
  type: 'AWS_ACCESS_KEY',
  triggers: 'A',
  next: 'KSBC',
  maxLength: 20,
  at(text, i, report) {
    const n = text.charCodeAt(i + 1);
    if (n !== 75 && n !== 83 && n !== 66 && n !== 67) return;
    const end = keyIdEnd(text, i);
    if (end > 0) report(i, end);
  },
};

const WINDOW = 200;
const isSecretChar = isBase64Char;

/** A 40-character base64 token at j with boundaries and a random look, or -1. */
function secretAt(text: string, j: number): number {
  if (!boundaryAt(text, j - 1, isSecretChar)) return -1;
  const end = runEnd(text, j, isSecretChar, 41);
  if (end - j !== 40 || !boundaryAt(text, end, isSecretChar)) return -1;
  const m = classMix(text, j, end);
  if (m.upper < 2 || m.lower < 2 || m.digit + (40 - m.upper - m.lower - m.digit) < 1) return -1;
  return entropy(text, j, end) >= 4 && !looksLikePlaceholder(text, j, end) ? end : -1;
}

/** The first secret-looking token in text[from, from + WINDOW). Skips over runs, so work is bounded by WINDOW. */
function findSecretAfter(text: string, from: number, report: (s: number, e: number) => void): void {
  const limit = Math.min(text.length, from + WINDOW);
  let j = from;
  while (j < limit) {
    if (isSecretChar(text.charCodeAt(j))) {
      const end = secretAt(text, j);
      if (end > 0) {
        report(j, end);
        return;
      }
      j = runEnd(text, j, isSecretChar, WINDOW);
    } else j++;
  }
}

const KEYWORDS = ['aws_secret_access_key', 'secret_access_key', 'secretaccesskey', 'aws_secret_key', 'aws-secret-access-key'];

const TAIL = KEYWORDS.map((k) => k.indexOf('ecret'));

/**
 * Secret keys after a key id or after a keyword. The scanner's keyword lookup finds "AKIA"/"ASIA"/"ABIA"/
 * "ACCA" in upper case only (key ids are upper case: written so, they stop the hot loop at `KI`, `SI`, `BI`, `CC`
 * and not at prose's `si` of "version") and "secret" in any case; a keyword counts when its "ecret" is all
 * lower or all upper case (then the whole keyword is matched case-insensitively).
 */
export const awsSecretAccessKey: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.aws_secret_access_key',
  type: 'AWS_SECRET_KEY',
  maxLength: 40,
  keywords: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'secret'],
  atKeyword(text, i, keyword, report) {
    if (keyword !== 'secret') {
      const end = keyIdEnd(text, i);
      if (end > 0) findSecretAfter(text, end, report);
      return;
    }
    const p = i + 1;
    if (!text.startsWith('ecret', p) && !text.startsWith('ECRET', p)) return;
    for (let k = 0; k < KEYWORDS.length; k++) {
      const kw = KEYWORDS[k] ?? '';
      const s = p - (TAIL[k] ?? 0);
      if (s >= 0 && hasAtFold(text, s, kw) && boundaryAt(text, s - 1, isAlnum)) {
        findSecretAfter(text, s + kw.length, report);
        break;
      }
    }
  },
};
