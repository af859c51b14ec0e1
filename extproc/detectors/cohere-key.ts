// Cohere API keys: 40 alphanumerics with no prefix, so only as the value of a name that says Cohere
// (`COHERE_API_KEY=…`, `"cohere_api_key": "…"`, `CO_API_KEY: …`), mixed case with digits and high entropy.
import { isAlnum, randomLooking } from './chars.ts';
import { namedValue } from './named-value.ts';

export const cohereKey = namedValue({
  id: 'secret.cohere_api_key',
  type: 'COHERE_KEY',
  names: ['cohere', 'co_api_key'],
  body: isAlnum,
  lengths: [40],
  validate: (text, s, e) => randomLooking(text, s, e, 3, 4),
});
