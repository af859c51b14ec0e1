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
/**
 * A 16-digit Visa-range card number with its Luhn check digit, as a number: under 2^53, so a JSON number holds it
 * exactly (a tool's schema may type a card number as an integer).
 */
export function plantCardNumber(): number {
  const digits = [4, ...Array.from({ length: 14 }, () => randomInt(10))];
  const sum = digits.reduce((acc, d, i) => acc + (i % 2 === 0 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d), 0);
  return Number(`${digits.join('')}${(10 - (sum % 10)) % 10}`);
}
/** A US SSN outside the invalid ranges (area 100-665, group and serial non-zero). */
export const plantSsn = (): string => `${100 + randomInt(500)}-${10 + randomInt(89)}-${1000 + randomInt(8999)}`;

/** The substrings of `text` among `values` (empty when none leaked). */
export function leaked(text: string, values: readonly string[]): string[] {
  return values.filter((v) => text.includes(v));
}
