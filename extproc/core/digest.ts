import { createHmac, createSecretKey, hash } from 'node:crypto';

// Digests on the hot path. createHash builds a native object per call, which in a busy service costs several
// times the hashing itself for the short inputs here (an API key, a JWT, an audit record); `crypto.hash` is one
// call with no object. HMACs stay on createHmac, with the key made a KeyObject once.

/** SHA-256 of `data` (a string is hashed as UTF-8), as lowercase hex. */
export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

/**
 * HMAC-SHA256 under one key, for many messages: the key becomes a KeyObject once (Node checks a raw key on every
 * createHmac, several times the cost of the MAC itself for short messages).
 */
export function hmacSha256(key: Buffer): (data: string | Buffer) => Buffer {
  const secret = createSecretKey(key);
  return (data) => createHmac('sha256', secret).update(data).digest();
}
