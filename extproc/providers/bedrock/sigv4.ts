// AWS Signature Version 4 over the final request, with @smithy/signature-v4 (the AWS SDK's signer).
// Only the headers named here are signed: host, x-amz-date, x-amz-security-token, x-amz-content-sha256 and
// any `extraHeaders` the caller of this function passes. Envoy adds x-forwarded-*, x-request-id and
// x-envoy-* after ext_proc, so nothing else may be signed.
import { lazyModule } from '../../core/lazy.ts';
import type { AwsCredential } from '../../core/credential.ts';
import { Secret } from '../../core/secret.ts';
import type { HeaderToSet } from '../shared/credential-headers.ts';

// Loaded on the first signature: only a deployment with a Bedrock provider pays for them.
const hashNode = lazyModule<typeof import('@smithy/hash-node')>('@smithy/hash-node');
const protocolHttp = lazyModule<typeof import('@smithy/protocol-http')>('@smithy/protocol-http');
const signatureV4 = lazyModule<typeof import('@smithy/signature-v4')>('@smithy/signature-v4');

export interface SigV4Request {
  readonly method: string;
  /** The upstream host (with ":port" if not the scheme's default), as Envoy sends it in :authority. */
  readonly host: string;
  /** The path exactly as sent upstream (still percent-encoded). */
  readonly path: string;
  /** The raw query string, without "?". */
  readonly query: string;
  readonly body: Uint8Array | undefined;
  /** More headers to sign, lower-case names (the test suite uses these; Bedrock signs none). */
  readonly extraHeaders?: Readonly<Record<string, string>>;
}

export interface SigV4Options {
  readonly region: string;
  readonly service: string;
  readonly date: Date;
  /** Send x-amz-content-sha256 (signed). Bedrock accepts it; the test suite's vectors omit it. */
  readonly contentSha256Header: boolean;
  /** Normalise the path ("." / ".." / empty segments) and encode it again, as every service but S3 does. */
  readonly normalizePath?: boolean;
}

/** Decodes a raw query into the map the signer re-encodes canonically. */
export function queryMap(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const v = decodeURIComponent(eq < 0 ? '' : pair.slice(eq + 1));
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** Signs and returns the headers to set: authorization and x-amz-* (secret-bearing values wrapped). */
export async function signSigV4(req: SigV4Request, credential: AwsCredential, opts: SigV4Options): Promise<HeaderToSet[]> {
  const { SignatureV4 } = signatureV4();
  const { HttpRequest } = protocolHttp();
  const { Hash } = hashNode();
  const signer = new SignatureV4({
    service: opts.service,
    region: opts.region,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: opts.normalizePath ?? true,
    applyChecksum: opts.contentSha256Header,
    credentials: {
      accessKeyId: credential.accessKeyId,
      secretAccessKey: credential.secretAccessKey.reveal(),
      ...(credential.sessionToken === undefined ? {} : { sessionToken: credential.sessionToken.reveal() }),
    },
  });
  const headers: Record<string, string> = { host: req.host, ...req.extraHeaders };
  const request = new HttpRequest({
    method: req.method,
    protocol: 'https:',
    hostname: req.host,
    path: req.path,
    query: queryMap(req.query),
    headers,
    ...(req.body === undefined ? {} : { body: req.body }),
  });
  const signed = await signer.sign(request, { signingDate: opts.date });
  const out: HeaderToSet[] = [];
  for (const [name, value] of Object.entries(signed.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host' || (req.extraHeaders !== undefined && lower in req.extraHeaders)) continue;
    out.push({ name: lower, value: lower === 'authorization' || lower === 'x-amz-security-token' ? new Secret(value) : value });
  }
  return out;
}
