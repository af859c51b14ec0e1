// Checksums of GitHub/npm-style tokens, written independently of extproc/detectors/validators.ts so the
// tests that make valid tokens do not trust the code they check.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE) of a string's char codes (tokens are ASCII). */
export function crc32(s: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < s.length; i++) crc = (CRC_TABLE[(crc ^ s.charCodeAt(i)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `n` in base 62, left-padded with zeros to six digits (the checksum tail of GitHub and npm tokens). */
export function base62(n: number): string {
  let s = '';
  for (let v = n; v > 0; v = Math.floor(v / 62)) s = B62.charAt(v % 62) + s;
  return s.padStart(6, '0');
}
