// The content-encoding of a provider's response. Tollgate asks every upstream for `identity` (see
// steps/request-headers.ts); an upstream that compresses anyway gets its buffered response decoded here,
// with a cap on the decoded size, before usage, leak scanning and restore read it. What cannot be decoded
// is refused: a body Tollgate cannot read never reaches the caller.
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync, zstdDecompressSync } from 'node:zlib';
import { TollgateError } from '../errors.ts';

export type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

const CODINGS: ReadonlyMap<string, Coding> = new Map([
  ['gzip', 'gzip'], ['x-gzip', 'gzip'], ['deflate', 'deflate'], ['br', 'br'], ['zstd', 'zstd'],
]);

/**
 * The codings of a `content-encoding` value, in the order they were applied, `identity` left out.
 * Undefined when one of them is not one Tollgate decodes (or the value is malformed).
 */
export function parseContentEncoding(value: string | undefined): Coding[] | undefined {
  if (value === undefined || value.trim() === '') return [];
  const out: Coding[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === 'identity') continue;
    const coding = CODINGS.get(token);
    if (coding === undefined) return undefined;
    out.push(coding);
  }
  return out;
}

function decodeOne(body: Buffer, coding: Coding, options: { readonly maxOutputLength: number }): Buffer {
  switch (coding) {
    case 'gzip':
      return gunzipSync(body, options);
    case 'br':
      return brotliDecompressSync(body, options);
    case 'zstd':
      return zstdDecompressSync(body, options);
    case 'deflate':
      // RFC 9110 deflate is zlib-wrapped; some servers send the raw stream. The zlib header tells them apart.
      return (body[0] ?? 0) % 16 === 8 && ((body[0] ?? 0) * 256 + (body[1] ?? 0)) % 31 === 0 ? inflateSync(body, options) : inflateRawSync(body, options);
  }
}

/**
 * `body` with `codings` undone (last applied, first undone). Each step may produce at most `maxBytes`
 * (a compression bomb stops there). A corrupt body or one over the cap: `response_decode_failed`.
 */
export function decodeContentEncoding(body: Buffer, codings: readonly Coding[], maxBytes: number): Buffer {
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i];
    if (coding === undefined) continue;
    try {
      out = decodeOne(out, coding, { maxOutputLength: maxBytes });
    } catch (err) {
      const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
      throw new TollgateError('response_decode_failed', tooLarge ? `${coding} body decodes to more than ${maxBytes} bytes` : `${coding} body does not decode`);
    }
  }
  return out;
}
