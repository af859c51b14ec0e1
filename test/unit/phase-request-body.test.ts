// Direct unit tests of the request-body phase (extproc/processing/phases/request-body.ts, with content.ts
// and credential.ts under it) over real services: a stream that begins with the body, BUFFERED only, the
// size limit, strict JSON, the final policy decision (models, operations, CEL, shadow), DLP, and the
// credential applied last.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CREDENTIAL_HEADER_NAMES } from '../../extproc/providers/index.ts';
import { dispatch } from '../../extproc/processing/session.ts';
import type { ProcRequest } from '../../extproc/processing/request.ts';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import type { ProcessingRequest } from '../../extproc/wire/ext-proc.ts';
import { leaked, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import {
  asDenial,
  asResponse,
  chatBody,
  phaseFixture,
  removedHeaders,
  replacedBody,
  requestBodyMsg,
  setHeader,
  startRequest,
  thrownCode,
  type PhaseFixture,
} from '../helpers/phase-fixtures.ts';

const send = (state: ProcRequest, msg: ProcessingRequest): ReturnType<typeof dispatch> => dispatch(state, msg);
const sendBody = (state: ProcRequest, body: Buffer | string, endOfStream = true): ReturnType<typeof dispatch> => send(state, requestBodyMsg(body, { endOfStream }));

/** Adds grants and options to the base config. */
const withIdentities = (extra: ConfigInput['identities']) => (c: ConfigInput): ConfigInput => ({ ...c, identities: [...c.identities, ...extra] });
const KEY_HASH = `sha256:${'ab'.repeat(32)}`;
const KEY_HASH_2 = `sha256:${'cd'.repeat(32)}`;
const KEY_HASH_3 = `sha256:${'ef'.repeat(32)}`;
const KEY_HASH_4 = `sha256:${'12'.repeat(32)}`;

describe('phase request-body: order, framing, size, strict JSON', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  it('a stream that begins with the body (request headers skipped) verifies the sealed context there and injects the credential', async () => {
    const state = f.state();
    const body = chatBody();
    const res = asResponse(await send(state, requestBodyMsg(body, { context: f.seal() })));
    assert.equal(state.authenticated, true);
    assert.equal(setHeader(res, 'request_body', 'authorization'), `Bearer ${f.providerKey}`);
    assert.equal(state.position, 'upstream');
    assert.equal(state.route?.model, 'gpt-4o-mini');
  });

  it('a stream that begins with the body but has no context is refused (authz_context_missing)', async () => {
    const state = f.state();
    assert.equal(await thrownCode(() => sendBody(state, chatBody())), 'authz_context_missing');
    assert.equal(state.credential.pending, undefined);
  });

  it('a stream that begins with the body of a request ext_authz saw without one is refused', async () => {
    const state = f.state();
    assert.equal(await thrownCode(() => send(state, requestBodyMsg(chatBody(), { context: f.seal({ withoutBody: true }) }))), 'authz_context_invalid');
  });

  it('a body that is not BUFFERED (no end_of_stream) is a protocol violation', async () => {
    const state = await startRequest(f, chatBody());
    assert.equal(await thrownCode(() => sendBody(state, chatBody(), false)), 'protocol_violation');
  });

  it('a second body message after the request went upstream is a protocol violation', async () => {
    const state = await startRequest(f, chatBody());
    asResponse(await sendBody(state, chatBody()));
    assert.equal(await thrownCode(() => sendBody(state, chatBody())), 'protocol_violation');
  });

  it('a body over limits.maxRequestBodyBytes (whatever content-length said) → 413, size and HMAC recorded', async () => {
    const small = chatBody();
    const state = await startRequest(f, small);
    const big = chatBody('gpt-4o-mini', 'x'.repeat(4 * 1024));
    const d = asDenial(await sendBody(state, big));
    assert.equal(d.code, 'body_too_large');
    assert.equal(d.rule, 'limits.maxRequestBodyBytes');
    assert.deepEqual(state.body, { body_bytes: big.length, body_hmac: f.services.bodyHmac(big) });
  });

  const malformed: readonly { name: string; body: Buffer; code: string }[] = [
    { name: 'duplicate model keys', body: Buffer.from('{"model":"gpt-4o-mini","model":"gpt-4o","messages":[]}'), code: 'body_malformed' },
    { name: 'duplicate keys spelled with an escape', body: Buffer.from('{"model":"gpt-4o-mini","mod\\u0065l":"gpt-4o","messages":[]}'), code: 'body_malformed' },
    { name: 'duplicate keys nested deep', body: Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a","content":"b"}]}'), code: 'body_malformed' },
    { name: 'invalid UTF-8', body: Buffer.concat([Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]), code: 'body_malformed' },
    { name: 'a lone surrogate byte sequence (CESU)', body: Buffer.concat([Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}]}')]), code: 'body_malformed' },
    { name: 'not JSON', body: Buffer.from('model=gpt-4o'), code: 'body_malformed' },
    { name: 'trailing garbage', body: Buffer.from('{"model":"gpt-4o-mini","messages":[]} x'), code: 'body_malformed' },
    { name: 'a JSON array', body: Buffer.from('[{"model":"gpt-4o-mini"}]'), code: 'body_malformed' },
    { name: 'no model', body: Buffer.from('{"messages":[]}'), code: 'model_missing' },
    { name: 'a model with a space and a key in it', body: Buffer.from('{"model":"gpt-4o sk-proj-abc","messages":[]}'), code: 'model_invalid' },
  ];
  for (const c of malformed) {
    it(`strict parse: ${c.name} → ${c.code}, nothing applied`, async () => {
      const state = await startRequest(f, c.body);
      assert.equal(await thrownCode(() => sendBody(state, c.body)), c.code);
      assert.equal(state.credential.meta, undefined, 'the credential was not applied');
      assert.notEqual(state.position, 'upstream');
    });
  }
});

describe('phase request-body: the final policy decision', () => {
  let f: PhaseFixture;
  before(() => {
    f = phaseFixture({
      tweak: withIdentities([
        { id: 'embed-only', tenant: 'team-e', apiKeyHashes: [KEY_HASH], allow: [{ provider: 'openai', operations: ['embeddings'] }] },
        { id: 'blue-team', tenant: 'team-c', apiKeyHashes: [KEY_HASH_2], allow: [{ provider: 'openai', when: 'request.headers["x-team"] == "blue"' }] },
        { id: 'broken-cel', tenant: 'team-c', apiKeyHashes: [KEY_HASH_3], allow: [{ provider: 'openai', when: 'claims.group.name == "x"' }] },
        { id: 'shadowed', tenant: 'team-d', apiKeyHashes: [KEY_HASH_4], allow: [{ provider: 'openai', when: 'request.model == "gpt-4o"', shadow: true }] },
      ]),
    });
  });
  after(async () => { await f.close(); });

  const table: readonly { name: string; identity: string; model: string; headers?: Record<string, string>; code: string | undefined; rule: string }[] = [
    { name: 'a model the provider does not serve', identity: 'agent-1', model: 'gpt-3.5-turbo', code: 'model_forbidden', rule: 'provider.models' },
    { name: 'a model the grant does not allow', identity: 'restricted-1', model: 'gpt-4o', code: 'model_forbidden', rule: 'identities[restricted-1].allow[0]' },
    { name: 'a model the grant allows', identity: 'restricted-1', model: 'gpt-4o-mini', code: undefined, rule: 'identities[restricted-1].allow[0]' },
    { name: 'an operation the grant does not allow', identity: 'embed-only', model: 'gpt-4o-mini', code: 'operation_forbidden', rule: 'identities[embed-only].allow[0]' },
    { name: 'a CEL condition that holds', identity: 'blue-team', model: 'gpt-4o', headers: { 'x-team': 'blue' }, code: undefined, rule: 'identities[blue-team].allow[0]' },
    { name: 'a CEL condition that is false', identity: 'blue-team', model: 'gpt-4o', headers: { 'x-team': 'red' }, code: 'condition_failed', rule: 'identities[blue-team].allow[0]' },
    { name: 'a CEL condition that errors (denies like false)', identity: 'broken-cel', model: 'gpt-4o', code: 'policy_condition_error', rule: 'identities[broken-cel].allow[0]' },
  ];
  for (const c of table) {
    it(`${c.name} → ${c.code ?? 'allowed'} (${c.rule})`, async () => {
      const body = chatBody(c.model);
      const state = await startRequest(f, body, { seal: { identity: c.identity }, ...(c.headers === undefined ? {} : { headers: c.headers }) });
      const out = await sendBody(state, body);
      if (c.code === undefined) {
        const res = asResponse(out);
        assert.equal(state.rule, c.rule);
        assert.equal(setHeader(res, 'request_body', 'authorization'), `Bearer ${f.providerKey}`);
        assert.equal(state.shadow, undefined);
      } else {
        const d = asDenial(out);
        assert.equal(d.code, c.code);
        assert.equal(d.rule, c.rule);
        assert.equal(state.credential.meta, undefined, 'no credential on a denial');
      }
      assert.equal(state.route?.model, c.model);
    });
  }

  it('a shadow grant whose condition fails: allowed, the would-deny kept in state.shadow', async () => {
    const body = chatBody('gpt-4o-mini');
    const state = await startRequest(f, body, { seal: { identity: 'shadowed' } });
    const res = asResponse(await sendBody(state, body));
    assert.equal(setHeader(res, 'request_body', 'authorization'), `Bearer ${f.providerKey}`);
    assert.deepEqual(state.shadow, { rule: 'identities[shadowed].allow[0]', reason: 'condition_failed' });
  });
});

describe('phase request-body: global shadow mode', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture({ tweak: (c) => ({ ...c, policy: { mode: 'shadow' } }) }); });
  after(async () => { await f.close(); });

  it('a grant denial becomes a would-deny: allowed, credential applied, state.shadow set', async () => {
    const body = chatBody('gpt-4o');
    const state = await startRequest(f, body, { seal: { identity: 'restricted-1' } });
    const res = asResponse(await sendBody(state, body));
    assert.equal(setHeader(res, 'request_body', 'authorization'), `Bearer ${f.providerKey}`);
    assert.equal(state.shadow?.reason, 'model_forbidden');
    assert.equal(state.position, 'upstream');
  });
});

