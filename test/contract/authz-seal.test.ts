// The sealed ext_authz context: ext_proc injects a provider credential only for a context that Tollgate's
// own ext_authz issued, recently, and only once. A client of the gRPC port cannot forge or replay one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringStruct, type Struct } from '../../extproc/wire/struct.ts';
import { tamperedFields, type ContextFieldName } from '../helpers/authz-context.ts';
import { startHarness, newRequestId, type Harness } from './helpers/harness.ts';
import { headerRaw, httpStatus, parseErrorBody, requestBody, requestHeaders, type DecodedProcessingResponse } from './helpers/messages.ts';

/** The sealed context with one value changed after sealing, or a different seal. */
const withField = (s: Struct, key: ContextFieldName | 'seal', value: string): Struct =>
  stringStruct(key === 'seal' ? tamperedFields(s, {}, value) : tamperedFields(s, { [key]: value }));

describe('sealed ext_authz context', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.stop(); });

  const open = async (authz: Struct): Promise<{ res: DecodedProcessingResponse; requestId: string }> => {
    const requestId = newRequestId();
    const s = h.stream();
    const body = Buffer.from('{"model":"gpt-4o-mini","messages":[]}');
    let res = await s.send(requestHeaders({ ':method': 'POST', ':path': '/openai/v1/chat/completions', 'content-type': 'application/json', 'content-length': String(body.length), 'x-request-id': requestId }, { authz }));
    if (res.response === 'request_headers') res = await s.send(requestBody(body));
    await s.end().catch(() => undefined);
    return { res, requestId };
  };

  const assertRefused = async (authz: Struct, problem: string): Promise<void> => {
    const { res, requestId } = await open(authz);
    assert.equal(res.response, 'immediate_response');
    assert.equal(httpStatus(res.immediate_response?.status), 500);
    assert.equal(parseErrorBody(res.immediate_response?.body).error.code, 'authz_context_invalid');
    assert.ok(!JSON.stringify(res).includes(h.providerKey), 'no credential is handed out');
    const [rec] = await h.waitForRecords(requestId);
    assert.equal(rec?.reason, 'authz_context_invalid');
    assert.equal(rec.decision, 'error');
    assert.ok(h.logs.some((l) => l.includes('refused an ext_authz context') && l.includes(problem)), `logged as ${problem}`);
  };

  it('accepts a context Check issued, once, and injects the credential', async () => {
    const { res } = await open(await h.authorize(h.keys.agent));
    assert.equal(res.response, 'request_body');
    assert.equal(headerRaw(res.request_body?.response?.header_mutation?.set_headers, 'authorization'), `Bearer ${h.providerKey}`);
  });

  it('refuses a context whose identity was changed after sealing', async () => {
    const real = await h.authorize(h.keys.restricted);
    await assertRefused(withField(real, 'identity', 'agent-1'), 'seal');
  });

  it('refuses a context whose admission (what ext_authz did for a body-less request) was added after sealing', async () => {
    const real = await h.authorize(h.keys.agent);
    await assertRefused(withField(real, 'admission', JSON.stringify({ credential: { source: 'env:FORGED' }, anomaly_flags: [], state_degraded: false })), 'seal');
  });

  it('refuses a context with a made-up seal', async () => {
    const real = await h.authorize(h.keys.agent);
    await assertRefused(withField(real, 'seal', Buffer.alloc(32, 7).toString('base64url')), 'seal');
  });

  it('refuses a context presented twice (replay)', async () => {
    const real = await h.authorize(h.keys.agent);
    assert.equal((await open(real)).res.response, 'request_body');
    await assertRefused(real, 'replayed');
  });

  it('refuses a correctly sealed context older than authzContextMaxAgeSeconds', async () => {
    const real = await h.authorize(h.keys.agent);
    const f = real.fields ?? {};
    const codec = h.app.services.authzContext;
    const ctx = codec.decode((k) => f[k]?.stringValue, Date.now());
    assert.ok(typeof ctx !== 'string', `the real context decodes (${typeof ctx === 'string' ? ctx : 'ok'})`);
    const old = Date.now() - 31_000;
    const resealed = stringStruct(codec.encode({ ...ctx, issuedAtMs: old }));
    await assertRefused(resealed, 'expired');
  });
});
