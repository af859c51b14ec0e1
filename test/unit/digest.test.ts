import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { hmacSha256, sha256Hex } from '../../extproc/core/digest.ts';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('hmacSha256', () => {
  // RFC 4231 test cases 1, 2, 4, 6 and 7 (SHA-256): short, ASCII, 25-byte and 131-byte (over one block) keys.
  const vectors: { key: Buffer; data: Buffer; mac: string }[] = [
    { key: Buffer.alloc(20, 0x0b), data: Buffer.from('Hi There'), mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
    { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
    { key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: Buffer.alloc(50, 0xcd), mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b' },
    { key: Buffer.alloc(131, 0xaa), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54' },
    {
      key: Buffer.alloc(131, 0xaa),
      data: Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      mac: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    },
  ];
  for (const [i, v] of vectors.entries()) {
    it(`matches RFC 4231 vector ${i + 1}, as a Buffer and as a string`, () => {
      const mac = hmacSha256(v.key);
      assert.equal(mac(v.data).toString('hex'), v.mac);
      assert.equal(mac(v.data.toString('latin1')).toString('hex'), v.data.every((b) => b < 0x80) ? v.mac : createHmac('sha256', v.key).update(v.data.toString('latin1')).digest('hex'));
    });
  }

  it('gives the bytes createHmac gives with the raw key, for random keys and messages', () => {
    for (const keyLength of [16, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const mac = hmacSha256(key);
      for (const size of [0, 1, 55, 56, 64, 1000, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000]) {
        const data = randomBytes(size);
        assert.deepEqual(mac(data), createHmac('sha256', key).update(data).digest(), `key ${keyLength} B, buffer ${size} B`);
      }
    }
  });

  it('hashes strings as UTF-8, multi-byte characters included', () => {
    const key = randomBytes(32);
    const mac = hmacSha256(key);
    const alphabet: readonly string[] = ['a', 'é', '€', '😀', '\u0000', '"'];
    for (const units of [0, 10, 5461, 5462, 5463, 20_000]) {
      let s = '';
      while (s.length < units) s += alphabet[randomInt(alphabet.length)] ?? '';
      assert.deepEqual(mac(s), createHmac('sha256', key).update(s, 'utf8').digest(), `${s.length} UTF-16 units`);
    }
  });

  it('one MAC does not change the next (the function holds no state but the key)', () => {
    const key = randomBytes(32);
    const mac = hmacSha256(key);
    mac('x'.repeat(5000));
    assert.deepEqual(mac('short'), createHmac('sha256', key).update('short').digest());
    mac(randomBytes(16 * 1024));
    assert.deepEqual(mac(Buffer.alloc(0)), createHmac('sha256', key).update(Buffer.alloc(0)).digest());
  });
});

describe('sha256Hex', () => {
  it('gives the same hex as createHash for strings (UTF-8) and Buffers', () => {
    for (const v of ['', 'abc', 'tg_key-é€😀', randomBytes(3000)]) {
      assert.equal(sha256Hex(v), createHash('sha256').update(v).digest('hex'));
    }
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
