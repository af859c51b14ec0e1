// PlanetScale service tokens (pscale_tkn_), passwords (pscale_pw_) and OAuth tokens (pscale_oauth_): 32-64
// characters of [A-Za-z0-9_.-].
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const planetscaleToken = prefixedToken({
  id: 'secret.planetscale_token',
  type: 'PLANETSCALE_TOKEN',
  prefixes: ['pscale_tkn_', 'pscale_pw_', 'pscale_oauth_'],
  body: (c) => isTokenChar(c) || c === 46,
  minBody: 32,
  maxBody: 64,
  after: isTokenChar,
  trimTrailing: (c) => c === 46,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});
