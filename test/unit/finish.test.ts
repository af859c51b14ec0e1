// One end for every request (outcome/finish.ts) and one deny shape (errors.ts): ext_authz's denial and
// ext_proc's carry the same status, headers and body for the same refusal, and each request gets one record
// through the same finish, counted under its stage.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCheckHandler } from '../../extproc/authz/check-handler.ts';
import { denialReply, ruleFor } from '../../extproc/errors.ts';
import { errorResponse } from '../../extproc/processing/responses.ts';
import { Session } from '../../extproc/processing/session.ts';
import { chatBody, chatHeaders, CHAT_PATH, phaseFixture, requestHeadersMsg, type PhaseFixture } from '../helpers/phase-fixtures.ts';

const counted = async (f: PhaseFixture, stage: string): Promise<number> => {
  const m = await f.services.metrics.auditRecords.get();
  return m.values.find((v) => v.labels.stage === stage)?.value ?? 0;
};

describe('one finish and one deny shape for ext_authz and ext_proc', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  it("a Check denial is the same answer ext_proc gives for that denial, and one record through finish (stage authz)", async () => {
    const requestId = 'r-check-deny';
    const before = await counted(f, 'authz');
    // The fixture's identity runtime resolves no API keys: a request without credentials is unauthenticated.
    const res = await createCheckHandler(f.services)({ attributes: { request: { http: { method: 'POST', path: CHAT_PATH, headers: { 'x-request-id': requestId, 'content-type': 'application/json', 'content-length': '2' } } } } }, false);
    const denied = res.denied_response;
    assert.ok(denied !== undefined);
    const decisionId = denied.headers.find((h) => h.header.key === 'x-tollgate-decision-id')?.header.value;
    assert.ok(decisionId !== undefined);
    const ir = errorResponse(denialReply({ code: 'unauthenticated', rule: ruleFor('unauthenticated') }, requestId, decisionId)).immediate_response;
    assert.ok(ir !== undefined);
    assert.equal(denied.status.code, ir.status.code);
    assert.deepEqual(denied.headers.map((h) => [h.header.key, h.header.value]), (ir.headers?.set_headers ?? []).map((h) => [h.header.key, h.header.raw_value.toString('latin1')]));
    assert.equal(denied.body, ir.body?.toString('utf8'));
    const recs = f.records().filter((r) => r.decision_id === decisionId);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.stage, 'authz');
    assert.equal(recs[0].reason, 'unauthenticated');
    assert.equal(await counted(f, 'authz'), before + 1, 'counted once under stage authz');
  });

  it('an ext_proc denial finishes through the same path: one record, counted under stage proc', async () => {
    const before = await counted(f, 'proc');
    const s = new Session(f.services);
    const body = chatBody();
    const out = await s.handle(requestHeadersMsg(chatHeaders(body, { 'content-type': 'text/plain' }), { context: f.seal() }));
    assert.equal(out.immediate_response?.status.code, 415);
    s.close('ended');
    const recs = f.records().filter((r) => r.decision_id === s.request.decisionId);
    assert.deepEqual(recs.map((r) => [r.stage, r.reason]), [['proc', 'content_type_unsupported']]);
    assert.equal(await counted(f, 'proc'), before + 1);
  });

  it('one error-to-rule map for both filters: specific rules where one decides, request.model for other refusals of the request, internal for failures', () => {
    assert.equal(ruleFor('header_malformed'), 'request.headers');
    assert.equal(ruleFor('endpoint_not_allowed'), 'provider.endpoints');
    assert.equal(ruleFor('identity_disabled'), 'admin.kill_switch');
    assert.equal(ruleFor('credential_unavailable'), 'provider.credential');
    assert.equal(ruleFor('body_missing'), 'request.model');
    assert.equal(ruleFor('internal'), 'internal');
  });
});
