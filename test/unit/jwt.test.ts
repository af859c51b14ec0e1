import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it, before } from 'node:test';
import { exportSPKI, importJWK, type CryptoKey } from 'jose';
import { jwtIssuerSchema, type JwtIssuerConfig } from '../../extproc/config/identity-schema.ts';
import { JwtVerifier, type JwtFailure } from '../../extproc/identity/jwt.ts';
import { ReplayGuard } from '../../extproc/identity/replay.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';
import { makeSigningKey, mint, type SigningKey } from '../helpers/jwks-server.ts';

const NOW = 1_800_000_000; // seconds; a fixed clock
const ISS = 'https://issuer.test';
const AUD = 'tollgate';
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

let es: SigningKey;
let rs: SigningKey;
let other: SigningKey;

function issuer(over: Record<string, unknown> = {}): JwtIssuerConfig {
  return jwtIssuerSchema.parse({
    issuer: ISS,
    audiences: [AUD],
    jwks: { inline: { keys: [es.publicJwk, rs.publicJwk] } },
    algorithms: ['ES256', 'RS256'],
    ...over,
  });
}

function verifier(issuers: JwtIssuerConfig[], replay?: ReplayGuard): JwtVerifier {
  return new JwtVerifier({ issuers, maxTokenBytes: 8192, trustDomains: new Set(['prod.example']), now: () => NOW * 1000, ...(replay ? { replay } : {}) });
}

const base = () => ({ iss: ISS, aud: AUD, sub: 'workload-a', iat: NOW - 10, nbf: NOW - 10, exp: NOW + 300 });

before(async () => {
  es = await makeSigningKey('es-1', 'ES256');
  rs = await makeSigningKey('rs-1', 'RS256');
  other = await makeSigningKey('es-1', 'ES256'); // same kid, different key: a forgery
});

