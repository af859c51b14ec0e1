// Payment card numbers: 12-19 digits, written together or in the usual groups (4-4-4-4[-3], Amex 4-6-5,
// Diners 4-6-4) with one separator kind (space or '-'), a known issuer prefix (IIN), and a valid Luhn check.
// A card may sit inside a longer run of groups ("on 2024 4111 1111 1111 1111"): every window is tried.
import { isAlnum } from './chars.ts';
import type { NumberDetector, NumberToken } from './detector.ts';
import { digitsOf, groupLength, isolatedRun } from './number-token.ts';
import { luhnValid } from './validators.ts';

function prefixNum(d: string, n: number): number {
  return Number(d.slice(0, n));
}

/** Whether the digits start with a known issuer prefix that allows this length. */
export function knownIssuer(d: string): boolean {
  const len = d.length;
  const p1 = prefixNum(d, 1);
  const p2 = prefixNum(d, 2);
  const p3 = prefixNum(d, 3);
  const p4 = prefixNum(d, 4);
  if (p1 === 4) return len === 13 || len === 16 || len === 19; // Visa
  if (p2 >= 51 && p2 <= 55) return len === 16; // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return len === 16; // Mastercard 2-series
  if (p4 >= 2200 && p4 <= 2204) return len >= 16 && len <= 19; // Mir
  if (p2 === 34 || p2 === 37) return len === 15; // Amex
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return len >= 16 && len <= 19; // Discover
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14 && len <= 19; // Diners
  if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19; // JCB
  if (p2 === 62) return len >= 16 && len <= 19; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return len >= 12 && len <= 19; // Maestro
  return false;
}

/** Groups [g, g + n) form a card layout: one run, 4-4-4-4[-1..4] style, or Amex/Diners 4-6-5 / 4-6-4. */
function shapeOk(tok: NumberToken, g: number, n: number): boolean {
  if (n === 1) return true;
  if (groupLength(tok, g) !== 4) return false;
  if (n === 3 && groupLength(tok, g + 1) === 6) {
    const last = groupLength(tok, g + 2);
    return last === 5 || last === 4;
  }
  for (let k = 1; k < n; k++) {
    const l = groupLength(tok, g + k);
    if (k < n - 1 ? l !== 4 : l < 1 || l > 4) return false;
  }
  return true;
}

export const paymentCard: NumberDetector = {
  kind: 'number',
  minDigits: 12,
  // One group: 12-19 digits (the check below).
  lone: { digits: [12, 13, 14, 15, 16, 17, 18, 19] },
  id: 'pii.payment_card',
  type: 'CARD_NUMBER',
  maxLength: 19 + 4,
  onNumber(tok: NumberToken, report) {
    if (tok.digits < 12) return;
    for (let g = 0; g < tok.count; g++) {
      const first = groupLength(tok, g);
      // A card starts with a group of 4, or is one group of 12-19 digits, and its first digit is 2-6.
      if (first !== 4 && (first < 12 || first > 19)) continue;
      const lead = tok.text.charCodeAt(tok.starts[g] ?? 0);
      if (lead < 50 || lead > 54) continue;
      let total = 0;
      for (let n = 1; n <= 5 && g + n <= tok.count; n++) {
        total += groupLength(tok, g + n - 1);
        if (total > 19) break;
        if (total < 12 || !isolatedRun(tok, g, n, ' -', false)) continue;
        if (!shapeOk(tok, g, n)) continue;
        const start = tok.starts[g] ?? 0;
        const end = tok.ends[g + n - 1] ?? 0;
        // Not part of a longer identifier: "v4111…", "…1111x".
        if ((start > 0 && isAlnum(tok.text.charCodeAt(start - 1))) || isAlnum(tok.text.charCodeAt(end))) continue;
        const d = digitsOf(tok, g, n);
        if (knownIssuer(d) && luhnValid(d)) {
          report(start, end);
          g += n - 1;
          break;
        }
      }
    }
  },
};
