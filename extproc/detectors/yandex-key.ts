// Yandex Cloud credentials: API keys ("AQVN" + 36 of [A-Za-z0-9_-]), static access key secrets ("YC" + 38),
// OAuth tokens ("y0_" + 50-80 of [A-Za-z0-9_-]) and IAM tokens ("t1." + a base64url payload + "." + an
// 86-character base64url signature, 64 bytes).
import { boundaryAt, isBase64UrlChar, isTokenChar, randomLooking, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';
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

/** IAM token payloads seen are 100-200 characters; the bounds leave room on both sides. */
const IAM_MIN_PAYLOAD = 60;
const IAM_MAX_PAYLOAD = 512;
const IAM_SIGNATURE = 86;

/**
 * IAM tokens: "t1." + payload + "." + signature. Triggered at a 't' followed by '1' (the scanner stops at that
 * pair anyway for the digit), so prose costs nothing extra. Both parts must be base64url of random-looking
 * bytes; the signature is exactly 86 characters (optionally padded), so a documentation sample cut short
 * ("t1.9euelZqP...") is not a finding.
 */
export const yandexIamToken: CharDetector = {
  kind: 'char',
  id: 'secret.yandex_iam_token',
  type: 'YANDEX_TOKEN',
  triggers: 't',
  next: '1',
  maxLength: 3 + IAM_MAX_PAYLOAD + 3 + IAM_SIGNATURE + 2,
  at(text, i, report) {
    if (text.charCodeAt(i + 1) !== 49 || text.charCodeAt(i + 2) !== 46 || !boundaryAt(text, i - 1, isTokenChar)) return;
    const head = i + 3;
    let dot = runEnd(text, head, isBase64UrlChar, IAM_MAX_PAYLOAD + 1);
    if (dot - head < IAM_MIN_PAYLOAD || dot - head > IAM_MAX_PAYLOAD) return;
    const payloadEnd = dot;
    while (dot < payloadEnd + 2 && text.charCodeAt(dot) === 61) dot++;
    if (text.charCodeAt(dot) !== 46) return;
    const sig = dot + 1;
    let end = runEnd(text, sig, isBase64UrlChar, IAM_SIGNATURE + 1);
    if (end - sig !== IAM_SIGNATURE) return;
    while (end < sig + IAM_SIGNATURE + 2 && text.charCodeAt(end) === 61) end++;
    if (!boundaryAt(text, end, isTokenChar)) return;
    if (!randomLooking(text, head, payloadEnd, 3, 4.5) || !randomLooking(text, sig, sig + IAM_SIGNATURE, 3, 4.5)) return;
    report(i, end);
  },
};