describe('JwtVerifier: one table of tokens', () => {
  const cases: Array<{ name: string; token: () => Promise<string>; cfg?: Record<string, unknown>; want: JwtFailure | 'ok' }> = [
    { name: 'valid ES256', token: () => mint(es, base()), want: 'ok' },
    { name: 'valid RS256', token: () => mint(rs, base()), want: 'ok' },
    { name: 'expired beyond skew', token: () => mint(es, { ...base(), exp: NOW - 31 }), want: 'expired' },
    { name: 'expired within skew', token: () => mint(es, { ...base(), exp: NOW - 29 }), want: 'ok' },
    { name: 'not yet valid beyond skew', token: () => mint(es, { ...base(), nbf: NOW + 31 }), want: 'not_yet_valid' },
    { name: 'nbf within skew', token: () => mint(es, { ...base(), nbf: NOW + 29 }), want: 'ok' },
    { name: 'nbf missing (required by default)', token: () => mint(es, { ...base(), nbf: undefined }), want: 'claim_missing' },
    { name: 'nbf missing, requireNbf false', token: () => mint(es, { ...base(), nbf: undefined }), cfg: { requireNbf: false }, want: 'ok' },
    { name: 'exp missing', token: () => mint(es, { ...base(), exp: undefined }), want: 'claim_missing' },
    { name: 'aud missing', token: () => mint(es, { ...base(), aud: undefined }), want: 'claim_missing' },
    { name: 'wrong audience', token: () => mint(es, { ...base(), aud: 'someone-else' }), want: 'audience_mismatch' },
    { name: 'one of several audiences', token: () => mint(es, { ...base(), aud: ['x', AUD] }), want: 'ok' },
    { name: 'wrong issuer', token: () => mint(es, { ...base(), iss: 'https://evil.test' }), want: 'issuer_unknown' },
    { name: 'iss missing', token: () => mint(es, { ...base(), iss: undefined }), want: 'claim_missing' },
    { name: 'bad signature (other key, same kid)', token: () => mint(other, base()), want: 'signature_invalid' },
    { name: 'tampered payload', token: async () => { const [h, , s] = (await mint(es, base())).split('.'); return `${h}.${b64({ ...base(), sub: 'admin' })}.${s}`; }, want: 'signature_invalid' },
    { name: 'alg none', token: () => Promise.resolve(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(base())}.`), want: 'token_malformed' },
    { name: 'alg none with a fake signature', token: () => Promise.resolve(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(base())}.AAAA`), want: 'alg_not_allowed' },
    { name: 'alg outside the allow-list', token: () => mint(rs, base()), cfg: { algorithms: ['ES256'] }, want: 'alg_not_allowed' },
    {
      name: 'HS256 keyed with the RSA public key (alg confusion)',
      token: async () => {
        const spki = await exportSPKI(await importJWK(rs.publicJwk, 'RS256') as CryptoKey);
        const h = b64({ alg: 'HS256', typ: 'JWT', kid: 'rs-1' });
        const p = b64(base());
        return `${h}.${p}.${createHmac('sha256', spki).update(`${h}.${p}`).digest('base64url')}`;
      },
      want: 'alg_not_allowed',
    },
    { name: 'unknown kid in an inline set', token: () => mint(es, base(), { kid: 'nope' }), want: 'key_unknown' },
    { name: 'garbage', token: () => Promise.resolve('not.a.jwt!'), want: 'token_malformed' },
    { name: 'two parts', token: () => Promise.resolve('eyJhbGciOiJFUzI1NiJ9.eyJ9'), want: 'token_malformed' },
    { name: 'too long', token: () => mint(es, { ...base(), pad: 'x'.repeat(9000) }), want: 'token_too_long' },
    { name: 'lifetime over maxLifetimeSeconds', token: () => mint(es, { ...base(), exp: NOW + 7200 }), cfg: { maxLifetimeSeconds: 3600 }, want: 'lifetime_too_long' },
    { name: 'lifetime within maxLifetimeSeconds', token: () => mint(es, base()), cfg: { maxLifetimeSeconds: 3600 }, want: 'ok' },
    { name: 'identity claim not a string', token: () => mint(es, { ...base(), sub: undefined, email: 'a@b' }), cfg: { claims: { identity: 'email' } }, want: 'ok' },
    { name: 'identity claim missing', token: () => mint(es, { ...base(), sub: undefined }), want: 'claim_missing' },
    { name: 'tenant claim missing', token: () => mint(es, base()), cfg: { claims: { tenant: 'tenant' } }, want: 'claim_missing' },
    { name: 'jti required and missing', token: () => mint(es, base()), cfg: { requireJti: true }, want: 'claim_missing' },
    { name: 'jti not a string', token: () => mint(es, { ...base(), jti: 5 }), want: 'claim_invalid' },
    { name: 'spiffe: sub a SPIFFE ID in a trusted domain', token: () => mint(es, { ...base(), sub: 'spiffe://prod.example/ns/a/sa/b' }), cfg: { kind: 'spiffe' }, want: 'ok' },
    { name: 'spiffe: sub in another trust domain', token: () => mint(es, { ...base(), sub: 'spiffe://other.example/ns/a' }), cfg: { kind: 'spiffe' }, want: 'claim_invalid' },
    { name: 'spiffe: sub not a SPIFFE ID', token: () => mint(es, base()), cfg: { kind: 'spiffe' }, want: 'claim_invalid' },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const token = await c.token();
      const r = await verifier([issuer(c.cfg)]).verify(token);
      if (c.want === 'ok') {
        assert.equal(r.ok, true, r.ok ? '' : `${r.reason}: ${r.detail}`);
      } else {
        assert.ok(!r.ok);
        assert.equal(r.reason, c.want, r.detail);
        // A failure never echoes the token or its parts.
        const text = JSON.stringify(r);
        for (const part of token.split('.')) if (part.length > 8) assert.ok(!text.includes(part));
      }
    });
  }
});

