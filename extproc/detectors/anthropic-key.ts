// Anthropic API, admin, OAuth and session keys: sk-ant-api03-<93 chars>AA, sk-ant-admin01-<93 chars>AA. Every
// issued key ends in "AA"; a string without that tail is a sample or a truncation, not a key.
import { isAlnum, isDigit } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

export const anthropicKey = prefixedToken({
  id: 'secret.anthropic_api_key',
  type: 'ANTHROPIC_KEY',
  prefixes: ['sk-ant-'],
  body: (c) => isAlnum(c) || c === 45 || c === 95,
  minBody: 80,
  maxBody: 130,
  validate: (text, _s, b, end) => {
    let k = b;
    while (k < end && k < b + 8 && text.charCodeAt(k) >= 97 && text.charCodeAt(k) <= 122) k++;
    const kind = text.slice(b, k);
    if (kind !== 'api' && kind !== 'admin' && kind !== 'oat' && kind !== 'sid') return false;
    const d = k;
    while (k < end && k < d + 3 && isDigit(text.charCodeAt(k))) k++;
    return k > d && text.charCodeAt(k) === 45 && end - k > 60 && text.charCodeAt(end - 1) === 65 && text.charCodeAt(end - 2) === 65;
  },
});
