// Direct unit tests of the deny shape (errors.ts denialReply, responses.ts errorResponse) and session.ts (the
// envelope and dispatcher, which finishes the request through outcome/finish.ts): exactly one audit record
// per stream however it ends, every record valid against auditRecordSchema, and no secret, caller key or prompt
// in any record or log line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { errorResponse } from '../../extproc/processing/responses.ts';
import { Session, type StreamEnd } from '../../extproc/processing/session.ts';
import { auditRecordSchema } from '../../extproc/telemetry/audit-record.ts';
import { denialReply, type ErrorCode } from '../../extproc/errors.ts';
import type { ProcessingRequest } from '../../extproc/wire/ext-proc.ts';
import { leaked, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import { chatBody, chatHeaders, phaseFixture, requestBodyMsg, requestHeadersMsg, responseBodyMsg, responseHeadersMsg, type PhaseFixture } from '../helpers/phase-fixtures.ts';

const CHAT_RESPONSE = readFileSync(new URL('../fixtures/ext_proc/chat-response.json', import.meta.url));
const CALLER_KEY = 'tg_live_callerkey_0123456789abcdefABCDEF';
const PROMPT_MARKER = 'phase-prompt-marker-5e1d';

describe('the deny shape and the one record of a denied request', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  it('a denial answer: the catalogue status, JSON body with code and request id, decision id and retry-after headers', () => {
    const ir = errorResponse(denialReply({ code: 'rate_limited', rule: 'rateLimits', retryAfterSeconds: 7 }, 'r-deny-1', 'dec-1')).immediate_response;
    assert.ok(ir !== undefined);
    assert.equal(ir.status.code, 429);
    const hdr = (n: string): string | undefined => ir.headers?.set_headers?.find((h) => h.header.key === n)?.header.raw_value.toString('latin1');
    assert.equal(hdr('content-type'), 'application/json');
    assert.equal(hdr('x-tollgate-decision-id'), 'dec-1');
    assert.equal(hdr('retry-after'), '7');
    const body = JSON.parse(ir.body?.toString('utf8') ?? '{}') as { error?: { code?: string; request_id?: string } };
    assert.equal(body.error?.code, 'rate_limited');
    assert.equal(body.error.request_id, 'r-deny-1');
  });

  it('a denial answer for a content block names the types in the body, never a value', () => {
    const res = errorResponse(denialReply({ code: 'content_blocked', rule: 'dlp.actions', types: ['STRIPE_KEY'] }, undefined, 'dec-2'));
    const text = res.immediate_response?.body?.toString('utf8') ?? '';
    assert.equal(res.immediate_response?.status.code, 403);
    assert.ok(text.includes('STRIPE_KEY'), text);
    assert.equal(res.immediate_response.headers?.set_headers?.find((h) => h.header.key === 'retry-after'), undefined);
  });

  it('a step denial through the Session: the ImmediateResponse, position done, and exactly one record (closing the stream writes no second)', async () => {
    const requestId = 'r-deny-2';
    const body = chatBody('gpt-4o');
    const s = new Session(f.services);
    await s.handle(requestHeadersMsg(chatHeaders(body, { 'x-request-id': requestId }), { context: f.seal({ identity: 'restricted-1' }) }));
    const ir = (await s.handle(requestBodyMsg(body))).immediate_response;
    assert.ok(ir !== undefined);
    assert.equal(ir.status.code, 403);
    assert.equal(ir.headers?.set_headers?.find((h) => h.header.key === 'x-tollgate-decision-id')?.header.raw_value.toString('latin1'), s.request.decisionId);
    assert.equal(s.request.position, 'done');
    s.close('ended');
    const recs = f.records().filter((r) => r.decision_id === s.request.decisionId);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.outcome, 'denied');
    assert.equal(recs[0].decision, 'deny');
    assert.equal(recs[0].reason, 'model_forbidden');
    assert.equal(recs[0].http_status, 403);
    assert.equal(recs[0].request_id, requestId);
  });
});

type Step = ProcessingRequest | { readonly end: StreamEnd; readonly code?: ErrorCode };