describe('JwtVerifier: results', () => {
  it('returns subject, tenant and frozen JSON claims', async () => {
    const cfg = issuer({ claims: { tenant: 'team' } });
    const r = await verifier([cfg]).verify(await mint(es, { ...base(), team: 'payments', groups: ['a', 'b'], nested: { x: 1 } }));
    assert.ok(r.ok);
    assert.equal(r.token.subject, 'workload-a');
    assert.equal(r.token.tenant, 'payments');
    assert.equal(r.token.expiresAt, (NOW + 300) * 1000);
    assert.deepEqual(r.token.claims.groups, ['a', 'b']);
    assert.ok(Object.isFrozen(r.token.claims) && Object.isFrozen(r.token.claims.nested));
    assert.deepEqual(JSON.parse(JSON.stringify(r.token.claims)), r.token.claims);
  });

  it('picks the issuer by iss and never tries another issuer\'s keys', async () => {
    const a = issuer({ jwks: { inline: { keys: [es.publicJwk] } }, algorithms: ['ES256'] });
    const b = issuer({ issuer: 'https://b.test', jwks: { inline: { keys: [rs.publicJwk] } }, algorithms: ['RS256'] });
    const v = verifier([a, b]);
    assert.equal((await v.verify(await mint(es, base()))).ok, true);
    const r = await v.verify(await mint(es, { ...base(), iss: 'https://b.test' }));
    assert.ok(!r.ok && r.reason === 'alg_not_allowed');
    const r2 = await v.verify(await mint(rs, { ...base(), iss: 'https://b.test' }));
    assert.ok(r2.ok);
  });

  it('HS/RS confusion fails even if an allow-list (bypassing the schema) named HS256', async () => {
    const cfg = { ...issuer(), algorithms: ['RS256', 'HS256'] } as unknown as JwtIssuerConfig;
    const spki = await exportSPKI(await importJWK(rs.publicJwk, 'RS256') as CryptoKey);
    const h = b64({ alg: 'HS256', typ: 'JWT', kid: 'rs-1' });
    const p = b64(base());
    const r = await verifier([cfg]).verify(`${h}.${p}.${createHmac('sha256', spki).update(`${h}.${p}`).digest('base64url')}`);
    assert.ok(!r.ok && r.reason === 'alg_not_allowed', JSON.stringify(r));
  });

  it('the schema offers no HMAC or none algorithm', () => {
    for (const alg of ['HS256', 'HS512', 'none']) {
      assert.equal(jwtIssuerSchema.safeParse({ issuer: ISS, audiences: [AUD], jwks: { inline: { keys: [{ kty: 'EC' }] } }, algorithms: [alg] }).success, false, alg);
    }
  });
});

describe('JwtVerifier: jti replay', () => {
  it('a jti is accepted once per issuer, and a second use is refused', async () => {
    const store = new MemoryStateStore({ now: () => NOW * 1000 });
    const v = verifier([issuer(), issuer({ issuer: 'https://b.test' })], new ReplayGuard(store));
    const t = await mint(es, { ...base(), jti: 'j-1' });
    assert.equal((await v.verify(t)).ok, true);
    const again = await v.verify(t);
    assert.ok(!again.ok && again.reason === 'replayed');
    // A new token re-using the jti is refused too; the same jti from another issuer is not.
    const r3 = await v.verify(await mint(es, { ...base(), jti: 'j-1', sub: 'x' }));
    assert.ok(!r3.ok && r3.reason === 'replayed');
    assert.equal((await v.verify(await mint(es, { ...base(), jti: 'j-1', iss: 'https://b.test' }))).ok, true);
    await store.close();
  });

  it('a jti is remembered for the token lifetime plus skew, then forgotten', async () => {
    let now = NOW * 1000;
    const store = new MemoryStateStore({ now: () => now });
    const v = new JwtVerifier({ issuers: [issuer()], maxTokenBytes: 8192, now: () => now, replay: new ReplayGuard(store) });
    const t = await mint(es, { ...base(), jti: 'j-2', exp: NOW + 60 });
    assert.equal((await v.verify(t)).ok, true);
    now = (NOW + 60 + 29) * 1000; // still within exp + skew: replay refused
    const r = await v.verify(t);
    assert.ok(!r.ok && r.reason === 'replayed');
    now = (NOW + 60 + 31) * 1000; // past exp + skew: the token itself is expired
    const r2 = await v.verify(t);
    assert.ok(!r2.ok && r2.reason === 'expired');
    await store.close();
  });

  it('a failing replay store fails closed', async () => {
    const v = verifier([issuer()], new ReplayGuard({ claimOnce: () => Promise.reject(new Error('redis down')) }));
    const r = await v.verify(await mint(es, { ...base(), jti: 'j-3' }));
    assert.ok(!r.ok && r.reason === 'replay_store_unavailable');
  });

  it('an invalid token never reaches the replay store', async () => {
    let claims = 0;
    const v = verifier([issuer()], new ReplayGuard({ claimOnce: () => { claims++; return Promise.resolve(true); } }));
    await v.verify(await mint(other, { ...base(), jti: 'j-4' }));
    await v.verify(await mint(es, { ...base(), jti: 'j-4', exp: NOW - 100 }));
    assert.equal(claims, 0);
  });
});

