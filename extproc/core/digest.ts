import { createHash, hash } from 'node:crypto';

// Digests on the hot path. createHash builds a native object per call, which in a busy service costs several
// times the hashing itself for the short inputs here (an API key, a JWT, an audit record); `crypto.hash` is one
// call with no object.

/** SHA-256 of `data` (a string is hashed as UTF-8), as lowercase hex. */
export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

const BLOCK = 64;

/**
 * HMAC-SHA256 (RFC 2104) under one key, for many messages. The inner and outer hashes absorb the padded key
 * once; each message then copies the two states (Hash.copy) instead of setting up an HMAC context.
 */
export function hmacSha256(key: Buffer): (data: string | Buffer) => Buffer {
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  const pad = (byte: number): Buffer => {
    const p = Buffer.alloc(BLOCK, byte);
    for (let i = 0; i < k.length; i++) p[i] = (p[i] as number) ^ (k[i] as number);
    return p;
  };
  const inner = createHash('sha256').update(pad(0x36));
  const outer = createHash('sha256').update(pad(0x5c));
  return (data) => outer.copy().update(inner.copy().update(data).digest()).digest();
}
