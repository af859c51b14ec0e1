// The decoding of compressed provider responses (processing/content-encoding.ts): every coding Tollgate
// accepts round-trips, stacked codings are undone in reverse order, and what cannot be decoded (an unknown
// coding, a corrupt body, a body over the cap) is an error, never the bytes passed on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { decodeContentEncoding, parseContentEncoding } from '../../extproc/processing/content-encoding.ts';
import { TollgateError } from '../../extproc/errors.ts';

const BODY = Buffer.from(JSON.stringify({ choices: [{ message: { content: 'hello '.repeat(50) } }] }));

describe('parseContentEncoding', () => {
  it('absent, empty and identity mean no coding', () => {
    assert.deepEqual(parseContentEncoding(undefined), []);
    assert.deepEqual(parseContentEncoding(''), []);
    assert.deepEqual(parseContentEncoding('identity'), []);
  });
  it('lists codings in the order applied, case-insensitively, x-gzip as gzip', () => {
    assert.deepEqual(parseContentEncoding('GZIP'), ['gzip']);
    assert.deepEqual(parseContentEncoding('x-gzip'), ['gzip']);
    assert.deepEqual(parseContentEncoding('deflate, br'), ['deflate', 'br']);
    assert.deepEqual(parseContentEncoding('zstd'), ['zstd']);
  });
  it('an unknown coding, or an empty member of a list, is not decodable', () => {
    assert.equal(parseContentEncoding('compress'), undefined);
    assert.equal(parseContentEncoding('gzip, snappy'), undefined);
    assert.equal(parseContentEncoding('gzip,,br'), undefined);
  });
});

describe('decodeContentEncoding', () => {
  const cases = [
    ['gzip', gzipSync(BODY)],
    ['deflate', deflateSync(BODY)],
    ['deflate', deflateRawSync(BODY)],
    ['br', brotliCompressSync(BODY)],
    ['zstd', zstdCompressSync(BODY)],
  ] as const;
  for (const [coding, encoded] of cases) {
    it(`undoes ${coding}${coding === 'deflate' && encoded[0] !== 0x78 ? ' (raw, without the zlib wrapper)' : ''}`, () => {
      assert.deepEqual(decodeContentEncoding(encoded, [coding], 1 << 20), BODY);
    });
  }
  it('undoes stacked codings last first', () => {
    assert.deepEqual(decodeContentEncoding(brotliCompressSync(gzipSync(BODY)), ['gzip', 'br'], 1 << 20), BODY);
  });
  it('no codings: the body itself', () => {
    assert.equal(decodeContentEncoding(BODY, [], 10), BODY);
  });
  it('a corrupt body is response_decode_failed', () => {
    assert.throws(() => decodeContentEncoding(gzipSync(BODY).subarray(0, 20), ['gzip'], 1 << 20), (e: unknown) => e instanceof TollgateError && e.code === 'response_decode_failed');
    assert.throws(() => decodeContentEncoding(BODY, ['br'], 1 << 20), (e: unknown) => e instanceof TollgateError && e.code === 'response_decode_failed');
  });
  it('a body that decodes past the cap is response_decode_failed (a compression bomb stops at the cap)', () => {
    const bomb = gzipSync(Buffer.alloc(8 << 20));
    assert.ok(bomb.length < 64 * 1024);
    assert.throws(() => decodeContentEncoding(bomb, ['gzip'], 1 << 20), (e: unknown) => e instanceof TollgateError && e.code === 'response_decode_failed' && /more than 1048576 bytes/.test(e.message));
    assert.equal(decodeContentEncoding(gzipSync(Buffer.alloc(1 << 20)), ['gzip'], 1 << 20).length, 1 << 20, 'exactly at the cap is fine');
  });
});
