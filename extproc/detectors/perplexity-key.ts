// Perplexity API keys: "pplx-" + 48 alphanumerics.
import { isAlnum, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const perplexityKey = prefixedToken({
  id: 'secret.perplexity_api_key',
  type: 'PERPLEXITY_KEY',
  prefixes: ['pplx-'],
  body: isAlnum,
  minBody: 48,
  maxBody: 48,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3.5),
});