describe('phase request-body: the credential is applied last', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  it('sets the provider credential in raw_value, removes every other credential header, records its metadata', async () => {
    const body = chatBody();
    const state = await startRequest(f, body);
    const res = asResponse(await sendBody(state, body));
    const common = res.request_body?.response;
    const auth = common?.header_mutation?.set_headers?.find((o) => o.header.key === 'authorization');
    assert.ok(auth !== undefined);
    assert.equal(auth.header.raw_value.toString('latin1'), `Bearer ${f.providerKey}`);
    assert.equal(auth.header.value, undefined, 'raw_value only');
    assert.equal(auth.append.value, false, 'overwrite');
    const removed = removedHeaders(res, 'request_body');
    for (const n of CREDENTIAL_HEADER_NAMES.filter((x) => x !== 'authorization')) assert.ok(removed.includes(n), `removes ${n}`);
    assert.ok(!removed.includes('authorization'));
    assert.equal(common?.body_mutation, undefined, 'an unchanged body is not replaced');
    assert.equal(setHeader(res, 'request_body', 'content-length'), undefined);
    assert.deepEqual(state.credential.meta, { source: 'memory:openai', version: 1 });
  });

  it('a rotated credential is what the next request gets (after invalidation)', async () => {
    const source = f.sources.get('openai');
    assert.ok(source !== undefined);
    const next = `sk-rotated-${Date.now().toString(36)}`;
    source.rotate(next);
    await f.broker.invalidate({ tenant: 'team-a', identity: 'agent-1', provider: 'openai' });
    const body = chatBody();
    const state = await startRequest(f, body);
    const res = asResponse(await sendBody(state, body));
    assert.equal(setHeader(res, 'request_body', 'authorization'), `Bearer ${next}`);
    assert.equal(state.credential.meta?.version, 2);
  });

  it('a credential source that fails (nothing cached) → credential_unavailable, thrown by the phase, nothing set', async () => {
    const source = f.sources.get('openai');
    assert.ok(source !== undefined);
    source.failing = true;
    try {
      const body = chatBody();
      const state = await startRequest(f, body, { seal: { identity: 'restricted-1' } });
      assert.equal(await thrownCode(() => sendBody(state, body)), 'credential_unavailable');
      assert.equal(state.credential.meta, undefined);
      assert.notEqual(state.position, 'upstream');
    } finally {
      source.failing = false;
    }
  });
});

