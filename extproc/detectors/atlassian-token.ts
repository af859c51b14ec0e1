// Atlassian API tokens: "ATATT3" + about 180 characters of [A-Za-z0-9_=-] ending in "=" + 8 upper-case hex
// (a checksum field). The scanner calls at "ATATT"'s last 'T'; the body must start with '3'.
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

const isHexUpper = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70);

export const atlassianToken = prefixedToken({
  id: 'secret.atlassian_token',
  type: 'ATLASSIAN_TOKEN',
  prefixes: ['ATATT'],
  body: (c) => isTokenChar(c) || c === 61,
  minBody: 150,
  maxBody: 260,
  after: isTokenChar,
  validate: (text, _s, b, end) => {
    if (text.charCodeAt(b) !== 51 || text.charCodeAt(end - 9) !== 61) return false;
    for (let k = end - 8; k < end; k++) if (!isHexUpper(text.charCodeAt(k))) return false;
    return randomLooking(text, b, end - 9, 3, 4.5);
  },
});