describe('session: one record per stream, however it ends', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture({ tweak: (c) => ({ ...c, dlp: { enabled: true } }) }); });
  after(async () => { await f.close(); });

  const email = plantEmail();
  const secretInPrompt = plantStripeKey();
  const body = chatBody('gpt-4o-mini', `${PROMPT_MARKER} contact ${email}`);
  const headers = (): ProcessingRequest => requestHeadersMsg(chatHeaders(body, { authorization: `Bearer ${CALLER_KEY}`, 'x-api-key': CALLER_KEY }), { context: f.seal() });
  const okHeaders = responseHeadersMsg({ ':status': '200', 'content-type': 'application/json' });
  const sseHeaders = responseHeadersMsg({ ':status': '200', 'content-type': 'text/event-stream' });

  const scenarios: readonly { name: string; steps: () => Step[]; outcome: string; reason: string | null; authenticated: boolean; throws?: string }[] = [
    { name: 'completed (buffered)', steps: () => [headers(), requestBodyMsg(body), okHeaders, responseBodyMsg(CHAT_RESPONSE), { end: 'ended' }], outcome: 'completed', reason: null, authenticated: true },
    { name: 'completed (streamed), then Envoy cancels the side stream', steps: () => [headers(), requestBodyMsg(body), sseHeaders, responseBodyMsg('data: {}\n\n', false), responseBodyMsg('', true), { end: 'cancelled' }], outcome: 'completed', reason: null, authenticated: true },
    { name: 'response headers only, graceful end', steps: () => [headers(), requestBodyMsg(body), responseHeadersMsg({ ':status': '204' }, { endOfStream: true }), { end: 'ended' }], outcome: 'completed', reason: null, authenticated: true },
    { name: 'cancelled mid-response', steps: () => [headers(), requestBodyMsg(body), okHeaders, responseBodyMsg('{"id":', false), { end: 'cancelled' }], outcome: 'cancelled', reason: 'response_incomplete', authenticated: true },
    { name: 'cancelled before the body', steps: () => [headers(), { end: 'cancelled' }], outcome: 'cancelled', reason: null, authenticated: true },
    { name: 'cancelled before any message', steps: () => [{ end: 'cancelled' }], outcome: 'cancelled', reason: null, authenticated: false },
    { name: 'denied (secret in the prompt), then cancelled', steps: () => [headers(), requestBodyMsg(chatBody('gpt-4o-mini', `use ${secretInPrompt}`)), { end: 'cancelled' }], outcome: 'denied', reason: 'content_blocked', authenticated: true },
    { name: 'denied by the context (no metadata), then ended', steps: () => [requestHeadersMsg(chatHeaders(body)), { end: 'ended' }], outcome: 'failed', reason: 'authz_context_missing', authenticated: false },
    { name: 'protocol violation (body not BUFFERED) → failed', steps: () => [headers(), requestBodyMsg(body, { endOfStream: false }), { end: 'failed', code: 'protocol_violation' }], outcome: 'failed', reason: 'protocol_violation', authenticated: true, throws: 'protocol_violation' },
    { name: 'a message after the request ended → failed, still one record', steps: () => [headers(), requestBodyMsg(body), okHeaders, responseBodyMsg(CHAT_RESPONSE), responseBodyMsg('x'), { end: 'failed', code: 'protocol_violation' }], outcome: 'completed', reason: null, authenticated: true, throws: 'protocol_violation' },
    { name: 'failed with no message handled', steps: () => [{ end: 'failed', code: 'internal' }], outcome: 'failed', reason: 'internal', authenticated: false },
  ];

  for (const sc of scenarios) {
    it(`${sc.name}: one valid record (${sc.outcome}${sc.reason === null ? '' : `, ${sc.reason}`}), no secret in it`, async () => {
      const s = new Session(f.services);
      const answers: unknown[] = [];
      let thrown: string | undefined;
      for (const step of sc.steps()) {
        if ('end' in step) {
          s.close(step.end, step.code);
          s.close('cancelled'); // a second close (gRPC reports both error and cancel) writes nothing
          continue;
        }
        try {
          answers.push(await s.handle(step));
        } catch (err) {
          thrown = (err as { code?: string }).code;
        }
      }
      assert.equal(thrown, sc.throws);
      const mine = f.audit.records.filter((r) => r.decision_id === s.request.decisionId);
      assert.equal(mine.length, 1, 'exactly one record');
      const rec = auditRecordSchema.parse(mine[0]);
      assert.equal(rec.stage, 'proc');
      assert.equal(rec.outcome, sc.outcome);
      assert.equal(rec.reason, sc.reason);
      assert.equal(rec.authenticated, sc.authenticated);
      if (sc.authenticated) {
        assert.equal(rec.identity, 'agent-1');
        assert.equal(rec.policy_revision, f.services.policy().revision);
      }
      const out = [JSON.stringify(rec), ...f.logs].join('\n');
      assert.deepEqual(leaked(out, [f.providerKey, CALLER_KEY, PROMPT_MARKER, email, secretInPrompt]), [], 'no credential, caller key, prompt or planted value in any record or log line');
      for (const a of answers) assert.deepEqual(leaked(JSON.stringify(a), [CALLER_KEY, secretInPrompt]), [], 'no caller key or blocked secret in an answer');
    });
  }

  it('a completed record carries the credential metadata, never its value, plus size, HMAC, usage and latency', async () => {
    const s = new Session(f.services);
    for (const m of [headers(), requestBodyMsg(body), okHeaders, responseBodyMsg(CHAT_RESPONSE)]) await s.handle(m);
    s.close('ended');
    const rec = f.records().find((r) => r.decision_id === s.request.decisionId);
    assert.ok(rec !== undefined);
    assert.deepEqual(rec.credential, { source: 'memory:openai', version: 1 });
    assert.equal(rec.request?.body_bytes, body.length);
    assert.match(rec.request.body_hmac, /^[0-9a-f]{64}$/);
    assert.deepEqual(rec.usage, { input_tokens: 23, output_tokens: 2, total_tokens: 25 });
    assert.deepEqual(rec.response, { body_bytes: CHAT_RESPONSE.length, streamed: false });
    assert.equal(rec.content?.action, 'mask');
    assert.deepEqual(rec.content.request, { EMAIL: 1 });
    assert.ok(rec.latency_ms.total >= rec.latency_ms.tollgate);
    assert.ok(!JSON.stringify(rec).includes(f.providerKey));
  });

  it('every record this suite wrote validates against auditRecordSchema', () => {
    assert.ok(f.audit.records.length >= scenarios.length);
    for (const r of f.audit.records) assert.ok(auditRecordSchema.safeParse(r).success, JSON.stringify(r));
    assert.deepEqual(leaked(f.everything(), [f.providerKey, CALLER_KEY, PROMPT_MARKER, email, secretInPrompt]), []);
  });
});
