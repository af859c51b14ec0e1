import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseSpiffeId, parseXfcc, SpiffeResolver, type SpiffeParseFailure } from '../../extproc/identity/spiffe.ts';
import { makeSpiffePki, urlEncodedPem, type SpiffePki } from '../helpers/spiffe-certs.ts';

describe('parseSpiffeId', () => {
  const valid = [
    'spiffe://example.org',
    'spiffe://example.org/ns/default/sa/agent',
    'spiffe://prod_1.example-org/a.b-c_d/E9',
    'spiffe://cluster.local/ns/payments/sa/model-caller',
    `spiffe://${'a'.repeat(255)}/x`,
  ];
  for (const id of valid) {
    it(`accepts ${id.slice(0, 60)}`, () => {
      const r = parseSpiffeId(id);
      assert.ok(r.ok);
      assert.equal(r.id.uri, id);
      assert.equal(`spiffe://${r.id.trustDomain}${r.id.path}`, id);
    });
  }
  const invalid: Array<[string, SpiffeParseFailure]> = [
    ['', 'bad_scheme'],
    ['https://example.org/a', 'bad_scheme'],
    ['SPIFFE://example.org/a', 'bad_scheme'],
    ['spiffe:/example.org/a', 'bad_scheme'],
    ['spiffe://', 'trust_domain_missing'],
    ['spiffe:///path', 'trust_domain_missing'],
    ['spiffe://Example.org/a', 'trust_domain_invalid'],
    ['spiffe://exa mple.org', 'trust_domain_invalid'],
    ['spiffe://[::1]/a', 'port_not_allowed'],
    [`spiffe://${'a'.repeat(256)}`, 'trust_domain_invalid'],
    ['spiffe://example.org:8443/a', 'port_not_allowed'],
    ['spiffe://user@example.org/a', 'userinfo_not_allowed'],
    ['spiffe://example.org/a?x=1', 'query_not_allowed'],
    ['spiffe://example.org/a#frag', 'fragment_not_allowed'],
    ['spiffe://example.org/', 'path_invalid'],
    ['spiffe://example.org/a/', 'path_invalid'],
    ['spiffe://example.org//a', 'path_invalid'],
    ['spiffe://example.org/a/./b', 'path_invalid'],
    ['spiffe://example.org/a/../b', 'path_invalid'],
    ['spiffe://example.org/a%2Fb', 'path_invalid'],
    ['spiffe://example.org/a b', 'path_invalid'],
    ['spiffe://example.org/ünï', 'path_invalid'],
    [`spiffe://example.org/${'a'.repeat(2040)}`, 'too_long'],
  ];
  for (const [id, reason] of invalid) {
    it(`refuses ${JSON.stringify(id.slice(0, 50))} (${reason})`, () => {
      const r = parseSpiffeId(id);
      assert.ok(!r.ok);
      assert.equal(r.reason, reason);
    });
  }
});

describe('parseXfcc', () => {
  it('reads one element with quoted values', () => {
    const h = 'By=spiffe://mesh.example/gw;Hash=abc;Subject="/O=SPIFFE, CN=x";URI=spiffe://prod.example/ns/a;DNS=a.example';
    assert.deepEqual(parseXfcc(h), [[['By', 'spiffe://mesh.example/gw'], ['Hash', 'abc'], ['Subject', '/O=SPIFFE, CN=x'], ['URI', 'spiffe://prod.example/ns/a'], ['DNS', 'a.example']]]);
  });
  it('splits elements on commas outside quotes', () => {
    assert.equal(parseXfcc('URI=spiffe://a/x,URI=spiffe://b/y')?.length, 2);
  });
  it('refuses malformed input', () => {
    for (const h of ['URI', 'URI="unterminated', '=x', 'URI=a;;', 'U-RI=x']) assert.equal(parseXfcc(h), undefined, h);
  });
});

