// Postman API keys: "PMAK-" + 24 lowercase hex + "-" + 34 lowercase hex.
import { isHexLower, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const postmanKey = prefixedToken({
  id: 'secret.postman_api_key',
  type: 'POSTMAN_KEY',
  prefixes: ['PMAK-'],
  body: (c) => isHexLower(c) || c === 45,
  minBody: 59,
  maxBody: 59,
  validate: (text, _s, b, end) => {
    for (let k = b; k < end; k++) if ((text.charCodeAt(k) === 45) !== (k === b + 24)) return false;
    return randomLooking(text, b + 25, end, 2, 3);
  },
});
