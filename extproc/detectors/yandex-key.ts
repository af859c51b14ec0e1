// Yandex Cloud credentials: API keys ("AQVN" + 36 of [A-Za-z0-9_-]), static access key secrets ("YC" + 38)
// and OAuth tokens ("y0_" + 50-80 of [A-Za-z0-9_-]).
import { isTokenChar, randomLooking } from './chars.ts';
import { prefixedToken } from './prefixed-token.ts';

/** API keys, triggered at the 'N' after a 'V' (upper case: rare in text; "QV" is less so in base64). */
export const yandexApiKey = prefixedToken({
  id: 'secret.yandex_api_key',
  type: 'YANDEX_KEY',
  prefixes: ['AQVN'],
  body: isTokenChar,
  minBody: 36,
  maxBody: 36,
  before: isTokenChar,
  after: isTokenChar,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});

/** Static access key secrets: "YC" is a common pair of capitals, so the body must be random and exactly 38 long. */
export const yandexStaticKey = prefixedToken({
  id: 'secret.yandex_static_key',
  type: 'YANDEX_KEY',
  prefixes: ['YC'],
  body: isTokenChar,
  minBody: 38,
  maxBody: 38,
  before: isTokenChar,
  after: isTokenChar,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4.2),
});

/** OAuth tokens, at the '_' after "y0". */
export const yandexOauthToken = prefixedToken({
  id: 'secret.yandex_oauth_token',
  type: 'YANDEX_TOKEN',
  prefixes: ['y0_'],
  body: isTokenChar,
  minBody: 50,
  maxBody: 80,
  before: isTokenChar,
  after: isTokenChar,
  validate: (text, _s, b, end) => randomLooking(text, b, end, 3, 4),
});
