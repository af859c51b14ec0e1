// Contract: a provider credential that disappears after start fails closed with 503, audited as such.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { contextValue } from '../helpers/authz-context.ts';
import { newRequestId, startHarness, type Harness } from './helpers/harness.ts';
import { checkRequest, fixture, headerRaw, httpStatus, parseErrorBody, requestBody, requestHeaders } from './helpers/messages.ts';

describe('ext_proc with the credential file deleted after start', () => {
  let h: Harness;

  before(async () => {
    // Nothing has fetched the credential yet, so the broker has nothing cached to serve.
    h = await startHarness();
    rmSync(h.credentialFile);
  });
  after(async () => {
    await h.stop();
  });

  it('answers the request_body with immediate_response 503 and audits credential_unavailable', async () => {
    const requestId = newRequestId();
    const authz = await h.authorize(h.keys.agent);
    const s = h.stream();
    const r1 = await s.send(
      requestHeaders({ ':method': 'POST', ':path': '/openai/v1/chat/completions', 'content-type': 'application/json', authorization: `Bearer ${h.keys.agent}`, 'x-request-id': requestId }, { authz }),
    );
    assert.equal(r1.response, 'request_headers', 'the lookup starts at headers; its failure is reported with the body');

    const r2 = await s.send(requestBody(fixture('ext_proc/chat-request.json')));
    assert.equal(r2.response, 'immediate_response', JSON.stringify(r2));
    assert.equal(httpStatus(r2.immediate_response?.status), 503);
    assert.equal(headerRaw(r2.immediate_response?.headers?.set_headers, 'x-tollgate-decision-id'), contextValue(authz, 'decision_id'));
    const bodyText = r2.immediate_response?.body?.toString('utf8') ?? '';
    const body = parseErrorBody(bodyText);
    assert.equal(body.error.code, 'credential_unavailable');
    assert.equal(body.error.message, 'The request could not be processed.');
    assert.ok(!bodyText.includes(h.credentialFile) && !bodyText.includes('ENOENT'), 'no internal detail reaches the client');
    assert.equal((await s.end()).code, GrpcStatus.OK);

    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    const rec = records[0]!;
    assert.equal(rec.reason, 'credential_unavailable');
    assert.equal(rec.rule, 'provider.credential');
    assert.equal(rec.http_status, 503);
    assert.equal(rec.decision, 'error');
    assert.equal(rec.outcome, 'failed');
    assert.ok(!JSON.stringify(rec).includes(h.providerKey));
  });

  it('denies a request without a body at ext_authz with 503 (its credential is injected there) and audits credential_unavailable', async () => {
    const requestId = newRequestId();
    const res = await h.check(checkRequest({ path: '/openai/v1/models', method: 'GET', requestId, headers: { authorization: `Bearer ${h.keys.agent}` } }));
    assert.equal(res.http_response, 'denied_response', JSON.stringify(res));
    assert.equal(httpStatus(res.denied_response?.status), 503);
    assert.ok(!JSON.stringify(res).includes(h.providerKey));
    const [rec] = await h.waitForRecords(requestId);
    assert.equal(rec?.reason, 'credential_unavailable');
    assert.equal(rec.stage, 'authz');
  });

  it('never logs the provider credential', () => {
    assert.ok(!h.logs.join('').includes(h.providerKey));
  });
});
