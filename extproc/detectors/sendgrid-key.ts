// SendGrid API keys: "SG." + 22 characters + "." + 43 characters, both of [A-Za-z0-9_-].
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const sendgridKey = prefixedToken({
  id: 'secret.sendgrid_api_key',
  type: 'SENDGRID_KEY',
  prefixes: ['SG.'],
  // The 'G' before '.': a trigger on '.' would stop the scanner at every full stop.
  triggerAt: 1,
  body: (c) => isTokenChar(c) || c === 46,
  minBody: 66,
  maxBody: 66,
  after: isTokenChar,
  trimTrailing: (c) => c === 46,
  validate: (text, _s, b, end) => {
    for (let k = b; k < end; k++) if ((text.charCodeAt(k) === 46) !== (k === b + 22)) return false;
    return randomLooking(text, b + 23, end, 3, 4);
  },
});
