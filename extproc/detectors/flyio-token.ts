// Fly.io tokens: organisation/user tokens ("fo1_" + 43 of [A-Za-z0-9_-]) and macaroon tokens ("fm1a_",
// "fm1r_", "fm2_" + 100 or more base64 characters; `FlyV1 fm2_…` in headers).
import { allChars, isBase64Char, isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const flyioToken = prefixedToken({
  id: 'secret.flyio_token',
  type: 'FLYIO_TOKEN',
  prefixes: ['fo1_', 'fm1a_', 'fm1r_', 'fm2_'],
  body: (c) => isTokenChar(c) || isBase64Char(c) || c === 61,
  minBody: 43,
  maxBody: 4096,
  after: (c) => isTokenChar(c) || isBase64Char(c),
  placeholders: false,
  validate: (text, start, b, end) => {
    if (text.charCodeAt(start + 1) === 111) {
      if (end - b !== 43) return false;
      return allChars(text, b, end, isTokenChar) && randomLooking(text, b, end, 3, 4);
    }
    return end - b >= 100 && randomLooking(text, b, Math.min(end, b + 64), 3, 4);
  },
});
