import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { identitySectionSchema, jwtIssuerSchema } from '../../extproc/config/identity-schema.ts';
import { JwtVerifier } from '../../extproc/identity/jwt.ts';
import { IdentityResolver, type ApiKeyLookup } from '../../extproc/identity/precedence.ts';
import { SpiffeResolver } from '../../extproc/identity/spiffe.ts';
import { makeSigningKey, mint, type SigningKey } from '../helpers/jwks-server.ts';

const ISS = 'https://issuer.test';
let key: SigningKey;
let resolver: IdentityResolver;
let lookups = 0;
const apiKey: ApiKeyLookup = (headers) => {
  lookups++;
  const k = headers['x-api-key'] ?? /^Bearer (tg_\S+)$/.exec(headers.authorization ?? '')?.[1];
  if (k === undefined) return { kind: 'none' };
  return k === 'tg_good' ? { kind: 'ok', subject: 'key-caller', tenant: 't1' } : { kind: 'fail', reason: 'unauthenticated', detail: 'unknown key' };
};

const claims = () => ({ iss: ISS, aud: 'tollgate', sub: 'oidc-workload', exp: Math.floor(Date.now() / 1000) + 300 });

before(async () => {
  key = await makeSigningKey('k1');
  const cfg = jwtIssuerSchema.parse({ issuer: ISS, audiences: ['tollgate'], algorithms: ['ES256'], requireNbf: false, jwks: { inline: { keys: [key.publicJwk] } } });
  resolver = new IdentityResolver({
    mtls: new SpiffeResolver({ trustDomains: new Map([['prod.example', undefined]]), requireCertificate: false, trustXfcc: false }),
    jwt: new JwtVerifier({ issuers: [cfg], maxTokenBytes: 8192 }),
    apiKey,
  });
});

describe('IdentityResolver precedence: mTLS → JWT → API key', () => {
  const SPIFFE = 'spiffe://prod.example/ns/a/sa/b';
  const cases: Array<{ name: string; principal?: string; headers: () => Promise<Record<string, string>>; want: string }> = [
    { name: 'mTLS alone', principal: SPIFFE, headers: () => Promise.resolve({}), want: `spiffe:${SPIFFE}` },
    { name: 'mTLS wins over a JWT and a key', principal: SPIFFE, headers: async () => ({ authorization: `Bearer ${await mint(key, claims())}`, 'x-api-key': 'tg_good' }), want: `spiffe:${SPIFFE}` },
    { name: 'an untrusted principal is denied, no fallback to the key', principal: 'spiffe://other.example/x', headers: () => Promise.resolve({ 'x-api-key': 'tg_good' }), want: 'fail:spiffe:trust_domain_untrusted' },
    { name: 'JWT alone', headers: async () => ({ authorization: `Bearer ${await mint(key, claims())}` }), want: 'jwt:oidc-workload' },
    { name: 'an invalid JWT is denied, no fallback', headers: async () => ({ authorization: `Bearer ${await mint(key, { ...claims(), aud: 'x' })}` }), want: 'fail:jwt:audience_mismatch' },
    { name: 'JWT plus an API key is ambiguous', headers: async () => ({ authorization: `Bearer ${await mint(key, claims())}`, 'x-api-key': 'tg_good' }), want: 'fail:jwt:credentials_ambiguous' },
    { name: 'API key in x-api-key', headers: () => Promise.resolve({ 'x-api-key': 'tg_good' }), want: 'api_key:key-caller' },
    { name: 'API key as a bearer token', headers: () => Promise.resolve({ authorization: 'Bearer tg_good' }), want: 'api_key:key-caller' },
    { name: 'unknown API key', headers: () => Promise.resolve({ 'x-api-key': 'tg_bad' }), want: 'fail:api_key:unauthenticated' },
    { name: 'nothing', headers: () => Promise.resolve({}), want: 'fail:none:unauthenticated' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await resolver.resolve({ peerTrusted: true, principal: c.principal, headers: await c.headers() });
      const got = r.ok ? `${r.identity.kind}:${r.identity.subject}` : `fail:${r.kind}:${r.reason}`;
      assert.equal(got, c.want, r.ok ? '' : r.detail);
    });
  }

  it('a verified mTLS identity never consults the API-key table', async () => {
    const before = lookups;
    await resolver.resolve({ peerTrusted: true, principal: SPIFFE, headers: { 'x-api-key': 'tg_good' } });
    assert.equal(lookups, before);
  });

  it('a principal from a peer that is not trusted to report it is ignored: the API key decides, or nothing does', async () => {
    const withKey = await resolver.resolve({ principal: SPIFFE, headers: { 'x-api-key': 'tg_good' } });
    assert.ok(withKey.ok && withKey.identity.kind === 'api_key');
    const bare = await resolver.resolve({ peerTrusted: false, principal: SPIFFE, headers: {} });
    assert.ok(!bare.ok && bare.reason === 'unauthenticated' && bare.kind === 'none');
  });

  it('JWT claims and the tenant claim reach the identity', async () => {
    const r = await resolver.resolve({ headers: { authorization: `Bearer ${await mint(key, { ...claims(), groups: ['ml'] })}` } });
    assert.ok(r.ok);
    assert.deepEqual(r.identity.claims.groups, ['ml']);
    assert.equal(r.identity.authority, ISS);
  });
});

