// Sentry auth tokens: organisation tokens ("sntrys_" + base64 of a JSON object + "_" + 43 base64 characters)
// and user tokens ("sntryu_" + 64 lowercase hex).
import { allChars, isBase64Char, isHexLower, isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const sentryToken = prefixedToken({
  id: 'secret.sentry_token',
  type: 'SENTRY_TOKEN',
  prefixes: ['sntrys_', 'sntryu_'],
  body: (c) => isTokenChar(c) || isBase64Char(c) || c === 61,
  minBody: 64,
  maxBody: 1024,
  placeholders: false,
  validate: (text, start, b, end) => {
    if (text.charCodeAt(start + 5) === 117) {
      if (end - b !== 64) return false;
      return allChars(text, b, end, isHexLower) && randomLooking(text, b, end, 2, 3);
    }
    const us = text.lastIndexOf('_', end - 1);
    if (us < b + 16 || end - us - 1 !== 43 || !text.startsWith('eyJ', b)) return false;
    return Buffer.from(text.slice(b, b + 16), 'base64').toString('latin1').startsWith('{"') && randomLooking(text, us + 1, end, 3, 4);
  },
});
