// Heroku API keys in the current format: "HRKU-AA" + 58 characters of [A-Za-z0-9_-].
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const herokuKey = prefixedToken({
  id: 'secret.heroku_api_key',
  type: 'HEROKU_KEY',
  prefixes: ['HRKU-'],
  body: isTokenChar,
  minBody: 60,
  maxBody: 60,
  after: isTokenChar,
  validate: (text, _s, b, end) => text.startsWith('AA', b) && randomLooking(text, b + 2, end, 3, 4),
});