describe('JwtVerifier: verified-token cache', () => {
  /**
   * A verifier on a remote JWKS (a fake fetch) that starts with the ES256 key. A token served from the cache is
   * not checked against the key set, so once `dropKey` has rotated the set to the RS256 key only, an ES256 token
   * passes only when it is a cache hit; a fresh check says key_unknown.
   */
  function rotating(cache: { readonly seconds: number; readonly entries: number }) {
    let keys = [es];
    const clock = { t: NOW * 1000 };
    const cfg = issuer({ jwks: { remote: { url: 'https://issuer.test/jwks.json', minRefreshIntervalSeconds: 1 } } });
    const fetch = (): Promise<Response> => Promise.resolve(Response.json({ keys: keys.map((k) => k.publicJwk) }));
    const v = new JwtVerifier({ issuers: [cfg], maxTokenBytes: 8192, now: () => clock.t, fetch, verifiedCache: cache });
    const check = async (token: string): Promise<string> => { const r = await v.verify(token); return r.ok ? 'ok' : r.reason; };
    const dropKey = async (): Promise<void> => {
      keys = [rs];
      clock.t += 2_000; // past the 1 s refetch interval
      // A kid the cached set lacks makes the verifier fetch the rotated set (a jti keeps this token out of the cache).
      assert.equal(await check(await mint(rs, { ...base(), jti: 'rotation' })), 'ok', 'the rotated set is in place');
    };
    return { check, clock, dropKey };
  }

  it('a reused token skips the signature check, for at most the cache TTL; exp is still enforced', async () => {
    const r = rotating({ seconds: 60, entries: 10 });
    const t = await mint(es, base());
    const shortLived = await mint(es, { ...base(), sub: 'short', exp: NOW + 10 });
    // One changed signature byte is a different token: a full check, which fails, and is not cached.
    const tampered = `${t.slice(0, -2)}${t.endsWith('AA') ? 'BB' : 'AA'}`;
    assert.deepEqual([await r.check(t), await r.check(shortLived), await r.check(tampered)], ['ok', 'ok', 'signature_invalid']);
    await r.dropKey();
    assert.equal(await r.check(await mint(es, { ...base(), sub: 'fresh' })), 'key_unknown', 'a token not seen before is checked against the new set');
    assert.equal(await r.check(t), 'ok', 'the reused token is served from the cache');
    assert.equal(await r.check(tampered), 'key_unknown', 'the failed token was not cached');
    // Past exp + skew (30 s) a cached token is refused as expired, before the cache TTL ends.
    r.clock.t = (NOW + 41) * 1000;
    assert.equal(await r.check(shortLived), 'expired');
    // Past the cache TTL the token is verified afresh: the removed key stops working.
    r.clock.t = (NOW + 61) * 1000;
    assert.equal(await r.check(t), 'key_unknown');
  });

  it('holds at most `entries` tokens, dropping the oldest', async () => {
    const r = rotating({ seconds: 60, entries: 2 });
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => mint(es, { ...base(), sub })));
    for (const t of tokens) assert.equal(await r.check(t), 'ok');
    await r.dropKey();
    const after: string[] = [];
    for (const t of tokens) after.push(await r.check(t));
    assert.deepEqual(after, ['key_unknown', 'ok', 'ok']);
  });

  it('seconds: 0 turns the cache off', async () => {
    const r = rotating({ seconds: 0, entries: 10 });
    const t = await mint(es, base());
    assert.equal(await r.check(t), 'ok');
    await r.dropKey();
    assert.equal(await r.check(t), 'key_unknown');
  });

  it('a token with jti is verified and claimed on every use, never served from the cache', async () => {
    const store = new MemoryStateStore({ now: () => NOW * 1000 });
    const v = new JwtVerifier({ issuers: [issuer()], maxTokenBytes: 8192, now: () => NOW * 1000, replay: new ReplayGuard(store) });
    const t = await mint(es, { ...base(), jti: 'cache-jti' });
    assert.equal((await v.verify(t)).ok, true);
    const r = await v.verify(t);
    assert.ok(!r.ok && r.reason === 'replayed');
    await store.close();
  });
});
