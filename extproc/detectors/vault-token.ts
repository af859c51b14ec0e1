// HashiCorp Vault / OpenBao tokens: service (hvs.), batch (hvb.) and recovery (hvr.) tokens, 24 or more
// characters of [A-Za-z0-9_-] after the prefix.
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const vaultToken = prefixedToken({
  id: 'secret.vault_token',
  type: 'VAULT_TOKEN',
  prefixes: ['hvs.', 'hvb.', 'hvr.'],
  // The 'v' after 'h': a trigger on '.' would stop the scanner at every full stop.
  triggerAt: 1,
  body: isTokenChar,
  minBody: 24,
  maxBody: 512,
  after: isTokenChar,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 3.5),
});
