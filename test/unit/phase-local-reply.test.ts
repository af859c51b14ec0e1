// Direct unit tests of the local-reply step (extproc/processing/steps/local-reply.ts): streams that begin
// with response headers and carry no context. Tollgate's own ext_authz denials pass through unaudited; Envoy's
// 413 becomes Tollgate's JSON 413 with one record; any other local reply is tagged with a decision id and
// audited as unauthenticated. Driven through Session, which turns the step's denial into the answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { headerMap } from '../../extproc/processing/headers.ts';
import { onLocalReply } from '../../extproc/processing/steps/local-reply.ts';
import { Session } from '../../extproc/processing/session.ts';
import { chatBody, chatHeaders, isDenial, phaseFixture, requestHeadersMsg, responseBodyMsg, responseHeadersMsg, setHeader, type PhaseFixture } from '../helpers/phase-fixtures.ts';

describe('step local-reply', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  const recordsOf = (s: Session): ReturnType<PhaseFixture['records']> => f.records().filter((r) => r.decision_id === s.request.decisionId);

  it("Tollgate's own ext_authz denial (x-tollgate-decision-id) passes through, unchanged and unaudited", async () => {
    const before = f.audit.records.length;
    const s = new Session(f.services);
    const authzDecision = 'c0ffee00-0000-4000-8000-000000000001';
    const res = await s.handle(responseHeadersMsg({ ':status': '403', 'content-type': 'application/json', 'x-tollgate-decision-id': authzDecision }));
    assert.ok(res.response_headers !== undefined, 'continues');
    assert.equal(res.response_headers.response.header_mutation, undefined, 'no header changes');
    assert.equal(res.mode_override, undefined);
    assert.equal((await s.handle(responseBodyMsg('{"error":{}}', true))).response_body?.response.body_mutation, undefined);
    s.close('ended');
    assert.equal(f.audit.records.length, before, 'ext_authz already audited it');
  });

  it("Envoy's 413 (its buffer limit) becomes Tollgate's JSON 413, with exactly one record", async () => {
    const s = new Session(f.services);
    const res = await s.handle(responseHeadersMsg({ ':status': '413', 'content-type': 'text/plain', 'content-length': '17' }));
    const ir = res.immediate_response;
    assert.ok(ir !== undefined, 'an immediate response');
    assert.equal(ir.status.code, 413);
    const body = JSON.parse(ir.body?.toString('utf8') ?? '{}') as { error?: { code?: string } };
    assert.equal(body.error?.code, 'body_too_large');
    assert.equal(ir.headers?.set_headers?.find((h) => h.header.key === 'x-tollgate-decision-id')?.header.raw_value.toString('latin1'), s.request.decisionId);
    s.close('ended');
    const recs = recordsOf(s);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.reason, 'body_too_large');
    assert.equal(recs[0].rule, 'envoy.buffer_limit');
    assert.equal(recs[0].authenticated, false);
    assert.equal(recs[0].identity, null);
  });

  const others: readonly { status: string; end: boolean }[] = [
    { status: '503', end: false },
    { status: '408', end: false },
    { status: '400', end: true },
    { status: 'abc', end: true },
  ];
  for (const o of others) {
    it(`another local reply (${o.status}${o.end ? ', headers only' : ''}) is tagged with a decision id and audited once, unauthenticated`, async () => {
      const s = new Session(f.services);
      const res = await s.handle(responseHeadersMsg({ ':status': o.status, 'content-type': 'text/plain' }, { endOfStream: o.end }));
      assert.ok(res.response_headers !== undefined, 'the reply goes on to the client');
      assert.equal(setHeader(res, 'response_headers', 'x-tollgate-decision-id'), s.request.decisionId);
      if (!o.end) assert.ok((await s.handle(responseBodyMsg('upstream request timeout', true))).response_body !== undefined);
      s.close('ended');
      const recs = recordsOf(s);
      assert.equal(recs.length, 1, 'one record');
      const r = recs[0];
      assert.equal(r?.reason, 'proxy_local_reply');
      assert.equal(r.rule, 'envoy.local_reply');
      assert.equal(r.authenticated, false, 'nothing vouches for such a stream');
      assert.equal(r.http_status, /^\d+$/.test(o.status) ? Number(o.status) : null);
      assert.equal(r.request_id, null);
    });
  }

  it('onLocalReply on its own: the 413 is a denial for the session to answer, not an answer', () => {
    const state = f.state();
    const m = responseHeadersMsg({ ':status': '413' });
    const h = m.response_headers ?? {};
    const out = onLocalReply(state, h, headerMap(h));
    assert.ok(isDenial(out));
    assert.equal(out.code, 'body_too_large');
    assert.equal(f.audit.records.filter((r) => r.decision_id === state.decisionId).length, 0, 'the session audits the denial');
  });

  it('Envoy answering after the request headers, before the body (a 413 without content-length): audited once, as the authenticated request', async () => {
    const s = new Session(f.services);
    const body = chatBody();
    const requestId = 'r-midrequest-413';
    const headers = chatHeaders(body, { 'x-request-id': requestId });
    delete headers['content-length'];
    assert.ok((await s.handle(requestHeadersMsg(headers, { context: f.seal() }))).request_headers !== undefined);
    const res = await s.handle(responseHeadersMsg({ ':status': '413', 'content-type': 'text/plain' }));
    assert.ok(res.response_headers !== undefined, "Envoy's reply continues");
    assert.ok((await s.handle(responseBodyMsg('Payload Too Large', true))).response_body !== undefined);
    s.close('ended');
    const recs = recordsOf(s);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.reason, 'body_too_large');
    assert.equal(recs[0].authenticated, true);
    assert.equal(recs[0].request_id, requestId);
    assert.equal(recs[0].identity, 'agent-1');
  });
});
