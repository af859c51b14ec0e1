// Phone numbers (opt-in): 7-15 digits written as a phone number ("+44 20 7946 0958", "(555) 123-4567",
// "555-123-4567"), with a context word in the 40 characters before unless requireContext is off. A bare run of
// digits without '+' never counts (timestamps, serials and ids look like that), whatever follows it: only a
// separator between digits makes one.
import { contextWords, hasContextWord, isAlnum, isDigit } from './chars.ts';
import type { NumberDetector } from './detector.ts';

export interface PhoneOptions {
  readonly requireContext: boolean;
}

const CONTEXT = contextWords(['phone', 'tel', 'mobile', 'cell', 'call', 'fax', 'whatsapp', 'sms', 'contact', 'reach', 'number', 'dial']);
const MAX = 24;
const isPhoneSeparator = (c: number): boolean => c === 32 || c === 45 || c === 46 || c === 40 || c === 41;

export function phoneNumber(opts: PhoneOptions): NumberDetector {
  return {
    kind: 'number',
    minDigits: 1,
    // '+' and '(' pass: the detector then looks one further back.
    prev: (c) => !isAlnum(c) && c !== 46 && c !== 45,
    // A token of fewer than 7 digits counts only if separators and more digits follow it (the check below).
    shortTokens: { below: 7, next: isPhoneSeparator, then: (c) => isPhoneSeparator(c) || isDigit(c) },
    // One group without '+' needs a separator after it (the first check in onNumber).
    lone: { around: (p, c) => p === 43 || isPhoneSeparator(c) },
    id: 'pii.phone_number',
    type: 'PHONE_NUMBER',
    maxLength: MAX,
    onNumber(tok, report) {
      const text = tok.text;
      // Fewer than 7 digits and no digit after the separators that follow the token: the walk below would
      // stop there with the token's digits only.
      if (tok.digits < 7) {
        let k = tok.end;
        while (k < tok.end + MAX && isPhoneSeparator(text.charCodeAt(k))) k++;
        if (!isDigit(text.charCodeAt(k))) return;
      }
      let s = tok.start;
      const prev = s > 0 ? text.charCodeAt(s - 1) : 32;
      const plus = prev === 43;
      // Without '+', a number needs a separator: a single group not followed by one (`1717171717171 ms`) has
      // none, and a dotted quad is an address. Both settled from the token before the walk below.
      if (!plus && (tok.count === 1 ? !isPhoneSeparator(text.charCodeAt(tok.end)) : tok.count === 4 && text.charCodeAt(tok.ends[0] ?? 0) === 46)) return;
      if (plus || prev === 40) s--;
      const before = s > 0 ? text.charCodeAt(s - 1) : 32;
      if (isAlnum(before) || before === 46 || before === 45 || before === 43) return;
      const limit = Math.min(text.length, s + MAX);
      // The token is digits and single separators, which the walk below counts one by one: it starts at the
      // token's end when the token fits under the limit (s is the token's start or the '+' or '(' before it).
      const whole = tok.end <= limit;
      let j = whole ? tok.end : s + 1;
      let digits = whole ? tok.digits : isDigit(text.charCodeAt(s)) ? 1 : 0;
      let seps = whole ? tok.count - 1 : 0;
      // Separators after the last digit (`1717171717 (s)`, `2024053101.`) are not between digits.
      let pending = 0;
      let end = j;
      while (j < limit) {
        const c = text.charCodeAt(j);
        if (isDigit(c)) {
          digits++;
          seps += pending;
          pending = 0;
          end = j + 1;
        } else if (isPhoneSeparator(c)) pending++;
        else break;
        j++;
      }
      if (text.charCodeAt(end) === 41) end++;
      if (digits < 7 || digits > 15 || isAlnum(text.charCodeAt(end)) || (!plus && seps === 0)) return;
      if (opts.requireContext && !hasContextWord(text, s - 40, s, CONTEXT)) return;
      report(s, end);
    },
  };
}
