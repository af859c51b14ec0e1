// Okta API tokens: "00" + 40 characters of [A-Za-z0-9_-]; no distinctive prefix, so only within 80 characters
// after "okta" or the "SSWS" authorization scheme.
import { boundaryAt, isTokenChar, randomLooking, reportRunAfter } from './chars.ts';
import type { KeywordDetector } from './detector.ts';

export const oktaToken: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.okta_token',
  type: 'OKTA_TOKEN',
  maxLength: 42,
  keywords: ['okta', 'ssws'],
  atKeyword(text, i, keyword, report) {
    if (!boundaryAt(text, i - 1)) return;
    const ok = (s: number, e: number): boolean => text.startsWith('00', s) && randomLooking(text, s + 2, e, 3, 4);
    reportRunAfter(text, i + keyword.length, 80, isTokenChar, 42, 42, ok, report);
  },
};
