// Cloudflare: Origin CA keys ("v1.0-" + 24 hex + "-" + 146 hex, a fixed layout), and API tokens (40 of
// [A-Za-z0-9_-]) or global API keys (37 lowercase hex), which have no prefix and count only within 80
// characters after "cloudflare", "cf_api_token", "cf_api_key" or "x-auth-key".
import { boundaryAt, hasAt, isHexLower, isTokenChar, randomLooking, reportRunAfter, runEnd } from './chars.ts';
import type { KeywordDetector } from './detector.ts';

const ORIGIN = 'v1.0-';

/**
 * Found by the shared keyword pass: a trigger after the prefix would sit inside the digit run "1.0-5…", which
 * the scanner reads as a number token.
 */
export const cloudflareOriginCaKey: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.cloudflare_origin_ca_key',
  type: 'CLOUDFLARE_KEY',
  keywords: [ORIGIN],
  maxLength: ORIGIN.length + 171,
  atKeyword(text, i, _keyword, report) {
    if (!hasAt(text, i, ORIGIN) || !boundaryAt(text, i - 1, (c) => isTokenChar(c) || c === 46)) return;
    const b = i + ORIGIN.length;
    const end = runEnd(text, b, (c) => isHexLower(c) || c === 45, 172);
    if (end - b !== 171 || !boundaryAt(text, end)) return;
    for (let k = b; k < end; k++) if ((text.charCodeAt(k) === 45) !== (k === b + 24)) return;
    if (randomLooking(text, b, b + 24, 2, 3) && randomLooking(text, b + 25, end, 2, 3)) report(i, end);
  },
};

export const cloudflareApiToken: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.cloudflare_api_token',
  type: 'CLOUDFLARE_KEY',
  maxLength: 40,
  keywords: ['cloudflare', 'cf_api_token', 'cf_api_key', 'x-auth-key'],
  atKeyword(text, i, keyword, report) {
    if (!boundaryAt(text, i - 1)) return;
    const from = i + keyword.length;
    if (reportRunAfter(text, from, 80, isTokenChar, 40, 40, (s, e) => randomLooking(text, s, e, 3, 4), report)) return;
    reportRunAfter(text, from, 80, isHexLower, 37, 37, (s, e) => randomLooking(text, s, e, 2, 3.2), report);
  },
};