describe('SpiffeResolver', () => {
  let pki: SpiffePki;
  let good: string;
  let otherTd: string;
  let twoUris: string;
  let caFlag: string;
  let dnsOnly: string;
  let bundle: X509Certificate[];
  let rogue: string;

  before(() => {
    pki = makeSpiffePki(['prod.example', 'other.example', 'rogue']);
    good = pki.leaf('good', 'prod.example', 'URI:spiffe://prod.example/ns/payments/sa/agent');
    otherTd = pki.leaf('other', 'other.example', 'URI:spiffe://other.example/ns/x');
    twoUris = pki.leaf('two', 'prod.example', 'URI:spiffe://prod.example/a,URI:spiffe://prod.example/b');
    caFlag = pki.leaf('caflag', 'prod.example', 'URI:spiffe://prod.example/ca', { ca: true });
    dnsOnly = pki.leaf('dns', 'prod.example', 'DNS:agent.prod.example');
    // A certificate claiming the trusted domain, but from a CA outside its bundle.
    rogue = pki.leaf('rogue', 'rogue', 'URI:spiffe://prod.example/ns/payments/sa/agent');
    bundle = [new X509Certificate(readFileSync(pki.ca('prod.example').certFile, 'utf8'))];
  });
  after(() => { pki.cleanup(); });

  const resolver = (over: Partial<ConstructorParameters<typeof SpiffeResolver>[0]> = {}) =>
    new SpiffeResolver({ trustDomains: new Map([['prod.example', undefined]]), requireCertificate: false, trustXfcc: false, ...over });

  it('a principal in a configured trust domain is the identity', () => {
    const r = resolver().resolve({ principal: 'spiffe://prod.example/ns/payments/sa/agent', headers: {} });
    assert.ok(r.kind === 'ok');
    assert.equal(r.id.uri, 'spiffe://prod.example/ns/payments/sa/agent');
    assert.equal(r.source, 'principal');
  });

  const cases: Array<{ name: string; input: () => Parameters<SpiffeResolver['resolve']>[0]; opts?: () => Partial<ConstructorParameters<typeof SpiffeResolver>[0]>; want: string }> = [
    { name: 'no principal, no certificate', input: () => ({ headers: {} }), want: 'absent' },
    { name: 'principal from another trust domain', input: () => ({ principal: 'spiffe://other.example/ns/x', headers: {} }), want: 'trust_domain_untrusted' },
    { name: 'principal that is a DNS name (non-SPIFFE cert)', input: () => ({ principal: 'agent.prod.example', headers: {} }), want: 'principal_invalid' },
    { name: 'certificate only, good', input: () => ({ certificate: urlEncodedPem(good), headers: {} }), want: 'ok' },
    { name: 'certificate from another trust domain', input: () => ({ certificate: urlEncodedPem(otherTd), headers: {} }), want: 'trust_domain_untrusted' },
    { name: 'principal and certificate agree', input: () => ({ principal: 'spiffe://prod.example/ns/payments/sa/agent', certificate: urlEncodedPem(good), headers: {} }), want: 'ok' },
    { name: 'principal and certificate disagree', input: () => ({ principal: 'spiffe://prod.example/ns/other', certificate: urlEncodedPem(good), headers: {} }), want: 'certificate_mismatch' },
    { name: 'certificate with two URI SANs', input: () => ({ certificate: urlEncodedPem(twoUris), headers: {} }), want: 'certificate_invalid' },
    { name: 'CA certificate as a leaf', input: () => ({ certificate: urlEncodedPem(caFlag), headers: {} }), want: 'certificate_invalid' },
    { name: 'certificate without a URI SAN', input: () => ({ certificate: urlEncodedPem(dnsOnly), headers: {} }), want: 'certificate_invalid' },
    { name: 'certificate garbage', input: () => ({ certificate: '%2D%2D%2Dnot-a-cert', headers: {} }), want: 'certificate_invalid' },
    { name: 'certificate required but absent', input: () => ({ principal: 'spiffe://prod.example/ns/payments/sa/agent', headers: {} }), opts: () => ({ requireCertificate: true }), want: 'certificate_required' },
    { name: 'bundle configured, issued by it', input: () => ({ certificate: urlEncodedPem(good), headers: {} }), opts: () => ({ trustDomains: new Map([['prod.example', bundle]]) }), want: 'ok' },
    { name: 'bundle configured, issued by another CA', input: () => ({ certificate: urlEncodedPem(rogue), headers: {} }), opts: () => ({ trustDomains: new Map([['prod.example', bundle]]) }), want: 'certificate_untrusted' },
    { name: 'certificate expired (clock moved on)', input: () => ({ certificate: urlEncodedPem(good), headers: {} }), opts: () => ({ now: () => Date.now() + 10 * 86_400_000 }), want: 'certificate_invalid' },
    { name: 'XFCC ignored unless trusted', input: () => ({ headers: { 'x-forwarded-client-cert': 'URI=spiffe://prod.example/ns/payments/sa/agent' } }), want: 'absent' },
    { name: 'XFCC trusted: one element, one spiffe URI', input: () => ({ headers: { 'x-forwarded-client-cert': 'Hash=ab;URI=spiffe://prod.example/ns/payments/sa/agent' } }), opts: () => ({ trustXfcc: true }), want: 'ok' },
    { name: 'XFCC trusted: two elements (forwarded, not sanitised)', input: () => ({ headers: { 'x-forwarded-client-cert': 'URI=spiffe://prod.example/a,URI=spiffe://prod.example/b' } }), opts: () => ({ trustXfcc: true }), want: 'xfcc_invalid' },
    { name: 'XFCC trusted: other trust domain', input: () => ({ headers: { 'x-forwarded-client-cert': 'URI=spiffe://other.example/x' } }), opts: () => ({ trustXfcc: true }), want: 'trust_domain_untrusted' },
    { name: 'XFCC trusted: no spiffe URI', input: () => ({ headers: { 'x-forwarded-client-cert': 'URI=https://x.example/;DNS=x' } }), opts: () => ({ trustXfcc: true }), want: 'xfcc_invalid' },
    { name: 'XFCC trusted but a real principal wins', input: () => ({ principal: 'spiffe://prod.example/ns/real', headers: { 'x-forwarded-client-cert': 'URI=spiffe://prod.example/ns/forged' } }), opts: () => ({ trustXfcc: true }), want: 'ok:spiffe://prod.example/ns/real' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = resolver(c.opts?.()).resolve(c.input());
      const got = r.kind === 'fail' ? r.reason : r.kind;
      if (c.want.startsWith('ok:')) {
        assert.ok(r.kind === 'ok');
        assert.equal(r.id.uri, c.want.slice(3));
      } else {
        assert.equal(got, c.want, r.kind === 'fail' ? r.detail : '');
      }
    });
  }
});
