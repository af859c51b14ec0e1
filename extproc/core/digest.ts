import { createHmac, createSecretKey, hash } from 'node:crypto';

// Digests on the hot path. Node's createHash/createHmac build a native object per call, which costs several
// times the hashing itself for the short inputs here (a key, a sealed context, a chat body); `crypto.hash` is
// one call with no object. HMAC is still HMAC-SHA256 (RFC 2104): the same bytes as createHmac, which the
// tests check on random keys and messages and on RFC 4231's vectors.

/** SHA-256 of `data` (a string is hashed as UTF-8), as lowercase hex. */
export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

const BLOCK = 64;
const DIGEST = 32;
/** Messages up to this many bytes are MACed with two one-shot hashes; longer ones stream through createHmac. */
const ONE_SHOT_MAX = 16 * 1024;

/**
 * HMAC-SHA256 under one key, for many messages. The padded inner and outer keys are made once; a MAC of a
 * message up to 16 KB is then two `crypto.hash` calls over a scratch buffer reused by every call
 * (synchronous, so no two calls share it). Longer messages go through createHmac.
 */
export function hmacSha256(key: Buffer): (data: string | Buffer) => Buffer {
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  const inner = Buffer.alloc(BLOCK + ONE_SHOT_MAX);
  const outer = Buffer.alloc(BLOCK + DIGEST);
  for (let i = 0; i < BLOCK; i++) {
    const b = i < k.length ? (k[i] as number) : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  const secret = createSecretKey(key);
  return (data) => {
    let n: number;
    if (typeof data === 'string') {
      // UTF-8 takes at most three bytes per UTF-16 unit, so this bound never truncates.
      if (data.length * 3 > ONE_SHOT_MAX) return createHmac('sha256', secret).update(data).digest();
      n = inner.write(data, BLOCK, 'utf8');
    } else {
      if (data.length > ONE_SHOT_MAX) return createHmac('sha256', secret).update(data).digest();
      n = data.copy(inner, BLOCK);
    }
    hash('sha256', inner.subarray(0, BLOCK + n), 'buffer').copy(outer, BLOCK);
    return hash('sha256', outer, 'buffer');
  };
}
