// Stripe live secret and restricted keys. Test-mode keys (sk_test_) and publishable keys are not secrets.
import { classMix, isAlnum } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const stripeKey = prefixedToken({
  id: 'secret.stripe_live_key',
  type: 'STRIPE_KEY',
  prefixes: ['sk_live_', 'rk_live_'],
  body: isAlnum,
  minBody: 20,
  maxBody: 247,
  validate: (text, _s, b, end) => {
    const m = classMix(text, b, end);
    return m.digit > 0 && m.upper > 0 && m.lower > 0;
  },
});
