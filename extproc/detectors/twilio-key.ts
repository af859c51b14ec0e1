// Twilio: API key SIDs ("SK" + 32 lowercase hex; the key's secret is usually next to it) and auth tokens (32
// lowercase hex, no prefix: only as the value of a name that says Twilio, `TWILIO_AUTH_TOKEN=…`).
import { isHexLower, randomLooking } from './chars.ts';
import { namedValue } from './named-value.ts';
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

export const twilioAuthToken = namedValue({
  id: 'secret.twilio_auth_token',
  type: 'TWILIO_KEY',
  names: ['twilio'],
  body: isHexLower,
  lengths: [32],
  validate: (text, s, e) => randomLooking(text, s, e, 2, 3),
});
