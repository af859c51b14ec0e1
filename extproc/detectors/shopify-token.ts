// Shopify tokens: admin API access (shpat_), custom app (shpca_), private app (shppa_) and shared secrets
// (shpss_), + 32 hex.
import { isHex, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const shopifyToken = prefixedToken({
  id: 'secret.shopify_token',
  type: 'SHOPIFY_TOKEN',
  prefixes: ['shpat_', 'shpca_', 'shppa_', 'shpss_'],
  body: isHex,
  minBody: 32,
  maxBody: 32,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 2, 3),
});
