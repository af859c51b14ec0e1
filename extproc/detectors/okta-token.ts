// Okta API tokens: "00" + 40 characters of [A-Za-z0-9_-]; no distinctive prefix, so only as the value of a
// name that says Okta (`OKTA_API_TOKEN=…`, `okta_token: …`). `Authorization: SSWS …` is a header credential.
import { isTokenChar, randomLooking } from './chars.ts';
import { namedValue } from './named-value.ts';

export const oktaToken = namedValue({
  id: 'secret.okta_token',
  type: 'OKTA_TOKEN',
  names: ['okta'],
  body: isTokenChar,
  lengths: [42],
  validate: (text, s, e) => text.startsWith('00', s) && randomLooking(text, s + 2, e, 3, 4),
});
