// age private keys: "AGE-SECRET-KEY-1" + 58 upper-case bech32 characters, whose last 6 are the bech32
// checksum over the human-readable part "age-secret-key-" and the data; the checksum is verified.
import { prefixedToken } from './prefixed-token.ts';

const CHARSET = 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L';
const VALUE = new Int8Array(128).fill(-1);
for (let k = 0; k < CHARSET.length; k++) VALUE[CHARSET.charCodeAt(k)] = k;
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
const HRP = 'age-secret-key-';

function polymodStep(chk: number, v: number): number {
  const top = chk >>> 25;
  let c = ((chk & 0x1ffffff) << 5) ^ v;
  for (let k = 0; k < 5; k++) if ((top >>> k) & 1) c ^= GEN[k] ?? 0;
  return c;
}

/** Bech32 (BIP 173) checksum over HRP and text[b, end) (upper-case data characters). */
export function bech32Valid(hrp: string, text: string, b: number, end: number): boolean {
  let chk = 1;
  for (let k = 0; k < hrp.length; k++) chk = polymodStep(chk, hrp.charCodeAt(k) >> 5);
  chk = polymodStep(chk, 0);
  for (let k = 0; k < hrp.length; k++) chk = polymodStep(chk, hrp.charCodeAt(k) & 31);
  for (let k = b; k < end; k++) {
    const v = VALUE[text.charCodeAt(k) & 127] ?? -1;
    if (v < 0 || text.charCodeAt(k) > 127) return false;
    chk = polymodStep(chk, v);
  }
  return chk === 1;
}

const isDataChar = (c: number): boolean => c < 128 && (VALUE[c] ?? -1) >= 0;

export const agePrivateKey = prefixedToken({
  id: 'secret.age_private_key',
  type: 'AGE_PRIVATE_KEY',
  prefixes: ['AGE-SECRET-KEY-'],
  body: (c) => isDataChar(c) || c === 49,
  minBody: 59,
  maxBody: 59,
  placeholders: false,
  validate: (text, _s, b, end) => text.charCodeAt(b) === 49 && bech32Valid(HRP, text, b + 1, end),
});
