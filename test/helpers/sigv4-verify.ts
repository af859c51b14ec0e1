// An independent AWS SigV4 verifier written from the specification with node:crypto only (no AWS
// library), so it can check what @smithy/signature-v4 produced. The unit tests check it against AWS's
// published vectors; the fake Bedrock upstream uses it to verify what Envoy forwarded.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A request as the service received it: the path still percent-encoded, the raw query without "?". */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Lower-case names. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

function canonicalPath(path: string, normalize: boolean): string {
  if (!normalize) return path.split('/').map((seg) => rfc3986(seg)).join('/');
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const joined = `/${out.join('/')}${out.length > 0 && path.endsWith('/') ? '/' : ''}`;
  // Every service but S3 encodes the (already encoded) path once more.
  return joined.split('/').map((seg) => rfc3986(seg)).join('/');
}

function canonicalQuery(raw: string): string {
  const pairs = raw === '' ? [] : raw.split('&').map((p) => {
    const eq = p.indexOf('=');
    return [rfc3986(decodeURIComponent(eq < 0 ? p : p.slice(0, eq))), rfc3986(decodeURIComponent(eq < 0 ? '' : p.slice(eq + 1)))] as const;
  });
  return pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
}

/** What the Authorization header claims, parsed. */
export interface SigV4Claim {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export function parseSigV4Authorization(value: string | undefined): SigV4Claim | undefined {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(value ?? '');
  if (m === null) return undefined;
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = m;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

/**
 * Why a request's signature does not verify, or undefined when it does. Checks the Authorization
 * format, the date scope, x-amz-content-sha256 against the body received, that host is signed, and
 * the HMAC over method, canonical path, query, signed headers and the body's hash.
 */
export function sigV4Problem(req: Received, secretAccessKey: string, opts: { normalize: boolean }): string | undefined {
  const claim = parseSigV4Authorization(req.headers.get('authorization'));
  if (claim === undefined) return 'no AWS4-HMAC-SHA256 authorization header';
  const amzDate = req.headers.get('x-amz-date') ?? '';
  if (!amzDate.startsWith(claim.date)) return 'x-amz-date is outside the credential scope date';
  const payloadHash = sha256(req.body);
  const declared = req.headers.get('x-amz-content-sha256');
  if (declared !== undefined && declared !== payloadHash) return 'x-amz-content-sha256 does not match the body received';
  if (!claim.signedHeaders.includes('host')) return 'host is not signed';
  const canonicalHeaders = claim.signedHeaders.map((n) => `${n}:${(req.headers.get(n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const creq = [req.method, canonicalPath(req.path, opts.normalize), canonicalQuery(req.query), canonicalHeaders, claim.signedHeaders.join(';'), payloadHash].join('\n');
  const scope = `${claim.date}/${claim.region}/${claim.service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, claim.date), claim.region), claim.service), 'aws4_request');
  const expected = Buffer.from(hmac(key, sts).toString('hex'));
  const got = Buffer.from(claim.signature);
  return expected.length === got.length && timingSafeEqual(expected, got) ? undefined : 'the signature does not match';
}

export function verifySigV4(req: Received, secretAccessKey: string, opts: { normalize: boolean }): boolean {
  return sigV4Problem(req, secretAccessKey, opts) === undefined;
}
