// Atlassian API tokens: "ATATT3" + about 180 characters of [A-Za-z0-9_=-] ending in "=" + 8 upper-case hex
// (a checksum field).
import { allChars, isTokenChar, randomLooking } from './chars.ts';
import { prefixedKeywordToken } from './prefixed-token.ts';

const isHexUpper = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70);

export const atlassianToken = prefixedKeywordToken({
  id: 'secret.atlassian_token',
  type: 'ATLASSIAN_TOKEN',
  prefixes: ['ATATT3'],
  body: (c) => isTokenChar(c) || c === 61,
  minBody: 149,
  maxBody: 259,
  after: isTokenChar,
  validate: (text, _s, b, end) => {
    if (text.charCodeAt(end - 9) !== 61) return false;
    if (!allChars(text, end - 8, end, isHexUpper)) return false;
    return randomLooking(text, b, end - 9, 3, 4.5);
  },
});
