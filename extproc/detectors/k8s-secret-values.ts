// The value gates shared by the YAML and JSON readers of Kubernetes Secret manifests: a plain value must look
// like a secret; a `data` value must be base64 of printable text that does.
import { allChars, entropy, isAlnum, isDigit, isLower, isUpper, looksLikePlaceholder } from './chars.ts';
import { isPasswordPlaceholder } from './url-credentials.ts';

const MIN_SECRET = 8;
const isBase64Char = (c: number): boolean => isAlnum(c) || c === 43 || c === 47;

/** Printable text that looks like a secret: 8+ characters, two character classes, entropy, no placeholder. */
export function secretLooking(text: string, s: number, e: number): boolean {
  if (e - s < MIN_SECRET) return false;
  let upper = 0;
  let lower = 0;
  let digit = 0;
  let symbol = 0;
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    if (c < 32 || c === 127) { if (c !== 9 && c !== 10 && c !== 13) return false; }
    else if (isUpper(c)) upper = 1;
    else if (isLower(c)) lower = 1;
    else if (isDigit(c)) digit = 1;
    else if (c !== 46 && c !== 45 && c !== 32) symbol = 1;
  }
  if (upper + lower + digit + symbol < 2 || entropy(text, s, e) < 2.8) return false;
  return !looksLikePlaceholder(text, s, e) && !isPasswordPlaceholder(text.slice(s, e));
}

/** The decoded text of the base64 value [s, e), or undefined when it is not base64 of printable text. */
export function decodedText(text: string, s: number, e: number): string | undefined {
  let n = e;
  while (n > s && text.charCodeAt(n - 1) === 61 && e - n < 2) n--;
  if (!allChars(text, s, n, isBase64Char)) return undefined;
  if ((e - s) % 4 !== 0 && n !== e) return undefined;
  if ((n - s) % 4 === 1) return undefined;
  const bytes = Buffer.from(text.slice(s, e), 'base64');
  for (const b of bytes) if (b >= 128) return undefined;
  return bytes.toString('latin1');
}

