// New Relic user API keys: "NRAK-" + 27 upper-case alphanumerics.
import { isDigit, isUpper, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const newrelicKey = prefixedToken({
  id: 'secret.newrelic_api_key',
  type: 'NEWRELIC_KEY',
  prefixes: ['NRAK-'],
  body: (c) => isUpper(c) || isDigit(c),
  minBody: 27,
  maxBody: 27,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3.5),
});