describe('identity config schema', () => {
  const jwks = { inline: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } };
  const valid = [
    {},
    { mtls: { trustDomains: [{ name: 'prod.example' }] } },
    { jwt: { issuers: [{ issuer: ISS, audiences: ['tollgate'], jwks }] } },
    { jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks: { remote: { url: 'https://idp.example/jwks' } } }] } },
    { jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks: { remote: { url: 'http://127.0.0.1:8080/jwks' } } }] } },
    { mtls: { trustDomains: [{ name: 'td' }] }, jwt: { issuers: [{ issuer: ISS, kind: 'spiffe', audiences: ['a'], jwks, requireNbf: false }] } },
    { requestProof: { mode: 'required', keys: [{ identity: 'a', key: { source: 'env', name: 'PROOF_A' } }] } },
  ];
  for (const v of valid) {
    it(`accepts ${JSON.stringify(v).slice(0, 80)}`, () => {
      const r = identitySectionSchema.safeParse(v);
      assert.ok(r.success, r.success ? '' : r.error.message);
    });
  }
  const invalid: Array<[unknown, RegExp]> = [
    [{ mtls: { trustDomains: [{ name: 'Prod.Example' }] } }, /trust domain/],
    [{ mtls: { trustDomains: [{ name: 'a' }, { name: 'a' }] } }, /duplicate trust domain/],
    [{ jwt: { issuers: [{ issuer: ISS, audiences: [], jwks }] } }, /audiences|too small|>=1/i],
    [{ jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks, algorithms: ['HS256'] }] } }, /algorithms/],
    [{ jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks, clockSkewSeconds: 3600 }] } }, /clockSkewSeconds/],
    [{ jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks: { remote: { url: 'http://idp.example/jwks' } } }] } }, /https/],
    [{ jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks }, { issuer: ISS, audiences: ['b'], jwks }] } }, /duplicate issuer/],
    [{ jwt: { issuers: [{ issuer: ISS, kind: 'spiffe', audiences: ['a'], jwks }] } }, /needs identity\.mtls/],
    [{ jwt: { issuers: [{ issuer: ISS, audiences: ['a'], jwks, typo: 1 }] } }, /typo|Unrecognized/],
    [{ requestProof: { mode: 'sometimes' } }, /mode/],
  ];
  for (const [v, msg] of invalid) {
    it(`refuses ${JSON.stringify(v).slice(0, 90)}`, () => {
      const r = identitySectionSchema.safeParse(v);
      assert.ok(!r.success);
      assert.match(JSON.stringify(r.error.issues), msg);
    });
  }
});
