// Contract: envoy.service.auth.v3.Authorization/Check against the real server on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CALLER_CREDENTIAL_HEADERS } from '../../extproc/core/request-context.ts';
import { mintApiKey } from '../../extproc/identity/api-key.ts';
import { AUTHZ_CONTEXT_FIELDS } from '../../extproc/core/authz-context.ts';
import { contextValue, contextValues, sealedFields } from '../helpers/authz-context.ts';
import { newRequestId, startHarness, type Harness } from './helpers/harness.ts';
import { checkRequest, findHeader, fixture, httpStatus, parseErrorBody, type DecodedCheckResponse } from './helpers/messages.ts';

interface DenialCase {
  readonly name: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly status: number;
  readonly code: string;
}

const DENIALS = (JSON.parse(fixture('ext_authz/denials.json').toString('utf8')) as { cases: DenialCase[] }).cases;

describe('ext_authz Check', () => {
  let h: Harness;
  /** A syntactically valid key no identity holds. */
  const unknownKey = mintApiKey();

  const fill = (s: string): string =>
    s.replaceAll('{{agent}}', h.keys.agent).replaceAll('{{restricted}}', h.keys.restricted).replaceAll('{{noProviders}}', h.keys.noProviders).replaceAll('{{unknown}}', unknownKey);

  /** Asserts the shape every denial shares and returns its decision id. */
  const assertDenied = (res: DecodedCheckResponse, status: number, code: string, requestId?: string): string => {
    assert.equal(res.http_response, 'denied_response', JSON.stringify(res));
    assert.equal(res.ok_response, undefined);
    assert.equal(res.dynamic_metadata, undefined, 'a denial attaches no identity metadata');
    assert.notEqual(res.status?.code ?? 0, 0, 'the gRPC status in the CheckResponse is not OK');
    assert.equal(res.status?.message, code);
    const denied = res.denied_response!;
    assert.equal(httpStatus(denied.status), status);
    const contentType = findHeader(denied.headers, 'content-type');
    assert.equal(contentType?.header?.value, 'application/json', 'ext_authz reads `value` (not raw_value) in denied headers');
    assert.notEqual(contentType.append?.value, true, 'content-type overwrites, never appends');
    const body = parseErrorBody(denied.body);
    assert.equal(body.error.type, 'tollgate_error');
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, 'string');
    if (requestId !== undefined) assert.equal(body.error.request_id, requestId);
    const decisionId = findHeader(denied.headers, 'x-tollgate-decision-id')?.header?.value;
    assert.match(decisionId ?? '', /^[0-9a-f-]{36}$/);
    return decisionId!;
  };

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  it('allows a known key on its provider: OK status, caller credentials removed, identity metadata attached', async () => {
    const res = await h.check(
      checkRequest({
        path: '/openai/v1/chat/completions',
        requestId: newRequestId(),
        headers: { authorization: `Bearer ${h.keys.agent}`, cookie: 'session=1', 'content-type': 'application/json' },
      }),
    );
    assert.equal(res.http_response, 'ok_response', JSON.stringify(res));
    assert.equal(res.denied_response, undefined);
    assert.equal(res.status?.code ?? 0, 0);
    const removed = res.ok_response?.headers_to_remove ?? [];
    for (const name of ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'cookie']) assert.ok(removed.includes(name), `headers_to_remove has ${name}`);
    assert.deepEqual([...removed].sort(), [...CALLER_CREDENTIAL_HEADERS].sort());
    assert.ok(!removed.some((n) => n.startsWith(':') || n === 'host'), 'ext_authz cannot remove pseudo-headers or host');
    const md = res.dynamic_metadata;
    assert.equal(contextValue(md, 'identity'), 'agent-1');
    assert.equal(contextValue(md, 'tenant'), 'team-a');
    assert.equal(contextValue(md, 'provider'), 'openai');
    assert.match(contextValue(md, 'decision_id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(contextValue(md, 'policy_revision'), h.app.policy().revision);
    // Two struct fields (Envoy copies them into every ext_proc message): the context array and its seal.
    assert.deepEqual(Object.keys(md?.fields ?? {}).sort(), ['context', 'seal']);
    assert.deepEqual(Object.keys(contextValues(md)), [...AUTHZ_CONTEXT_FIELDS], 'every field, in the sealed order');
    assert.equal(contextValue(md, 'identity_kind'), 'api_key');
    assert.equal(contextValue(md, 'without_body'), '0');
    // A request with a body: the admission field is empty (what ext_authz did for a body-less one).
    assert.equal(contextValue(md, 'admission') ?? '', '');
    assert.match(sealedFields(md).seal ?? '', /^[A-Za-z0-9_-]{43}$/, 'an HMAC-SHA256 seal, base64url');
    assert.ok(Math.abs(Number(contextValue(md, 'issued_at')) - Date.now()) < 5_000);
    assert.ok(!JSON.stringify(res).includes(h.keys.agent), 'the answer never echoes the key');
  });

  it('accepts the key in x-api-key and api-key too, and gives every check its own decision id', async () => {
    const ids = new Set<string>();
    for (const headers of [{ 'x-api-key': h.keys.agent }, { 'api-key': h.keys.agent }, { authorization: `bearer ${h.keys.agent}` }, { authorization: `Bearer ${h.keys.agent}`, 'x-api-key': h.keys.agent }]) {
      const res = await h.check(checkRequest({ path: '/openai/v1/embeddings', headers }));
      assert.equal(res.http_response, 'ok_response', JSON.stringify(headers));
      ids.add(contextValue(res.dynamic_metadata, 'decision_id') ?? '');
    }
    assert.equal(ids.size, 4);
  });

  it('writes no audit record for an allowed check (ext_proc writes it)', async () => {
    const before = h.audit.records.length;
    const res = await h.check(checkRequest({ path: '/openai/v1/chat/completions', headers: { authorization: `Bearer ${h.keys.restricted}` } }));
    assert.equal(res.http_response, 'ok_response');
    assert.equal(h.audit.records.length, before);
  });

  for (const c of DENIALS) {
    it(`denies ${c.name}: ${c.status} ${c.code}, one authz audit record, key never recorded`, async () => {
      const requestId = newRequestId();
      const headers = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, fill(v)]));
      const res = await h.check(checkRequest({ path: c.path, headers, requestId }));
      const decisionId = assertDenied(res, c.status, c.code, requestId);

      const records = h.recordsFor(requestId);
      assert.equal(records.length, 1, 'exactly one audit record per denial');
      const rec = records[0]!;
      assert.equal(rec.stage, 'authz');
      assert.equal(rec.decision_id, decisionId);
      assert.equal(rec.decision, 'deny');
      assert.equal(rec.outcome, 'denied');
      assert.equal(rec.reason, c.code);
      assert.equal(rec.http_status, c.status);
      assert.equal(rec.policy_revision, h.app.policy().revision);
      assert.equal(rec.path, c.path);
      const json = JSON.stringify(rec);
      for (const key of [h.keys.agent, h.keys.restricted, h.keys.noProviders, unknownKey]) assert.ok(!json.includes(key), 'the audit record never holds a presented key');
      assert.ok(!JSON.stringify(res).includes(h.keys.agent) && !JSON.stringify(res).includes(unknownKey), 'the denial never echoes a key');
    });
  }

  it('names the identity in the audit record when the key was valid but the provider is forbidden', async () => {
    const requestId = newRequestId();
    await h.check(checkRequest({ path: '/openai/v1/chat/completions', requestId, headers: { authorization: `Bearer ${h.keys.noProviders}` } }));
    const [rec] = h.recordsFor(requestId);
    assert.equal(rec?.identity, 'nobody');
    assert.equal(rec.tenant, 'team-c');
    assert.equal(rec.provider, 'openai');
  });

  it('denies a CheckRequest with no attributes at all (never a gRPC error)', async () => {
    const before = h.audit.records.length;
    const res = await h.check({});
    const decisionId = assertDenied(res, 401, 'unauthenticated');
    const added = h.audit.records.slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]?.stage, 'authz');
    assert.equal(added[0].decision_id, decisionId);
    assert.equal(added[0].path, null);
    assert.equal(added[0].request_id, null);
  });

  it('denies an empty http request attribute (no path, no headers)', async () => {
    const res = await h.check({ attributes: { request: { http: {} } } });
    assertDenied(res, 401, 'unauthenticated');
  });

  it('keeps the query string (which may carry a key) out of the audit record', async () => {
    const requestId = newRequestId();
    const res = await h.check(checkRequest({ path: `/nope/v1/chat?api-key=${h.keys.agent}`, requestId, headers: { authorization: `Bearer ${h.keys.agent}` } }));
    assertDenied(res, 404, 'provider_unknown', requestId);
    const [rec] = h.recordsFor(requestId);
    assert.equal(rec?.path, '/nope/v1/chat');
    assert.ok(!JSON.stringify(rec).includes(h.keys.agent));
  });

  it('answers many concurrent checks, each with its own verdict', async () => {
    const keys = [h.keys.agent, h.keys.noProviders, unknownKey, h.keys.restricted];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => h.check(checkRequest({ path: '/openai/v1/chat/completions', headers: { authorization: `Bearer ${keys[i % 4]!}` } }))),
    );
    results.forEach((res, i) => {
      const expected = ['ok_response', 'denied_response', 'denied_response', 'ok_response'][i % 4];
      assert.equal(res.http_response, expected, `check ${i}`);
      if (i % 4 === 3) assert.equal(contextValue(res.dynamic_metadata, 'identity'), 'restricted-1');
    });
  });
});

