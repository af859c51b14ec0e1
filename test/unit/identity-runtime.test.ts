// The identity runtime built from a parsed config section: real PKI from openssl, a real JWKS
// server on loopback, the memory state store; one request of each kind through the resolver.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { identitySectionSchema } from '../../extproc/config/identity-schema.ts';
import { Secret } from '../../extproc/core/secret.ts';
import { buildIdentityRuntime, IdentityConfigError, type IdentityRuntime } from '../../extproc/identity/build.ts';
import { signRequestProof } from '../../extproc/identity/request-proof.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';
import { JwksServer, makeSigningKey, mint, type SigningKey } from '../helpers/jwks-server.ts';
import { makeSpiffePki, urlEncodedPem, type SpiffePki } from '../helpers/spiffe-certs.ts';

const PLANTED = 'PLANTED-proof-key-7f3a9c';
let pki: SpiffePki;
let jwks: JwksServer;
let key: SigningKey;
let rt: IdentityRuntime;
const store = new MemoryStateStore();

before(async () => {
  pki = makeSpiffePki(['prod.example', 'rogue']);
  key = await makeSigningKey('k8s-1', 'RS256');
  jwks = await JwksServer.start([key]);
  const section = identitySectionSchema.parse({
    mtls: { trustDomains: [{ name: 'prod.example', bundleFile: pki.ca('prod.example').certFile }], requireCertificate: true },
    jwt: { issuers: [{ issuer: 'https://kubernetes.default.svc', kind: 'kubernetes', audiences: ['tollgate'], algorithms: ['RS256'], requireJti: true, jwks: { remote: { url: jwks.url } }, claims: { tenant: 'kubernetes.io/namespace' } }] },
    requestProof: { mode: 'optional', keys: [{ identity: 'system:serviceaccount:ml:agent', key: { source: 'env', name: 'PROOF_KEY' } }] },
  });
  rt = buildIdentityRuntime(section, {
    store,
    readFile: (p) => readFileSync(p, 'utf8'),
    readSecret: (s) => { assert.equal(s.source, 'env'); return new Secret(PLANTED); },
    apiKey: () => ({ kind: 'none' }),
  });
  await rt.warm();
});
after(async () => { await jwks.stop(); await store.close(); pki.cleanup(); });

describe('identity runtime from config', () => {
  it('warm() fetched the JWKS once', () => {
    assert.equal(jwks.fetches, 1);
  });

  it('mTLS: a certificate from the bundle is accepted; one from another CA claiming the domain is not', async () => {
    const good = pki.leaf('svc', 'prod.example', 'URI:spiffe://prod.example/ns/ml/sa/agent');
    const rogue = pki.leaf('rogue', 'rogue', 'URI:spiffe://prod.example/ns/ml/sa/agent');
    await Promise.all([
      rt.resolver.resolve({ peerTrusted: true, principal: 'spiffe://prod.example/ns/ml/sa/agent', certificate: urlEncodedPem(good), headers: {} }).then((r) => { assert.ok(r.ok && r.identity.kind === 'spiffe'); }),
      rt.resolver.resolve({ peerTrusted: true, principal: 'spiffe://prod.example/ns/ml/sa/agent', certificate: urlEncodedPem(rogue), headers: {} }).then((r) => { assert.ok(!r.ok && r.reason === 'certificate_untrusted'); }),
      rt.resolver.resolve({ peerTrusted: true, principal: 'spiffe://prod.example/ns/ml/sa/agent', headers: {} }).then((r) => { assert.ok(!r.ok && r.reason === 'certificate_required'); }),
    ]);
  });

  it('a Kubernetes service-account token: tenant from the namespace claim, jti replay refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await mint(key, { iss: 'https://kubernetes.default.svc', aud: ['tollgate'], sub: 'system:serviceaccount:ml:agent', 'kubernetes.io/namespace': 'ml', nbf: now - 5, iat: now - 5, exp: now + 600, jti: 'c0ffee' });
    const r = await rt.resolver.resolve({ headers: { authorization: `Bearer ${token}` } });
    assert.ok(r.ok, r.ok ? '' : r.detail);
    assert.equal(r.identity.subject, 'system:serviceaccount:ml:agent');
    assert.equal(r.identity.tenant, 'ml');
    const again = await rt.resolver.resolve({ headers: { authorization: `Bearer ${token}` } });
    assert.ok(!again.ok && again.reason === 'replayed');
  });

  it('the request proof key comes from the secret reader and never shows', async () => {
    assert.ok(rt.proof !== undefined && rt.proofMode === 'optional' && rt.proofHeader === 'x-tollgate-proof');
    const input = { identity: 'system:serviceaccount:ml:agent', method: 'POST', path: '/openai/v1/chat/completions', bodySha256Hex: 'a'.repeat(64) };
    const t = Math.floor(Date.now() / 1000);
    assert.equal((await rt.proof.verify(input, signRequestProof(new Secret(PLANTED), input, t, 'n-0123456789abcdef'))).ok, true);
    const bad = await rt.proof.verify(input, signRequestProof(new Secret('x'), input, t, 'n-0123456789abcdeg'));
    assert.ok(!bad.ok);
    assert.ok(!JSON.stringify([rt, bad]).includes(PLANTED));
  });

  it('a bundle file without a CA certificate is a config error naming the field', () => {
    const leafPem = pki.leaf('notca', 'prod.example', 'URI:spiffe://prod.example/x');
    const section = identitySectionSchema.parse({ mtls: { trustDomains: [{ name: 'prod.example', bundleFile: '/leaf.pem' }] } });
    assert.throws(
      () => buildIdentityRuntime(section, { store, readFile: () => leafPem, readSecret: () => new Secret('') }),
      (e: unknown) => e instanceof IdentityConfigError && e.field === 'identity.mtls.trustDomains[0].bundleFile' && /not a CA/.test(e.message),
    );
    assert.throws(() => buildIdentityRuntime(section, { store, readFile: () => 'junk', readSecret: () => new Secret('') }), /no PEM certificate/);
  });
});
