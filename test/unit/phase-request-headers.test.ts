// Direct unit tests of the request-headers phase (extproc/processing/phases/request-headers.ts) over real
// services (test/helpers/phase-fixtures.ts): the sealed context, the request line, size and media type,
// body presence, the strip list and the credential lookup.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CALLER_CREDENTIAL_HEADERS } from '../../extproc/core/request-context.ts';
import { dispatch } from '../../extproc/processing/session.ts';
import type { ProcRequest } from '../../extproc/processing/request.ts';
import type { ProcessingRequest } from '../../extproc/wire/ext-proc.ts';
import type { DecodedStruct } from '../../extproc/wire/struct.ts';
import { contextValue, sealedFields, tamperedFields } from '../helpers/authz-context.ts';
import {
  asDenial,
  asResponse,
  CHAT_PATH,
  chatBody,
  chatHeaders,
  MODELS_PATH,
  phaseFixture,
  removedHeaders,
  requestHeadersMsg,
  sealStruct,
  setHeader,
  thrownCode,
  type PhaseFixture,
} from '../helpers/phase-fixtures.ts';

const run = (state: ProcRequest, msg: ProcessingRequest): ReturnType<typeof dispatch> => dispatch(state, msg);

/** The struct's fields as flat strings, to edit and re-wrap. */

