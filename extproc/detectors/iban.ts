// International Bank Account Numbers: a country code with its fixed IBAN length, two check digits, and a
// valid ISO 7064 mod-97 checksum; written compact or in groups of four separated by single spaces.
import { isAlnum, isDigit, isUpper } from './chars.ts';
import type { NumberDetector } from './detector.ts';
import { mod97Valid } from './validators.ts';

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25,
  QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20,
};

const isIbanChar = (c: number): boolean => isDigit(c) || isUpper(c);

export const iban: NumberDetector = {
  kind: 'number',
  minDigits: 2,
  // The country code's second letter sits just before the check digits.
  prev: isUpper,
  id: 'pii.iban',
  type: 'IBAN',
  maxLength: 34 + 8,
  onNumber(tok, report) {
    const text = tok.text;
    const s = tok.start - 2;
    // The token starts at the check digits; the country code sits right before it.
    if (s < 0 || !isUpper(text.charCodeAt(s)) || !isUpper(text.charCodeAt(s + 1))) return;
    if (s > 0 && isAlnum(text.charCodeAt(s - 1))) return;
    if (!isDigit(text.charCodeAt(tok.start + 1))) return;
    const len = IBAN_LENGTHS[text.slice(s, s + 2)];
    if (len === undefined) return;
    let count = 0;
    let j = s;
    let grouped: boolean | undefined;
    while (count < len && j < text.length) {
      const c = text.charCodeAt(j);
      if (isIbanChar(c)) {
        count++;
        j++;
      } else if (c === 32 && count % 4 === 0 && grouped !== false && isIbanChar(text.charCodeAt(j + 1))) {
        grouped = true;
        j++;
      } else break;
      if (grouped === undefined && count === 5) grouped = false;
    }
    if (count !== len || isAlnum(text.charCodeAt(j))) return;
    const compact = grouped === true ? text.slice(s, j).replaceAll(' ', '') : text.slice(s, j);
    if (mod97Valid(compact)) report(s, j);
  },
};