describe('ext_authz Check: usage controls for a request without a body (in-memory state)', () => {
  const LIMIT = 3;
  let h: Harness;
  before(async () => {
    h = await startHarness({
      tweak: (c) => ({
        ...c,
        rateLimits: [
          // A 10 s window: its wait is always short enough to be a retry-after (a 1 m window's can pass 60 s).
          { name: 'agent-rpm', per: 'identity', unit: 'requests', limit: LIMIT, window: '10s', only: ['agent-1'] },
          // A token limit and a token budget: a request without a body spends no tokens, so they take nothing.
          { name: 'agent-tpm', per: 'identity', unit: 'tokens', limit: 1, window: '1m', only: ['agent-1'] },
        ],
        budgets: [{ name: 'agent-day', per: 'identity', metric: 'tokens', limit: 1, window: '1d', only: ['agent-1'] }],
      }),
    });
  });
  after(async () => { await h.stop(); });

  const list = (key: string, requestId = newRequestId()): Promise<DecodedCheckResponse> =>
    h.check(checkRequest({ method: 'GET', path: '/openai/v1/models', requestId, headers: { authorization: `Bearer ${key}` } }));

  it('a request rate limit counts GETs; over it, 429 rate_limited with the wait (a 10 s window: retry-after), audited at authz', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const ok = await list(h.keys.agent);
      assert.equal(ok.http_response, 'ok_response', JSON.stringify(ok));
      // The credential ext_authz injects, and its metadata sealed for ext_proc's record; never the value there.
      assert.equal(findHeader(ok.ok_response?.headers, 'authorization')?.header?.value, `Bearer ${h.providerKey}`);
      const admission = JSON.parse(contextValue(ok.dynamic_metadata, 'admission') ?? '{}') as { credential?: { source?: string } };
      assert.match(admission.credential?.source ?? '', /^file:/);
      assert.ok(!(contextValue(ok.dynamic_metadata, 'admission') ?? '').includes(h.providerKey));
    }
    const requestId = newRequestId();
    const refused = await list(h.keys.agent, requestId);
    assert.equal(refused.http_response, 'denied_response');
    const denied = refused.denied_response!;
    assert.equal(httpStatus(denied.status), 429);
    assert.equal(parseErrorBody(denied.body).error.code, 'rate_limited');
    assert.equal(findHeader(denied.headers, 'x-should-retry')?.header?.value, 'true');
    const wait = Number(findHeader(denied.headers, 'retry-after')?.header?.value);
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 20, `retry-after ${wait}`);
    const [rec] = h.recordsFor(requestId);
    assert.deepEqual([rec?.stage, rec?.reason, rec?.rule, rec?.identity, rec?.tenant, rec?.provider, rec?.http_status], ['authz', 'rate_limited', 'rateLimits', 'agent-1', 'team-a', 'openai', 429]);
    // Another identity is not limited.
    assert.equal((await list(h.keys.restricted)).http_response, 'ok_response');
  });
});
