// Square credentials: access tokens ("EAAA" + 60 characters of [A-Za-z0-9_-], or the older "sq0atp-" + 22) and
// OAuth application secrets ("sq0csp-" + 43). Application ids ("sq0idp-") are public and not matched.
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

/** Older access tokens and OAuth secrets: triggered at the 'q' of "sq0" looked up by the '0' after it. */
export const squareLegacyToken = prefixedToken({
  id: 'secret.square_token',
  type: 'SQUARE_TOKEN',
  prefixes: ['sq0atp-', 'sq0csp-'],
  triggerAt: 1,
  body: isTokenChar,
  minBody: 22,
  maxBody: 43,
  after: isTokenChar,
  validate: (text, start, b, end) => end - b === (text.charCodeAt(start + 3) === 97 ? 22 : 43) && randomLooking(text, b, end, 3, 3.5),
});

/** Current access tokens: "EAAA" + 60, triggered at the first 'A' after an 'E' ("AA" is common in base64, "EA" rarer). */
export const squareAccessToken = prefixedToken({
  id: 'secret.square_access_token',
  type: 'SQUARE_TOKEN',
  prefixes: ['EAAA'],
  triggerAt: 1,
  body: isTokenChar,
  minBody: 60,
  maxBody: 60,
  before: isTokenChar,
  after: isTokenChar,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});