describe('phase request-body: content controls (DLP)', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture({ tweak: (c) => ({ ...c, dlp: { enabled: true } }) }); });
  after(async () => { await f.close(); });

  it('a secret in the prompt → 403 content_blocked naming its type, never its value; no credential', async () => {
    const secret = plantStripeKey();
    const body = chatBody('gpt-4o-mini', `please use ${secret} for billing`);
    const state = await startRequest(f, body);
    const d = asDenial(await sendBody(state, body));
    assert.equal(d.code, 'content_blocked');
    assert.equal(d.rule, 'dlp.actions');
    assert.ok(d.types !== undefined && d.types.length > 0, 'the types are named');
    for (const t of d.types) assert.match(t, /^[A-Z][A-Z0-9_]*$/);
    assert.equal(state.content.action, 'block');
    assert.equal(state.credential.meta, undefined);
    assert.deepEqual(leaked(f.everything([d, state.content]), [secret]), []);
  });

  it('an email → the body is masked with a placeholder, content-length set to the new length, credential still applied; no restore map by default', async () => {
    const email = plantEmail();
    const body = chatBody('gpt-4o-mini', `write to ${email} today`);
    const state = await startRequest(f, body);
    const res = asResponse(await sendBody(state, body));
    const out = replacedBody(res, 'request_body');
    assert.ok(out !== undefined, 'the body is replaced');
    assert.ok(!out.toString('utf8').includes(email), 'the email is gone');
    const content = (JSON.parse(out.toString('utf8')) as { messages: { content: string }[] }).messages[0]?.content;
    assert.match(content ?? '', /^write to <EMAIL_\d+> today$/);
    assert.equal(setHeader(res, 'request_body', 'content-length'), String(out.length));
    assert.equal(setHeader(res, 'request_body', 'authorization'), `Bearer ${f.providerKey}`);
    assert.equal(state.content.action, 'mask');
    assert.deepEqual(state.content.request, { EMAIL: 1 });
    assert.equal(state.content.restore, undefined, 'restore: false keeps no map');
    assert.deepEqual(leaked(f.everything([state.content]), [email]), []);
  });
});

describe('phase request-body: content controls with restore', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture({ tweak: (c) => ({ ...c, dlp: { enabled: true, actions: [{ detectors: ['pii.*'], action: 'mask', restore: true }] } }) }); });
  after(async () => { await f.close(); });

  it('restore: true keeps the placeholder → value map for this request only', async () => {
    const email = plantEmail();
    const body = chatBody('gpt-4o-mini', `mail ${email} and ${email}`);
    const state = await startRequest(f, body);
    const res = asResponse(await sendBody(state, body));
    const out = replacedBody(res, 'request_body');
    assert.ok(out !== undefined && !out.toString('utf8').includes(email));
    assert.ok(state.content.restore !== undefined);
    assert.equal(state.content.restore.size, 1, 'one value, one placeholder');
    const [p] = state.content.restore.placeholders();
    assert.ok(p !== undefined && out.toString('utf8').includes(p));
    assert.equal(state.content.restore.valueOf(p)?.reveal(), email);
    assert.ok(!JSON.stringify(state.content.restore).includes(email), 'the map does not print its values');
    const other = await startRequest(f, chatBody());
    assert.equal(other.content.restore, undefined, 'another request has no map');
  });
});
