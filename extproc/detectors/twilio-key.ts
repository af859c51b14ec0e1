// Twilio: API key SIDs ("SK" + 32 lowercase hex; the key's secret is usually next to it) and auth tokens (32
// lowercase hex, no prefix: only within 80 characters after "twilio" or "auth_token").
import { boundaryAt, isHexLower, randomLooking, reportRunAfter } from './chars.ts';
import type { KeywordDetector } from './detector.ts';
import { prefixedToken } from './prefixed-token.ts';

export const twilioApiKey = prefixedToken({
  id: 'secret.twilio_api_key',
  type: 'TWILIO_KEY',
  prefixes: ['SK'],
  body: isHexLower,
  minBody: 32,
  maxBody: 32,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3),
});

export const twilioAuthToken: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.twilio_auth_token',
  type: 'TWILIO_KEY',
  maxLength: 32,
  keywords: ['twilio'],
  atKeyword(text, i, keyword, report) {
    if (!boundaryAt(text, i - 1)) return;
    reportRunAfter(text, i + keyword.length, 80, isHexLower, 32, 32, (s, e) => randomLooking(text, s, e, 2, 3), report);
  },
};
