// Env, file and none credential sources.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialMeta, NO_CREDENTIAL, type Credential } from '../../extproc/credentials/credential-source.ts';
import { envCredentialSource, fileCredentialSource, noCredentialSource } from '../../extproc/credentials/static-sources.ts';
import { TollgateError } from '../../extproc/errors.ts';
import { tollgateRejection } from '../helpers/assertions.ts';

const SCOPE = { tenant: 't', identity: 'i', provider: 'p' };
const reveal = (c: Credential): string | undefined => (c.kind === 'api-key' || c.kind === 'bearer' ? c.secret.reveal() : undefined);


describe('envCredentialSource', () => {
  const bad: readonly [string, Record<string, string | undefined>][] = [
    ['unset', {}],
    ['empty', { KEY: '' }],
    ['blank', { KEY: '  \n' }],
  ];
  for (const [label, env] of bad) {
    it(`throws at construction when the variable is ${label}, naming it`, () => {
      assert.throws(() => envCredentialSource('KEY', env), /environment variable KEY is not set or empty/);
    });
  }

  it('serves the trimmed value as an api-key; the description never holds it', async () => {
    const src = envCredentialSource('KEY', { KEY: '  sk-env-123\n' });
    const c = await src.fetch(SCOPE);
    assert.equal(c.kind, 'api-key');
    assert.equal(reveal(c), 'sk-env-123');
    assert.equal(credentialMeta(c)?.expiresAt, undefined);
    assert.equal(credentialMeta(c)?.source, 'env:KEY', 'the audit-safe source label');
    assert.equal(src.description, 'env:KEY');
  });

  it('reads the environment once, at construction', async () => {
    const env: Record<string, string | undefined> = { KEY: 'sk-first' };
    const src = envCredentialSource('KEY', env);
    env.KEY = 'sk-second';
    assert.equal(reveal(await src.fetch(SCOPE)), 'sk-first');
  });
});

describe('fileCredentialSource', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-cred-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  let n = 0;
  const file = (content: string): string => {
    const path = join(dir, `key-${++n}`);
    writeFileSync(path, content);
    return path;
  };

  const contents: readonly [string, string, string][] = [
    ['a plain line', 'sk-plain\n', 'sk-plain'],
    ['no trailing newline', 'sk-bare', 'sk-bare'],
    ['CRLF and spaces', '  sk-crlf  \r\n', 'sk-crlf'],
    ['only the first line', 'sk-first\nsk-second\n', 'sk-first'],
  ];
  for (const [label, content, expected] of contents) {
    it(`reads ${label}`, async () => {
      const src = fileCredentialSource(file(content));
      const c = await src.fetch(SCOPE);
      assert.equal(c.kind, 'api-key');
      assert.equal(reveal(c), expected);
    });
  }

  const empties: readonly [string, string][] = [
    ['empty', ''],
    ['blank', '   \n'],
    ['an empty first line', '\nsk-on-line-two\n'],
  ];
  for (const [label, content] of empties) {
    it(`throws credential_unavailable at construction for an ${label} file`, () => {
      const path = file(content);
      assert.throws(() => fileCredentialSource(path), (err: unknown) => err instanceof TollgateError && err.code === 'credential_unavailable' && err.message.includes('is empty') && !err.message.includes('sk-on-line-two'));
    });
  }

  it('throws ENOENT at construction for a missing file', () => {
    assert.throws(() => fileCredentialSource(join(dir, 'missing')), { code: 'ENOENT' });
  });

  it('describes itself by path', () => {
    const path = file('sk-desc');
    assert.equal(fileCredentialSource(path).description, `file:${path}`);
  });

  it('re-reads the file after it changes (different content and size)', async () => {
    const path = file('sk-one\n');
    const src = fileCredentialSource(path);
    assert.equal(reveal(await src.fetch(SCOPE)), 'sk-one');
    writeFileSync(path, 'sk-two-rotated\n');
    assert.equal(reveal(await src.fetch(SCOPE)), 'sk-two-rotated');
  });

  it('re-reads the file after its mtime changes, even at the same size', async () => {
    const path = file('sk-aaaa\n');
    const src = fileCredentialSource(path);
    assert.equal(reveal(await src.fetch(SCOPE)), 'sk-aaaa');
    const before = statSync(path).mtime;
    writeFileSync(path, 'sk-bbbb\n');
    const later = new Date(before.getTime() + 5_000);
    utimesSync(path, later, later);
    assert.equal(reveal(await src.fetch(SCOPE)), 'sk-bbbb');
  });

  it('serves the same credential object while the file is unchanged', async () => {
    const src = fileCredentialSource(file('sk-same\n'));
    assert.equal(await src.fetch(SCOPE), await src.fetch(SCOPE));
  });

  it('rejects with credential_unavailable once the file is emptied, without the old secret', async () => {
    const path = file('sk-old-secret-value\n');
    const src = fileCredentialSource(path);
    await src.fetch(SCOPE);
    writeFileSync(path, '');
    const err = await tollgateRejection(src.fetch(SCOPE));
    assert.equal(err.code, 'credential_unavailable');
    assert.match(err.message, /is empty/);
    assert.ok(!err.message.includes('sk-old-secret-value'));
    await tollgateRejection(src.fetch(SCOPE));
    writeFileSync(path, 'sk-restored\n');
    assert.equal(reveal(await src.fetch(SCOPE)), 'sk-restored');
  });

  it('rejects with credential_unavailable and ENOENT once the file is removed', async () => {
    const path = file('sk-gone\n');
    const src = fileCredentialSource(path);
    await src.fetch(SCOPE);
    unlinkSync(path);
    const err = await tollgateRejection(src.fetch(SCOPE));
    assert.equal(err.code, 'credential_unavailable');
    assert.match(err.message, /ENOENT/);
    assert.ok(!err.message.includes('sk-gone'));
  });
});

describe('noCredentialSource', () => {
  it('serves the "none" credential without a secret', async () => {
    const src = noCredentialSource();
    const c = await src.fetch(SCOPE);
    assert.equal(c, NO_CREDENTIAL);
    assert.equal(c.kind, 'none');
    assert.equal(c.kind, 'none');
    assert.equal(credentialMeta(c), undefined);
    assert.equal(src.description, 'none');
  });
});
