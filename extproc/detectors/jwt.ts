// JSON Web Tokens (JWS compact form): three base64url parts; the header must decode to a JSON object with an
// "alg" string, and the payload to a JSON object. The signature may be empty (alg "none").
import { boundaryAt, isBase64UrlChar, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

const MAX_HEADER = 1024;
const MAX_PAYLOAD = 8192;
const MAX_SIG = 1024;

function decodeObject(part: string): Record<string, unknown> | undefined {
  const json = Buffer.from(part, 'base64url').toString('utf8');
  // Most near-misses fail here, without the cost of a JSON.parse exception.
  if (json.charCodeAt(0) !== 123 || json.charCodeAt(json.trimEnd().length - 1) !== 125) return undefined;
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const jwt: CharDetector = {
  kind: 'char',
  id: 'secret.jwt',
  type: 'JWT',
  triggers: 'J',
  prev: 'y',
  maxLength: MAX_HEADER + MAX_PAYLOAD + MAX_SIG + 2,
  at(text, i, report) {
    const s = i - 2;
    if (s < 0 || text.charCodeAt(s) !== 101 || text.charCodeAt(s + 1) !== 121 || !boundaryAt(text, s - 1, isBase64UrlChar)) return;
    const h = runEnd(text, s, isBase64UrlChar, MAX_HEADER + 1);
    if (h - s > MAX_HEADER || text.charCodeAt(h) !== 46) return;
    const p0 = h + 1;
    if (!text.startsWith('eyJ', p0)) return;
    const p = runEnd(text, p0, isBase64UrlChar, MAX_PAYLOAD + 1);
    if (p - p0 > MAX_PAYLOAD || text.charCodeAt(p) !== 46) return;
    const sig = runEnd(text, p + 1, isBase64UrlChar, MAX_SIG + 1);
    if (sig - p - 1 > MAX_SIG || !boundaryAt(text, sig, isBase64UrlChar)) return;
    const header = decodeObject(text.slice(s, h));
    if (header === undefined || typeof header['alg'] !== 'string') return;
    if (decodeObject(text.slice(p0, p)) === undefined) return;
    report(s, sig);
  },
};
