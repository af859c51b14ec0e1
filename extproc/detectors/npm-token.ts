// npm access tokens (npm_ + 36 base62). They follow GitHub's format, whose last 6 characters are a base62
// CRC32 of the random part; a token must either pass that checksum or look random (mixed case, digits,
// high entropy), so `npm_` identifiers in code do not match.
import { classMix, entropy, isAlnum } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';
import { crc32Base62Valid } from './validators.ts';

export const npmToken = prefixedToken({
  id: 'secret.npm_token',
  type: 'NPM_TOKEN',
  prefixes: ['npm_'],
  body: isAlnum,
  minBody: 36,
  maxBody: 36,
  validate: (text, start, b, end) => {
    if (crc32Base62Valid(text.slice(start, end), 4)) return true;
    const m = classMix(text, b, end);
    return m.digit >= 2 && m.upper >= 2 && m.lower >= 2 && entropy(text, b, end) >= 4;
  },
});
