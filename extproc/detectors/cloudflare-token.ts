// Cloudflare: Origin CA keys ("v1.0-" + 24 hex + "-" + 146 hex, a fixed layout), and API tokens (40 of
// [A-Za-z0-9_-]) or global API keys (37 lowercase hex), which have no prefix and count only as the value of a
// name that says Cloudflare (`CLOUDFLARE_API_TOKEN=…`, `CF_API_KEY: …`, `X-Auth-Key: …`).
import { allChars, boundaryAt, hasAt, isHexLower, isTokenChar, randomLooking, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';
import { namedValue } from './named-value.ts';

const ORIGIN = 'v1.0-';

/**
 * Called at the 'v' (followed by '1'): a trigger after the prefix would sit inside the digit run "1.0-5…", which
 * the scanner reads as a number token.
 */
export const cloudflareOriginCaKey: CharDetector = {
  kind: 'char',
  id: 'secret.cloudflare_origin_ca_key',
  type: 'CLOUDFLARE_KEY',
  triggers: 'v',
  next: '1',
  maxLength: ORIGIN.length + 171,
  at(text, i, report) {
    if (!hasAt(text, i, ORIGIN) || !boundaryAt(text, i - 1, (c) => isTokenChar(c) || c === 46)) return;
    const b = i + ORIGIN.length;
    const end = runEnd(text, b, (c) => isHexLower(c) || c === 45, 172);
    if (end - b !== 171 || !boundaryAt(text, end)) return;
    for (let k = b; k < end; k++) if ((text.charCodeAt(k) === 45) !== (k === b + 24)) return;
    if (randomLooking(text, b, b + 24, 2, 3) && randomLooking(text, b + 25, end, 2, 3)) report(i, end);
  },
};

export const cloudflareApiToken = namedValue({
  id: 'secret.cloudflare_api_token',
  type: 'CLOUDFLARE_KEY',
  names: ['cloudflare', 'cf_api', 'cf-api', 'x-auth-key'],
  body: isTokenChar,
  lengths: [37, 40],
  // 40-character API tokens, or 37-hex global API keys.
  validate: (text, s, e) => (e - s === 40 ? randomLooking(text, s, e, 3, 4) : allChars(text, s, e, isHexLower) && randomLooking(text, s, e, 2, 3.2)),
});
