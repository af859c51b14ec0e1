// OpenShift OAuth access tokens: "sha256~" + 43 characters of [A-Za-z0-9_-].
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const openshiftToken = prefixedToken({
  id: 'secret.openshift_token',
  type: 'OPENSHIFT_TOKEN',
  prefixes: ['sha256~'],
  body: isTokenChar,
  minBody: 43,
  maxBody: 43,
  after: isTokenChar,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});
