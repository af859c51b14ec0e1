// Values planted by the content-control e2e suites: fresh per run (so finding one in an output means it leaked
// in this run), shaped so the built-in detectors find them.
import { randomBytes, randomInt } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const pick = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet.charAt(randomInt(alphabet.length))).join('');

/** A Stripe live key: upper, lower and digits guaranteed. */
export const plantStripeKey = (): string => `sk_live_${pick('ABCDEFGHJKLMNPQRSTUVWXYZ', 4)}${pick('abcdefghijkmnopqrstuvwxyz', 4)}${pick('23456789', 4)}${pick(ALNUM, 16)}`;
export const plantEmail = (): string => `planted.${randomBytes(5).toString('hex')}@example.com`;
/** An AWS access key id (AKIA + 16 base32 characters). */
export const plantAwsKeyId = (): string => `AKIA${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
/** A US SSN outside the invalid ranges (area 100-665, group and serial non-zero). */
export const plantSsn = (): string => `${100 + randomInt(500)}-${10 + randomInt(89)}-${1000 + randomInt(8999)}`;

/** The substrings of `text` among `values` (empty when none leaked). */
export function leaked(text: string, values: readonly string[]): string[] {
  return values.filter((v) => text.includes(v));
}
