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

/** Index past the JWT starting at s ("eyJ…"), or -1. Bounded by the part maxima. */
export function jwtEnd(text: string, s: number): number {
  if (s < 0 || text.charCodeAt(s) !== 101 || text.charCodeAt(s + 1) !== 121 || !boundaryAt(text, s - 1, isBase64UrlChar)) return -1;
  const h = runEnd(text, s, isBase64UrlChar, MAX_HEADER + 1);
  if (h - s > MAX_HEADER || text.charCodeAt(h) !== 46) return -1;
  const p0 = h + 1;
  if (!text.startsWith('eyJ', p0)) return -1;
  const p = runEnd(text, p0, isBase64UrlChar, MAX_PAYLOAD + 1);
  if (p - p0 > MAX_PAYLOAD || text.charCodeAt(p) !== 46) return -1;
  const sig = runEnd(text, p + 1, isBase64UrlChar, MAX_SIG + 1);
  if (sig - p - 1 > MAX_SIG || !boundaryAt(text, sig, isBase64UrlChar)) return -1;
  const header = decodeObject(text.slice(s, h));
  if (header === undefined || typeof header['alg'] !== 'string') return -1;
  if (decodeObject(text.slice(p0, p)) === undefined) return -1;
  return sig;
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
    const end = jwtEnd(text, s);
    if (end > 0) report(s, end);
  },
};

/** The longest base64 run that can hold a JWT (4/3 of its maximum, plus padding). */
const MAX_WRAPPED = Math.ceil(((MAX_HEADER + MAX_PAYLOAD + MAX_SIG + 4) * 4) / 3) + 4;
const isStdOrUrl64 = (c: number): boolean => isBase64UrlChar(c) || c === 43 || c === 47;

/**
 * A JWT wrapped in base64 (Kubernetes secrets, config blobs): "eyJ" encodes as "ZXlK". The run is decoded and
 * must hold exactly one JWT (a trailing line break allowed); the whole base64 run is reported.
 */
export const jwtBase64: CharDetector = {
  kind: 'char',
  id: 'secret.jwt_base64',
  type: 'JWT',
  triggers: 'X',
  prev: 'Z',
  next: 'l',
  maxLength: MAX_WRAPPED,
  at(text, i, report) {
    const s = i - 1;
    if (text.charCodeAt(i + 2) !== 75 || !boundaryAt(text, s - 1, isStdOrUrl64)) return;
    let end = runEnd(text, s, isStdOrUrl64, MAX_WRAPPED + 1);
    if (end - s < 48 || end - s > MAX_WRAPPED) return;
    while (end - s < MAX_WRAPPED && text.charCodeAt(end) === 61) end++;
    if (!boundaryAt(text, end, isStdOrUrl64)) return;
    const decoded = Buffer.from(text.slice(s, end), 'base64').toString('latin1').trimEnd();
    if (jwtEnd(decoded, 0) === decoded.length) report(s, end);
  },
};
