// Tollgate API keys: minting, hashing, and finding the key a caller presented.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashApiKey, mintApiKey, presentedApiKey, type PresentedKey } from '../../extproc/identity/api-key.ts';
import { validateConfig } from '../../extproc/config/load.ts';

describe('mintApiKey', () => {
  it('is "tg_" followed by 43 base64url characters (32 random bytes)', () => {
    for (let i = 0; i < 50; i++) {
      const key = mintApiKey();
      assert.match(key, /^tg_[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(key.slice(3), 'base64url').length, 32);
    }
  });

  it('never repeats', () => {
    const keys = new Set(Array.from({ length: 500 }, () => mintApiKey()));
    assert.equal(keys.size, 500);
  });
});

describe('hashApiKey', () => {
  it('is "sha256:" and the lower-case hex SHA-256 of the UTF-8 key', () => {
    assert.equal(hashApiKey('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(hashApiKey(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('is deterministic and distinguishes keys', () => {
    const key = mintApiKey();
    assert.equal(hashApiKey(key), hashApiKey(key));
    assert.notEqual(hashApiKey(key), hashApiKey(mintApiKey()));
    assert.notEqual(hashApiKey('tg_a'), hashApiKey('tg_A'));
  });

  it('is accepted by the config schema as an apiKeyHashes entry', () => {
    const hash = hashApiKey(mintApiKey());
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    const cfg = validateConfig({
      version: 1,
      providers: [{ name: 'p', kind: 'openai', upstream: 'https://api.openai.com/v1', models: ['*'], credential: { source: 'none' } }],
      identities: [{ id: 'a', apiKeyHashes: [hash], allow: [] }],
    }, 't');
    assert.deepEqual(cfg.identities[0]?.apiKeyHashes, [hash]);
  });
});

describe('presentedApiKey', () => {
  const K = 'tg_Sm9obkRvZUtleUZvclRlc3RzT25seTEyMzQ1Njc4OTA';
  const L = 'tg_T3RoZXJLZXlGb3JUZXN0c09ubHkxMjM0NTY3ODkwMTI';

  const keyCases: readonly [string, Record<string, string>][] = [
    ['Bearer', { authorization: `Bearer ${K}` }],
    ['lower-case bearer', { authorization: `bearer ${K}` }],
    ['upper-case BEARER', { authorization: `BEARER ${K}` }],
    ['bearer with a tab and extra spaces', { authorization: `  Bearer \t ${K}  ` }],
    ['x-api-key', { 'x-api-key': K }],
    ['x-api-key with surrounding whitespace', { 'x-api-key': ` ${K} ` }],
    ['api-key (Azure)', { 'api-key': K }],
    ['the same key in authorization and x-api-key', { authorization: `Bearer ${K}`, 'x-api-key': K }],
    ['the same key in all three headers', { authorization: `Bearer ${K}`, 'x-api-key': K, 'api-key': K }],
    ['a key next to unrelated headers', { 'x-api-key': K, 'content-type': 'application/json', cookie: 'a=b' }],
  ];
  for (const [label, headers] of keyCases) {
    it(`finds the key: ${label}`, () => {
      assert.deepEqual(presentedApiKey(headers), { kind: 'key', key: K });
    });
  }

  const otherCases: readonly [string, Record<string, string>, PresentedKey['kind']][] = [
    ['no headers', {}, 'none'],
    ['only unrelated headers', { 'content-type': 'application/json', 'x-api-key-id': K }, 'none'],
    ['two different keys: authorization and x-api-key', { authorization: `Bearer ${K}`, 'x-api-key': L }, 'ambiguous'],
    ['two different keys: x-api-key and api-key', { 'x-api-key': K, 'api-key': L }, 'ambiguous'],
    ['repeated x-api-key joined with a comma', { 'x-api-key': `${K},${L}` }, 'ambiguous'],
    ['repeated x-api-key, same key twice', { 'x-api-key': `${K},${K}` }, 'ambiguous'],
    ['a bearer token holding two comma-joined keys', { authorization: `Bearer ${K},${L}` }, 'ambiguous'],
    ['Basic auth', { authorization: 'Basic dXNlcjpwYXNzd29yZA==' }, 'malformed'],
    ['an empty authorization header', { authorization: '' }, 'malformed'],
    ['a bare Bearer scheme', { authorization: 'Bearer' }, 'malformed'],
    ['Bearer and only spaces', { authorization: 'Bearer    ' }, 'malformed'],
    ['Bearer without a space', { authorization: `Bearer${K}` }, 'malformed'],
    ['a token with a space inside', { authorization: `Bearer ${K} extra` }, 'malformed'],
    ['another scheme', { authorization: `Token ${K}` }, 'malformed'],
    ['an empty x-api-key', { 'x-api-key': '' }, 'malformed'],
    ['a blank api-key', { 'api-key': '   ' }, 'malformed'],
    ['an x-api-key with a space inside', { 'x-api-key': 'tg_a tg_b' }, 'malformed'],
    ['a non-ASCII x-api-key', { 'x-api-key': 'tg_clé' }, 'malformed'],
    ['a good bearer and an empty x-api-key', { authorization: `Bearer ${K}`, 'x-api-key': '' }, 'malformed'],
  ];
  for (const [label, headers, kind] of otherCases) {
    it(`${kind}: ${label}`, () => {
      assert.deepEqual(presentedApiKey(headers), { kind });
    });
  }

  it('ambiguous: a repeated authorization header joined with a comma', () => {
    assert.deepEqual(presentedApiKey({ authorization: `Bearer ${K},Bearer ${L}` }), { kind: 'ambiguous' });
  });
});
