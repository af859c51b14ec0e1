// Linear API keys: "lin_api_" + 40 alphanumerics; OAuth tokens "lin_oauth_" + 64 lowercase hex.
import { allChars, isAlnum, isHexLower, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const linearKey = prefixedToken({
  id: 'secret.linear_api_key',
  type: 'LINEAR_KEY',
  prefixes: ['lin_api_', 'lin_oauth_'],
  body: isAlnum,
  minBody: 40,
  maxBody: 64,
  validate: (text, start, b, end) => {
    if (text.charCodeAt(start + 4) === 97) return end - b === 40 && randomLooking(text, b, end, 3, 4);
    if (end - b !== 64) return false;
    return allChars(text, b, end, isHexLower) && randomLooking(text, b, end, 2, 3);
  },
});
