// Contract: many ext_proc streams open at once, interleaved phase by phase; each gets its own answers.
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { contextValue } from '../helpers/authz-context.ts';
import { newRequestId, startHarness, type Harness } from './helpers/harness.ts';
import { findHeader, headerRaw, httpStatus, parseErrorBody, requestBody, requestHeaders, responseBody, responseHeaders } from './helpers/messages.ts';

const STREAMS = 50;

describe('concurrent ext_proc streams', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  it(`${STREAMS} interleaved streams each get their own answers and their own audit record`, async () => {
    // Every fifth stream is the restricted identity asking for a model it may not use.
    const plans = await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const denied = i % 5 === 4;
        const key = denied ? h.keys.restricted : h.keys.agent;
        const authz = await h.authorize(key);
        return { i, denied, key, authz, decisionId: contextValue(authz, 'decision_id')!, requestId: newRequestId(), model: denied ? 'gpt-4o' : i % 2 === 0 ? 'gpt-4o-mini' : 'gpt-4o-2024-08-06' };
      }),
    );
    const streams = plans.map(() => h.stream());

    const heads = await Promise.all(
      plans.map((p, i) => streams[i]!.send(requestHeaders({ ':method': 'POST', ':path': '/openai/v1/chat/completions', 'content-type': 'application/json', authorization: `Bearer ${p.key}`, 'x-request-id': p.requestId }, { authz: p.authz }))),
    );
    heads.forEach((r) => { assert.equal(r.response, 'request_headers'); });

    const bodies = await Promise.all(plans.map((p, i) => streams[i]!.send(requestBody(JSON.stringify({ model: p.model, messages: [{ role: 'user', content: `stream ${p.i}` }] })))));
    bodies.forEach((r, i) => {
      const p = plans[i]!;
      if (p.denied) {
        assert.equal(r.response, 'immediate_response', `stream ${i}`);
        assert.equal(httpStatus(r.immediate_response?.status), 403);
        assert.equal(headerRaw(r.immediate_response?.headers?.set_headers, 'x-tollgate-decision-id'), p.decisionId, `stream ${i} gets its own decision id`);
        const body = parseErrorBody(r.immediate_response?.body);
        assert.equal(body.error.code, 'model_forbidden');
        assert.equal(body.error.request_id, p.requestId);
      } else {
        assert.equal(r.response, 'request_body', `stream ${i}`);
        assert.equal(findHeader(r.request_body?.response?.header_mutation?.set_headers, 'authorization')?.header?.raw_value?.toString('latin1'), `Bearer ${h.providerKey}`);
      }
    });

    const live = plans.filter((p) => !p.denied);
    await Promise.all(live.map(async (p) => {
      const s = streams[p.i]!;
      assert.equal((await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }))).response, 'response_headers');
    }));
    await Promise.all(live.map(async (p) => {
      const s = streams[p.i]!;
      const usage = { prompt_tokens: 1000 + p.i, completion_tokens: p.i, total_tokens: 1000 + 2 * p.i };
      assert.equal((await s.send(responseBody(JSON.stringify({ model: p.model, usage })))).response, 'response_body');
    }));
    const ends = await Promise.all(streams.map((s) => s.end()));
    ends.forEach((e, i) => { assert.equal(e.code, GrpcStatus.OK, `stream ${i}`); });
    streams.forEach((s, i) => { assert.equal(s.pending, 0, `stream ${i} got exactly one answer per message`); });

    const records = await Promise.all(plans.map((p) => h.waitForRecords(p.requestId)));
    records.forEach((recs, i) => {
      const p = plans[i]!;
      assert.equal(recs.length, 1, `stream ${i} has one audit record`);
      const rec = recs[0]!;
      assert.equal(rec.decision_id, p.decisionId);
      assert.equal(rec.model, p.model);
      if (p.denied) {
        assert.equal(rec.outcome, 'denied');
        assert.equal(rec.identity, 'restricted-1');
      } else {
        assert.equal(rec.outcome, 'completed');
        assert.equal(rec.identity, 'agent-1');
        assert.deepEqual(rec.usage, { input_tokens: 1000 + p.i, output_tokens: p.i, total_tokens: 1000 + 2 * p.i });
      }
    });
    assert.equal(h.audit.records.filter((r) => r.stage === 'proc').length, STREAMS);
  });
});
