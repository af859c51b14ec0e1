// DigitalOcean tokens: personal access (dop_v1_), OAuth (doo_v1_) and refresh (dor_v1_) + 64 lowercase hex.
import { isHexLower, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const digitaloceanToken = prefixedToken({
  id: 'secret.digitalocean_token',
  type: 'DIGITALOCEAN_TOKEN',
  prefixes: ['dop_v1_', 'doo_v1_', 'dor_v1_'],
  body: isHexLower,
  minBody: 64,
  maxBody: 64,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3),
});
