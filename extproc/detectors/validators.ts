// Checksums used by detectors and by custom detectors (`validator:` in the policy file).
import { crc32 } from 'node:zlib';

/** Luhn (mod 10) over the digits of `digits` (non-digits must already be removed). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** ISO 7064 MOD 97-10 as used by IBAN: move the first 4 characters to the end, letters A=10..Z=35, remainder 1. */
export function mod97Valid(iban: string): boolean {
  if (iban.length < 5) return false;
  const s = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 (0-9A-Za-z) of an unsigned 32-bit value, left-padded with '0' to `width`. */
export function base62(n: number, width: number): string {
  let v = n >>> 0;
  let out = '';
  do {
    out = BASE62.charAt(v % 62) + out;
    v = Math.floor(v / 62);
  } while (v > 0);
  return out.padStart(width, '0');
}

/**
 * GitHub's (and npm's) token checksum: the last 6 characters are the base62 CRC32 of the random part
 * between the 4-character prefix and the checksum.
 */
export function crc32Base62Valid(token: string, prefixLength: number): boolean {
  if (token.length < prefixLength + 7) return false;
  const body = token.slice(prefixLength, -6);
  return base62(crc32(body), 6) === token.slice(-6);
}

/** Generic CRC32 validator for custom detectors: the last 6 characters are base62 CRC32 of the rest after `_`. */
export function crc32SuffixValid(match: string): boolean {
  const us = match.indexOf('_');
  return crc32Base62Valid(match, us + 1);
}

export type ValidatorKind = 'luhn' | 'mod97' | 'crc32';

/** Runs a named validator over a custom detector's match (digits only for luhn; alphanumerics for mod97). */
export function runValidator(kind: ValidatorKind, match: string): boolean {
  switch (kind) {
    case 'luhn':
      return luhnValid(match.replace(/[^0-9]/g, ''));
    case 'mod97':
      return mod97Valid(match.replace(/[^0-9A-Za-z]/g, '').toUpperCase());
    case 'crc32':
      return crc32SuffixValid(match);
  }
}

/** Whether raw[0, end) is all printable ASCII, space (32) included or not. */
function printable(raw: string, end: number, space: boolean): boolean {
  for (let k = 0; k < end; k++) {
    const c = raw.charCodeAt(k);
    if (c < (space ? 32 : 33) || c > 126) return false;
  }
  return true;
}

/** Whether base64 text decodes to printable "user:password" (a Basic credential, a docker/.npmrc `auth` entry). */
export function decodesToUserPass(b64: string): boolean {
  const raw = Buffer.from(b64, 'base64').toString('latin1');
  const colon = raw.indexOf(':');
  return colon > 0 && colon !== raw.length - 1 && printable(raw, raw.length, true);
}

/**
 * Whether base64 text decodes to a user name of 3+ printable characters without spaces, then ':' and anything (an
 * empty password, bytes not printable): what a Basic value after an `Authorization` header name must be.
 */
export function decodesToUserColon(b64: string): boolean {
  const raw = Buffer.from(b64, 'base64').toString('latin1');
  const colon = raw.indexOf(':');
  return colon >= 3 && printable(raw, colon, false);
}