describe('phase request-headers: the sealed context', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  const body = chatBody();
  const fetches = (): number => f.sources.get('openai')?.fetches.length ?? 0;

  const cases: readonly { name: string; context: () => DecodedStruct | undefined; code: string; problem?: string }[] = [
    { name: 'no metadata at all', context: () => undefined, code: 'authz_context_missing' },
    { name: 'an empty ext_authz namespace', context: () => ({ fields: {} }), code: 'authz_context_missing' },
    { name: 'a field missing (malformed)', context: () => sealStruct(tamperedFields(f.seal(), { identity: undefined })), code: 'authz_context_invalid', problem: 'malformed' },
    { name: 'a context without its seal (malformed)', context: () => sealStruct({ context: sealedFields(f.seal()).context ?? '' }), code: 'authz_context_invalid', problem: 'malformed' },
    { name: 'a context of another version (malformed)', context: () => { const x = sealedFields(f.seal()); return sealStruct({ ...x, context: (x.context ?? '').replace('tollgate.authz.v3', 'tollgate.authz.v2') }); }, code: 'authz_context_invalid', problem: 'malformed' },
    { name: 'an unknown identity kind (malformed)', context: () => sealStruct(tamperedFields(f.seal(), { identity_kind: 'password' })), code: 'authz_context_invalid', problem: 'malformed' },
    { name: 'identity changed after sealing', context: () => sealStruct(tamperedFields(f.seal({ identity: 'restricted-1' }), { identity: 'agent-1' })), code: 'authz_context_invalid', problem: 'seal' },
    { name: 'a made-up seal', context: () => sealStruct(tamperedFields(f.seal(), {}, Buffer.alloc(32, 7).toString('base64url'))), code: 'authz_context_invalid', problem: 'seal' },
    { name: 'a truncated seal', context: () => { const s = f.seal(); return sealStruct(tamperedFields(s, {}, (sealedFields(s).seal ?? '').slice(0, 20))); }, code: 'authz_context_invalid', problem: 'seal' },
    { name: 'sealed longer ago than the maximum age', context: () => f.seal({ issuedAtMs: Date.now() - f.services.authzContextMaxAgeMs - 1_000 }), code: 'authz_context_invalid', problem: 'expired' },
    { name: 'sealed more than 5 s in the future', context: () => f.seal({ issuedAtMs: Date.now() + 10_000 }), code: 'authz_context_invalid', problem: 'expired' },
    { name: 'naming an identity the policy does not have', context: () => f.seal({ identity: 'ghost', tenant: 'team-z' }), code: 'authz_context_missing' },
    { name: 'naming a provider the policy does not have', context: () => f.seal({ provider: 'nowhere' }), code: 'authz_context_missing' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with ${c.code}, before any credential lookup`, async () => {
      const before = fetches();
      const logsBefore = f.logs.length;
      const state = f.state();
      const ctx = c.context();
      const code = await thrownCode(() => run(state, requestHeadersMsg(chatHeaders(body), ctx === undefined ? {} : { context: ctx })));
      assert.equal(code, c.code);
      assert.equal(state.authenticated, false, 'nothing is vouched for');
      assert.equal(state.credential.pending, undefined, 'no credential lookup started');
      assert.equal(fetches(), before);
      if (c.problem !== undefined) {
        const line = f.logs.slice(logsBefore).find((l) => l.includes('refused an ext_authz context'));
        assert.ok(line !== undefined, 'the refusal is logged');
        assert.equal((JSON.parse(line) as { problem?: string }).problem, c.problem);
      }
    });
  }

  it('accepts a context once and refuses the same context again (single use per decision id)', async () => {
    const ctx = f.seal();
    const first = f.state();
    asResponse(await run(first, requestHeadersMsg(chatHeaders(body), { context: ctx })));
    assert.equal(first.authenticated, true);
    assert.equal(first.decisionId, contextValue(ctx, 'decision_id'));
    const claims = f.store.ops('claimOnce').map((c) => c.key);
    assert.ok(claims.includes(`authz:${first.decisionId}`), 'the decision id is claimed in the state store');
    const logsBefore = f.logs.length;
    const second = f.state();
    assert.equal(await thrownCode(() => run(second, requestHeadersMsg(chatHeaders(body), { context: ctx }))), 'authz_context_invalid');
    assert.ok(f.logs.slice(logsBefore).some((l) => l.includes('"problem":"replayed"')));
    assert.equal(second.credential.pending, undefined);
  });

  it('a state store that is down fails the claim closed with state_unavailable', async () => {
    f.store.failing.add('claimOnce');
    try {
      const state = f.state();
      assert.equal(await thrownCode(() => run(state, requestHeadersMsg(chatHeaders(body), { context: f.seal() }))), 'state_unavailable');
      assert.equal(state.authenticated, false);
    } finally {
      f.store.failing.delete('claimOnce');
    }
  });
});

describe('phase request-headers: request line, size, media type, body presence', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });
  const body = chatBody();
  const limit = 4 * 1024; // limits.maxRequestBodyBytes in phaseConfigInput()

  const lineCases: readonly { name: string; headers: Record<string, string> }[] = [
    { name: 'another path', headers: { ':path': '/openai/v1/embeddings' } },
    { name: 'the same path with a query added', headers: { ':path': `${CHAT_PATH}?model=gpt-4o` } },
    { name: 'another method', headers: { ':method': 'PUT' } },
    { name: 'the path in another case', headers: { ':path': CHAT_PATH.toUpperCase() } },
  ];
  for (const c of lineCases) {
    it(`a request line that differs from the sealed one (${c.name}) is authz_context_invalid`, async () => {
      const state = f.state();
      assert.equal(await thrownCode(() => run(state, requestHeadersMsg(chatHeaders(body, c.headers), { context: f.seal() }))), 'authz_context_invalid');
      assert.equal(state.position, 'start');
    });
  }

  const sizeCases: readonly { name: string; contentLength: string; expect: 'ok' | 'body_too_large' | 'header_malformed' }[] = [
    { name: 'at the limit', contentLength: String(limit), expect: 'ok' },
    { name: 'one byte over', contentLength: String(limit + 1), expect: 'body_too_large' },
    { name: 'far over', contentLength: '999999999999999', expect: 'body_too_large' },
    { name: 'not a number', contentLength: '12a', expect: 'header_malformed' },
    { name: 'negative', contentLength: '-1', expect: 'header_malformed' },
    { name: 'sent twice (joined by a comma)', contentLength: '10,10', expect: 'header_malformed' },
    { name: 'sixteen digits', contentLength: '1000000000000000', expect: 'header_malformed' },
  ];
  for (const c of sizeCases) {
    it(`content-length ${c.name} → ${c.expect}`, async () => {
      const state = f.state();
      const msg = requestHeadersMsg(chatHeaders(body, { 'content-length': c.contentLength }), { context: f.seal() });
      if (c.expect === 'header_malformed') {
        assert.equal(await thrownCode(() => run(state, msg)), 'header_malformed');
        return;
      }
      const out = await run(state, msg);
      if (c.expect === 'ok') {
        asResponse(out);
        assert.equal(state.position, 'request_body');
      } else {
        const d = asDenial(out);
        assert.equal(d.code, 'body_too_large');
        assert.equal(d.rule, 'limits.maxRequestBodyBytes');
      }
    });
  }

  const typeCases: readonly { contentType: string | undefined; ok: boolean }[] = [
    { contentType: 'application/json', ok: true },
    { contentType: 'Application/JSON; charset=utf-8', ok: true },
    { contentType: 'text/plain', ok: false },
    { contentType: 'application/x-www-form-urlencoded', ok: false },
    { contentType: 'multipart/form-data; boundary=x', ok: false },
    { contentType: 'application/jsonx', ok: false },
    { contentType: undefined, ok: false },
  ];
  for (const c of typeCases) {
    it(`a body with content-type ${String(c.contentType)} is ${c.ok ? 'accepted' : 'refused with 415'}`, async () => {
      const state = f.state();
      const headers = chatHeaders(body);
      if (c.contentType === undefined) delete headers['content-type'];
      else headers['content-type'] = c.contentType;
      const out = await run(state, requestHeadersMsg(headers, { context: f.seal() }));
      if (c.ok) asResponse(out);
      else {
        const d = asDenial(out);
        assert.equal(d.code, 'content_type_unsupported');
        assert.equal(d.rule, 'request.content_type');
      }
    });
  }

  it('a request without a body needs no content-type', async () => {
    const state = f.state();
    const headers = { ':method': 'GET', ':path': MODELS_PATH, ':authority': 'tollgate.test', 'x-request-id': 'r-get' };
    asResponse(await run(state, requestHeadersMsg(headers, { endOfStream: true, context: f.seal({ method: 'GET', path: MODELS_PATH, withoutBody: true }) })));
    assert.equal(state.position, 'upstream');
  });

  it('ext_authz saw no body but ext_proc sees one: refused', async () => {
    const state = f.state();
    assert.equal(await thrownCode(() => run(state, requestHeadersMsg(chatHeaders(body), { context: f.seal({ withoutBody: true }) }))), 'authz_context_invalid');
    assert.equal(state.credential.pending, undefined);
  });

  it('ext_authz saw a body but ext_proc sees none: refused', async () => {
    const state = f.state();
    const headers = chatHeaders(body);
    delete headers['content-length'];
    assert.equal(await thrownCode(() => run(state, requestHeadersMsg(headers, { endOfStream: true, context: f.seal({ withoutBody: false }) }))), 'authz_context_invalid');
  });
});

describe('phase request-headers: the strip list and the credential lookup', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });
  const body = chatBody();

  const callerSent: Record<string, string> = {
    authorization: 'Bearer tg-caller-key',
    'x-api-key': 'tg-caller-key',
    'api-key': 'tg-caller-key',
    'proxy-authorization': 'Basic eDp5',
    cookie: 'session=abc',
    'x-tollgate-route-class': 'onprem',
    forwarded: 'for=1.2.3.4',
    'x-real-ip': '1.2.3.4',
    'x-forwarded-host': 'evil.test',
    'x-forwarded-for': '1.2.3.4',
    'openai-organization': 'org-other',
    'accept-encoding': 'gzip',
    'x-custom-thing': '1',
    'x-envoy-original-dst-host': '10.0.0.1:80',
    'x-envoy-expected-rq-timeout-ms': '5',
    host: 'tollgate.test',
    // allowed for the openai kind
    accept: 'application/json',
    'user-agent': 'test',
    'openai-beta': 'assistants=v2',
    'x-stainless-lang': 'js',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
  const mustRemove = ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie', 'x-tollgate-route-class', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-for', 'openai-organization', 'x-custom-thing'];
  const mustKeep = ['host', ':authority', ':method', ':path', ':scheme', 'content-type', 'content-length', 'x-request-id', 'accept', 'user-agent', 'openai-beta', 'x-stainless-lang', 'traceparent'];

  it('a request with a body: removes caller credentials and headers outside the allow-list, never x-envoy-*, host or pseudo-headers; sets only accept-encoding: identity', async () => {
    const state = f.state();
    const res = asResponse(await run(state, requestHeadersMsg(chatHeaders(body, callerSent), { context: f.seal() })));
    const removed = removedHeaders(res, 'request_headers');
    for (const n of mustRemove) assert.ok(removed.includes(n), `removes ${n}`);
    for (const n of CALLER_CREDENTIAL_HEADERS) assert.ok(removed.includes(n), `removes caller credential header ${n}`);
    for (const n of mustKeep) assert.ok(!removed.includes(n), `keeps ${n}`);
    assert.ok(!removed.some((n) => n.startsWith('x-envoy-')), 'never an x-envoy-* header (Envoy refuses the mutation)');
    assert.ok(!removed.some((n) => n.startsWith(':')), 'never a pseudo-header');
    assert.equal(new Set(removed).size, removed.length, 'no duplicates');
    assert.equal(setHeader(res, 'request_headers', 'authorization'), undefined, 'no credential is set before the body');
    // The caller's accept-encoding (gzip) is replaced, not removed: the upstream must send identity.
    assert.ok(!removed.includes('accept-encoding'), 'accept-encoding is overwritten, not removed');
    assert.deepEqual(res.request_headers?.response.header_mutation?.set_headers?.map((h) => [h.header.key, h.header.raw_value.toString('latin1'), h.append.value]), [['accept-encoding', 'identity', false]]);
    assert.equal(res.mode_override, undefined);
  });

  it('removes only headers the message carries: through Envoy, Check already removed the caller\'s credentials', async () => {
    // What ext_proc sees after Check's headers_to_remove (checked through Envoy 1.40: the caller's authorization
    // and cookie are not in the message); one refused header is left, so the list is not just empty.
    const afterCheck = Object.fromEntries(Object.entries(callerSent).filter(([n]) => !CALLER_CREDENTIAL_HEADERS.includes(n)));
    const sent = chatHeaders(body, afterCheck);
    const res = asResponse(await run(f.state(), requestHeadersMsg(sent, { context: f.seal() })));
    const removed = removedHeaders(res, 'request_headers');
    for (const n of CALLER_CREDENTIAL_HEADERS) assert.ok(!removed.includes(n), `no removal of ${n}, which the message does not carry`);
    assert.deepEqual(removed.filter((n) => !(n in sent)), [], 'every removal names a header of the message');
    for (const n of mustRemove.filter((m) => m in sent)) assert.ok(removed.includes(n), `removes ${n}`);
  });

  it('a credential ext_authz injected (no body) stays; the rest of the strip list applies', async () => {
    const state = f.state();
    const headers = { ':method': 'GET', ':path': MODELS_PATH, ':authority': 'tollgate.test', ':scheme': 'http', 'x-request-id': 'r-models', authorization: `Bearer ${f.providerKey}`, 'x-tollgate-debug': '1', 'x-envoy-foo': 'x', accept: '*/*' };
    const res = asResponse(await run(state, requestHeadersMsg(headers, { endOfStream: true, context: f.seal({ method: 'GET', path: MODELS_PATH, withoutBody: true }) })));
    const removed = removedHeaders(res, 'request_headers');
    assert.ok(!removed.includes('authorization'), 'the injected credential is not removed');
    assert.ok(removed.includes('x-tollgate-debug'));
    assert.ok(!removed.includes('x-envoy-foo'));
    assert.ok(!removed.includes('accept'));
    assert.equal(state.credential.pending, undefined, 'no lookup: ext_authz injected the credential already');
    assert.equal(state.position, 'upstream');
  });

  it('starts the credential lookup for the (tenant, identity, provider) scope, without waiting for it', async () => {
    const source = f.sources.get('openai');
    assert.ok(source !== undefined);
    const before = source.fetches.length;
    const state = f.state();
    const requestId = 'r-lookup-1';
    asResponse(await run(state, requestHeadersMsg(chatHeaders(body, { 'x-request-id': requestId }), { context: f.seal({ identity: 'restricted-1' }) })));
    assert.equal(state.requestId, requestId);
    assert.equal(state.position, 'request_body');
    assert.ok(state.credential.pending !== undefined, 'the lookup started');
    const credential = await state.credential.pending;
    assert.equal(credential.kind, 'api-key');
    assert.equal(credential.secret.reveal(), f.providerKey);
    assert.deepEqual(source.fetches.slice(before), [{ tenant: 'team-b', identity: 'restricted-1', provider: 'openai' }]);
    assert.equal(state.credential.meta, undefined, 'not applied yet: that happens with the body');
    assert.ok(!f.everything().includes(f.providerKey), 'the credential is in no log line or record');
  });

  it('keeps the request headers for the body phase (conditions and routing read them)', async () => {
    const state = f.state();
    asResponse(await run(state, requestHeadersMsg(chatHeaders(body, { 'X-Team': 'blue' }), { context: f.seal() })));
    assert.equal(state.headers.get('x-team'), 'blue', 'names are lower-cased');
    assert.equal(state.headers.get(':path'), CHAT_PATH);
    assert.equal(state.route?.provider.name, 'openai');
    assert.equal(state.route.translator?.operation, 'chat');
  });
});
