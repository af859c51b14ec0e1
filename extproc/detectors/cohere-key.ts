// Cohere API keys: 40 alphanumerics with no prefix, so only next to the vendor's name ("cohere", "CO_API_KEY")
// within 80 characters after it, and only when mixed case with digits and high entropy.
import { boundaryAt, isAlnum, randomLooking, reportRunAfter } from './chars.ts';
import type { KeywordDetector } from './detector.ts';

export const cohereKey: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.cohere_api_key',
  type: 'COHERE_KEY',
  maxLength: 40,
  keywords: ['cohere', 'co_api_key'],
  atKeyword(text, i, keyword, report) {
    if (!boundaryAt(text, i - 1)) return;
    reportRunAfter(text, i + keyword.length, 80, isAlnum, 40, 40, (s, e) => randomLooking(text, s, e, 3, 4), report);
  },
};
