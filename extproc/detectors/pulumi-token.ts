// Pulumi access tokens: "pul-" + 40 lowercase hex.
import { isHexLower, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const pulumiToken = prefixedToken({
  id: 'secret.pulumi_token',
  type: 'PULUMI_TOKEN',
  prefixes: ['pul-'],
  body: isHexLower,
  minBody: 40,
  maxBody: 40,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3),
});
