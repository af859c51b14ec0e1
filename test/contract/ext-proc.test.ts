// Contract: envoy.service.ext_proc.v3.ExternalProcessor/Process, one bidi stream per HTTP request,
// driven message by message as Envoy drives it, against the real server on loopback.
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { CALLER_CREDENTIAL_HEADERS } from '../../extproc/core/request-context.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { stringStruct, type Struct } from '../../extproc/wire/struct.ts';
import { contextValue } from '../helpers/authz-context.ts';
import { newRequestId, startHarness, type Harness } from './helpers/harness.ts';
import {
  checkRequest,
  findHeader,
  fixture,
  headerRaw,
  httpStatus,
  parseErrorBody,
  requestBody,
  requestHeaders,
  responseBody,
  responseHeaders,
  type DecodedProcessingResponse,
} from './helpers/messages.ts';
import type { ProcStream } from './helpers/proc-stream.ts';
import { CHAT_PATH, CHAT_REQUEST_HEADERS } from '../helpers/chat-request.ts';

const CHAT_BODY = fixture('ext_proc/chat-request.json');
const CHAT_RESPONSE = fixture('ext_proc/chat-response.json');
const SSE_EVENTS = fixture('ext_proc/chat-stream.sse').toString('utf8').split(/(?<=\n\n)/).filter((e) => e !== '');
const PROMPT_MARKER = 'contract-prompt-marker-7f3a';
const LIMIT = 64 * 1024; // limits.maxRequestBodyBytes in test/helpers/config.ts

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Request headers as Envoy's ext_proc filter sends them (after ext_authz, which does not strip in this test). */
function chatHeaders(key: string, requestId: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    ...CHAT_REQUEST_HEADERS,
    authorization: `Bearer ${key}`,
    'x-request-id': requestId,
    ...extra,
  };
}

function assertContinue(res: DecodedProcessingResponse, member: 'request_headers' | 'request_body' | 'response_headers' | 'response_body'): void {
  assert.equal(res.response, member, `expected ${member}, got ${JSON.stringify(res)}`);
  assert.equal(res.immediate_response, undefined);
  const common = res[member]?.response;
  assert.ok(common !== undefined, `${member}.response is set`);
  assert.ok(common.status === undefined || common.status === 'CONTINUE', `status CONTINUE, got ${common.status}`);
}

describe('ext_proc Process', () => {
  let h: Harness;

  /** Asserts an ImmediateResponse local reply and returns its parsed body. */
  const assertImmediate = (res: DecodedProcessingResponse, status: number, code: string, ids: { decisionId?: string; requestId?: string } = {}): void => {
    assert.equal(res.response, 'immediate_response', `expected immediate_response, got ${JSON.stringify(res)}`);
    const ir = res.immediate_response!;
    assert.equal(httpStatus(ir.status), status);
    assert.equal(headerRaw(ir.headers?.set_headers, 'content-type'), 'application/json');
    if (ids.decisionId !== undefined) assert.equal(headerRaw(ir.headers?.set_headers, 'x-tollgate-decision-id'), ids.decisionId);
    for (const o of ir.headers?.set_headers ?? []) assert.ok(o.header?.value === undefined || o.header.value === '', 'local reply headers use raw_value only');
    const body = parseErrorBody(ir.body);
    assert.equal(body.error.code, code);
    if (ids.requestId !== undefined) assert.equal(body.error.request_id, ids.requestId);
    assert.ok(!JSON.stringify(res).includes(h.providerKey), 'a local reply never carries the provider credential');
  };

  /** Opens a stream for an authorized chat request and checks the request_headers answer. */
  const openChat = async (key: string, requestId: string, extra: Readonly<Record<string, string>> = {}): Promise<{ s: ProcStream; authz: Struct; decisionId: string }> => {
    const authz = await h.authorize(key);
    const s = h.stream();
    const res = await s.send(requestHeaders(chatHeaders(key, requestId, extra), { authz }));
    assertContinue(res, 'request_headers');
    return { s, authz, decisionId: contextValue(authz, 'decision_id')! };
  };

  const assertNoSecrets = (rec: AuditRecord | undefined): void => {
    const json = JSON.stringify(rec);
    assert.ok(!json.includes(h.providerKey), 'the audit record never holds the provider credential');
    for (const key of [h.keys.agent, h.keys.restricted, h.keys.noProviders]) assert.ok(!json.includes(key), 'the audit record never holds a caller key');
    assert.ok(!json.includes(PROMPT_MARKER), 'the audit record never holds prompt text');
  };

  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.stop();
  });

  it('happy path: strips caller credentials, injects the provider credential in raw_value, audits once', async () => {
    const requestId = newRequestId();
    const authz = await h.authorize(h.keys.agent);
    const decisionId = contextValue(authz, 'decision_id')!;
    const s = h.stream();

    const r1 = await s.send(
      requestHeaders(chatHeaders(h.keys.agent, requestId, { 'content-length': String(CHAT_BODY.length), cookie: 'session=abc', 'x-api-key': h.keys.agent }), { authz }),
    );
    assertContinue(r1, 'request_headers');
    const m1 = r1.request_headers?.response?.header_mutation;
    // Caller credential headers the message carries are removed (Envoy has already applied Check's removals, so
    // through Envoy none are left); one it does not carry is not named.
    for (const name of ['authorization', 'x-api-key', 'cookie']) assert.ok(m1?.remove_headers?.includes(name), `remove_headers has ${name}`);
    for (const name of ['api-key', 'proxy-authorization']) assert.ok(!m1?.remove_headers?.includes(name), `remove_headers names no absent ${name}`);
    // Before the body is seen, the only header set is Tollgate's own accept-encoding (the upstream must answer
    // uncompressed, so the response can be scanned); the credential comes with the body.
    assert.deepEqual((m1?.set_headers ?? []).map((o) => [o.header?.key, o.header?.raw_value?.toString()]), [['accept-encoding', 'identity']]);
    assert.equal(r1.mode_override, undefined);

    const r2 = await s.send(requestBody(CHAT_BODY, true));
    assertContinue(r2, 'request_body');
    const set = r2.request_body?.response?.header_mutation?.set_headers;
    const auth = findHeader(set, 'authorization');
    assert.ok(auth !== undefined, 'authorization is set');
    assert.equal(auth.header?.raw_value?.toString('latin1'), `Bearer ${h.providerKey}`);
    assert.ok(auth.header.value === undefined || auth.header.value === '', 'value stays unset: Envoy would send an empty header or fail with both');
    assert.ok(auth.append !== undefined, 'the deprecated append BoolValue is always sent');
    assert.notEqual(auth.append.value, true, 'append false: overwrite');
    assert.equal(r2.request_body?.response?.body_mutation, undefined, 'the body passes unchanged');
    assert.equal(findHeader(set, 'content-length'), undefined, 'an unchanged body needs no content-length');

    const r3 = await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
    assertContinue(r3, 'response_headers');
    assert.equal(r3.mode_override, undefined, 'a JSON response stays BUFFERED');

    const r4 = await s.send(responseBody(CHAT_RESPONSE, true));
    assertContinue(r4, 'response_body');

    const end = await s.end();
    assert.equal(end.code, GrpcStatus.OK);
    assert.equal(end.errored, false);
    assert.equal(s.pending, 0, 'exactly one answer per message');

    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    const rec = records[0]!;
    assert.equal(rec.stage, 'proc');
    assert.equal(rec.decision, 'allow');
    assert.equal(rec.outcome, 'completed');
    assert.equal(rec.reason, null);
    assert.equal(rec.decision_id, decisionId);
    assert.equal(rec.identity, 'agent-1');
    assert.equal(rec.tenant, 'team-a');
    assert.equal(rec.provider, 'openai');
    assert.equal(rec.model, 'gpt-4o-mini');
    assert.equal(rec.method, 'POST');
    assert.equal(rec.path, CHAT_PATH);
    assert.equal(rec.http_status, 200);
    assert.deepEqual(rec.request, { body_bytes: CHAT_BODY.length, body_hmac: h.app.services.bodyHmac(CHAT_BODY) });
    assert.deepEqual(rec.response, { body_bytes: CHAT_RESPONSE.length, streamed: false });
    assert.deepEqual(rec.usage, { input_tokens: 23, output_tokens: 2, total_tokens: 25 });
    assert.equal(rec.policy_revision, h.app.policy().revision);
    assert.ok(rec.latency_ms.total >= rec.latency_ms.tollgate);
    assertNoSecrets(rec);
  });

  it('SSE: a 200 text/event-stream response switches to STREAMED and every chunk is answered', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    assertContinue(await s.send(requestBody(JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] }))), 'request_body');

    const rh = await s.send(responseHeaders({ ':status': '200', 'content-type': 'text/event-stream; charset=utf-8' }));
    assertContinue(rh, 'response_headers');
    assert.equal(rh.mode_override?.response_body_mode, 'STREAMED');

    assert.ok(SSE_EVENTS.length >= 3);
    let bytes = 0;
    for (const event of SSE_EVENTS) {
      bytes += Buffer.byteLength(event);
      assertContinue(await s.send(responseBody(event, false)), 'response_body');
    }
    // Envoy ends a streamed body with an empty chunk carrying end_of_stream.
    assertContinue(await s.send(responseBody('', true)), 'response_body');
    assert.equal((await s.end()).code, GrpcStatus.OK);

    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.outcome, 'completed');
    assert.equal(records[0].model, 'gpt-4o');
    assert.deepEqual(records[0].response, { body_bytes: bytes, streamed: true });
  });

  it('keeps an error response BUFFERED even when it claims text/event-stream', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    assertContinue(await s.send(requestBody(CHAT_BODY)), 'request_body');
    const rh = await s.send(responseHeaders({ ':status': '429', 'content-type': 'text/event-stream' }));
    assertContinue(rh, 'response_headers');
    assert.equal(rh.mode_override, undefined);
    assertContinue(await s.send(responseBody('{"error":{"message":"rate limited"}}', true)), 'response_body');
    await s.end();
    const [rec] = await h.waitForRecords(requestId);
    assert.equal(rec?.http_status, 429);
    assert.equal(rec.outcome, 'completed');
    assert.equal(rec.usage, null);
  });

  it('headers-only request (GET /models): ext_authz injects the credential, ext_proc strips and audits', async () => {
    const requestId = newRequestId();
    const check = await h.check(checkRequest({ path: '/openai/v1/models', method: 'GET', requestId, headers: { authorization: `Bearer ${h.keys.agent}` } }));
    assert.equal(check.http_response, 'ok_response', JSON.stringify(check));
    const injected = check.ok_response?.headers?.find((o) => o.header?.key === 'authorization');
    assert.equal(injected?.header?.value, `Bearer ${h.providerKey}`);
    assert.equal(injected.append?.value, false);
    for (const name of CALLER_CREDENTIAL_HEADERS.filter((n) => n !== 'authorization')) assert.ok(check.ok_response?.headers_to_remove?.includes(name), `headers_to_remove has ${name}`);
    assert.ok(!(check.ok_response?.headers_to_remove ?? []).includes('authorization'), 'the injected header is not removed again');
    const authz = check.dynamic_metadata!;
    assert.equal(contextValue(authz, 'without_body'), '1');
    const s = h.stream();
    const r1 = await s.send(
      requestHeaders({ ':method': 'GET', ':path': '/openai/v1/models', ':authority': 'tollgate.test', 'x-request-id': requestId }, { authz, endOfStream: true }),
    );
    assertContinue(r1, 'request_headers');
    assert.equal(findHeader(r1.request_headers?.response?.header_mutation?.set_headers, 'authorization'), undefined, 'not injected twice');

    assertContinue(await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' })), 'response_headers');
    assertContinue(await s.send(responseBody('{"object":"list","data":[]}', true)), 'response_body');
    await s.end();
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.outcome, 'completed');
    assert.equal(records[0].method, 'GET');
    assert.equal(records[0].model, null);
    assert.equal(records[0].request, null);
    assertNoSecrets(records[0]);
  });

  it('missing ext_authz metadata: 500 local reply with no detail, audit decision error', async () => {
    const requestId = newRequestId();
    const s = h.stream();
    const res = await s.send(requestHeaders(chatHeaders(h.keys.agent, requestId)));
    assertImmediate(res, 500, 'authz_context_missing', { requestId });
    const body = parseErrorBody(res.immediate_response?.body);
    assert.equal(body.error.message, 'The request could not be processed.', 'an internal failure shows only the generic message');
    assert.ok(!/ext_authz|metadata|forwarding|namespace/i.test(res.immediate_response!.body!.toString('utf8')));
    assert.equal((await s.end()).code, GrpcStatus.OK);
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.decision, 'error');
    assert.equal(records[0].reason, 'authz_context_missing');
    assert.equal(records[0].http_status, 500);
    // One log line for the failed request, with the operator's hint, and no stack (not a bug in Tollgate).
    const lines = h.logs.filter((l) => l.includes(requestId)).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level !== 'debug');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]?.msg, 'request failed');
    assert.equal(lines[0].code, 'authz_context_missing');
    assert.match(String(lines[0].error), /forwarding_namespaces/);
    assert.equal(lines[0].err, undefined);
    assert.equal(lines[0].decision_id, records[0].decision_id);
  });

  it('ext_authz metadata naming an identity the policy does not know: 500, never a pass', async () => {
    const requestId = newRequestId();
    const forged = stringStruct({ identity: 'mallory', tenant: 'team-a', provider: 'openai', decision_id: 'forged', policy_revision: 'x' });
    const s = h.stream();
    assertImmediate(await s.send(requestHeaders(chatHeaders(h.keys.agent, requestId), { authz: forged })), 500, 'authz_context_invalid');
    await s.end();
    assert.equal((await h.waitForRecords(requestId))[0]?.decision, 'error');
  });

  it('a request line other than the one ext_authz allowed: 500 authz_context_invalid, never a pass', async () => {
    const requestId = newRequestId();
    const authz = await h.authorize(h.keys.agent);
    const s = h.stream();
    const res = await s.send(requestHeaders(chatHeaders(h.keys.agent, requestId, { ':path': '/anthropic/v1/messages' }), { authz }));
    assertImmediate(res, 500, 'authz_context_invalid', { decisionId: contextValue(authz, 'decision_id')!, requestId });
    await s.end();
  });

  const bodyDenials: { name: string; key: () => string; body: () => Buffer; status: number; code: string; rule: string }[] = [
    { name: 'a model the identity may not use', key: () => h.keys.restricted, body: () => Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [] })), status: 403, code: 'model_forbidden', rule: 'identities[restricted-1].allow[0]' },
    { name: 'a model the provider does not serve', key: () => h.keys.agent, body: () => Buffer.from(JSON.stringify({ model: 'o3-pro', messages: [] })), status: 403, code: 'model_forbidden', rule: 'provider.models' },
    { name: 'malformed JSON', key: () => h.keys.agent, body: () => Buffer.from('{"model": "gpt-4o-mini", '), status: 400, code: 'body_malformed', rule: 'request.json' },
    { name: 'a JSON array', key: () => h.keys.agent, body: () => Buffer.from('[{"model":"gpt-4o-mini"}]'), status: 400, code: 'body_malformed', rule: 'request.json' },
    { name: 'an object without model', key: () => h.keys.agent, body: () => Buffer.from('{"messages":[]}'), status: 400, code: 'model_missing', rule: 'request.json' },
    { name: 'a body longer than maxRequestBodyBytes (no content-length)', key: () => h.keys.agent, body: () => Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', pad: 'x'.repeat(LIMIT) })), status: 413, code: 'body_too_large', rule: 'limits.maxRequestBodyBytes' },
  ];

  for (const c of bodyDenials) {
    it(`request_body with ${c.name}: immediate_response ${c.status} ${c.code}`, async () => {
      const requestId = newRequestId();
      const { s, decisionId } = await openChat(c.key(), requestId);
      const body = c.body();
      const res = await s.send(requestBody(body));
      assertImmediate(res, c.status, c.code, { decisionId, requestId });
      assert.equal((await s.end()).code, GrpcStatus.OK);
      const records = await h.waitForRecords(requestId);
      assert.equal(records.length, 1);
      const rec = records[0]!;
      assert.equal(rec.stage, 'proc');
      assert.equal(rec.decision, 'deny');
      assert.equal(rec.outcome, 'denied');
      assert.equal(rec.reason, c.code);
      assert.equal(rec.rule, c.rule);
      assert.equal(rec.http_status, c.status);
      assert.equal(rec.decision_id, decisionId);
      assert.equal(rec.request?.body_hmac, h.app.services.bodyHmac(body));
      assert.equal(rec.response, null);
      assertNoSecrets(rec);
    });
  }

  const headerDenials: { name: string; extra: Record<string, string>; status: number; code: string }[] = [
    { name: 'content-length over maxRequestBodyBytes', extra: { 'content-length': String(LIMIT + 1) }, status: 413, code: 'body_too_large' },
    { name: 'content-type text/plain with a body', extra: { 'content-type': 'text/plain' }, status: 415, code: 'content_type_unsupported' },
    { name: 'no content-type with a body', extra: { 'content-type': '' }, status: 415, code: 'content_type_unsupported' },
    { name: 'a malformed content-length', extra: { 'content-length': '12abc' }, status: 400, code: 'header_malformed' },
  ];

  for (const c of headerDenials) {
    it(`request_headers with ${c.name}: immediate_response ${c.status} ${c.code}, before any body`, async () => {
      const requestId = newRequestId();
      const authz = await h.authorize(h.keys.agent);
      const s = h.stream();
      const headers = chatHeaders(h.keys.agent, requestId, c.extra);
      if (headers['content-type'] === '') delete headers['content-type'];
      const res = await s.send(requestHeaders(headers, { authz }));
      assertImmediate(res, c.status, c.code, { decisionId: contextValue(authz, 'decision_id')!, requestId });
      await s.end();
      const records = await h.waitForRecords(requestId);
      assert.equal(records.length, 1);
      assert.equal(records[0]?.reason, c.code);
      assert.equal(records[0].request, null);
    });
  }

  it('accepts application/json with parameters and a content-length at the limit', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId, { 'content-type': 'Application/JSON; charset=utf-8', 'content-length': String(LIMIT) });
    const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', pad: '' }));
    const padded = Buffer.concat([body.subarray(0, body.length - 2), Buffer.from('x'.repeat(LIMIT - body.length)), body.subarray(body.length - 2)]);
    assert.equal(padded.length, LIMIT);
    assertContinue(await s.send(requestBody(padded)), 'request_body');
    s.cancel();
    await s.ended;
    assert.equal((await h.waitForRecords(requestId))[0]?.outcome, 'cancelled');
  });

  it('Tollgate\'s own ext_authz denial passing through (response_headers first) continues and writes no second record', async () => {
    const before = h.audit.records.length;
    const s = h.stream();
    const rh = await s.send(responseHeaders({ ':status': '401', 'content-type': 'application/json', 'x-tollgate-decision-id': '3b8c2f0e-0000-4000-8000-000000000001' }));
    assertContinue(rh, 'response_headers');
    assert.equal(rh.mode_override, undefined);
    assert.equal(rh.response_headers?.response?.header_mutation, undefined, 'the local reply is not modified');
    assertContinue(await s.send(responseBody('{"error":{"code":"unauthenticated"}}', true)), 'response_body');
    const end = await s.end();
    assert.equal(end.code, GrpcStatus.OK);
    await sleep(50);
    assert.equal(h.audit.records.length, before, 'ext_authz already audited the denial');
  });

  it('a header-only ext_authz denial (end_of_stream on response_headers) also passes with no second record', async () => {
    const before = h.audit.records.length;
    const s = h.stream();
    assertContinue(await s.send(responseHeaders({ ':status': '403', 'x-tollgate-decision-id': '3b8c2f0e-0000-4000-8000-000000000002' }, true)), 'response_headers');
    assert.equal((await s.end()).code, GrpcStatus.OK);
    await sleep(50);
    assert.equal(h.audit.records.length, before);
  });

  it('Envoy\'s own 413 (the body cap, before Tollgate saw the request) becomes Tollgate\'s JSON 413 and one audit record', async () => {
    const before = h.audit.records.length;
    const s = h.stream();
    const res = await s.send(responseHeaders({ ':status': '413', 'content-type': 'text/plain' }));
    assertImmediate(res, 413, 'body_too_large');
    await s.end();
    await sleep(50);
    const added = h.audit.records.slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]?.reason, 'body_too_large');
    assert.equal(added[0].rule, 'envoy.buffer_limit');
    assert.equal(added[0].decision, 'deny');
    assert.equal(added[0].http_status, 413);
  });

  it('another Envoy local reply passes through, tagged with its decision id, and is audited once as proxy_local_reply', async () => {
    const before = h.audit.records.length;
    const s = h.stream();
    const rh = await s.send(responseHeaders({ ':status': '408' }));
    assertContinue(rh, 'response_headers');
    const tagged = headerRaw(rh.response_headers?.response?.header_mutation?.set_headers, 'x-tollgate-decision-id');
    assert.deepEqual(rh.response_headers?.response?.header_mutation?.remove_headers ?? [], [], 'nothing else is changed');
    assertContinue(await s.send(responseBody('request timeout', true)), 'response_body');
    await s.end();
    await sleep(50);
    const added = h.audit.records.slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]?.reason, 'proxy_local_reply');
    assert.equal(added[0].decision_id, tagged, 'the reply names the record');
    assert.equal(added[0].http_status, 408);
    assert.equal(added[0].decision, 'error');
    assert.equal(added[0].authenticated, false, 'nothing vouches for such a stream: any client of the gRPC port can open one');
    assert.equal(added[0].identity, null);
  });

  it('request_body as the first message (request headers skipped) with a sealed context is processed: model checked, credential injected', async () => {
    const authz = await h.authorize(h.keys.restricted);
    const s = h.stream();
    const ok = await s.send(requestBody(Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [] })), { authz }));
    assertContinue(ok, 'request_body');
    assert.equal(headerRaw(ok.request_body?.response?.header_mutation?.set_headers, 'authorization'), `Bearer ${h.providerKey}`);
    await s.end();
    const s2 = h.stream();
    const denied = await s2.send(requestBody(Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [] })), { authz: await h.authorize(h.keys.restricted) }));
    assertImmediate(denied, 403, 'model_forbidden');
    await s2.end();
  });

  it('request_body as the first message without an authz context: 500, no credential, audited as unauthenticated', async () => {
    const before = h.audit.records.length;
    const s = h.stream();
    const res = await s.send(requestBody(CHAT_BODY));
    assertImmediate(res, 500, 'authz_context_missing');
    assert.ok(!JSON.stringify(res).includes(h.providerKey));
    await s.end();
    await sleep(20);
    const added = h.audit.records.slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]?.decision, 'error');
    assert.equal(added[0].authenticated, false);
    assert.equal(added[0].reason, 'authz_context_missing');
  });

  it('protocol violation: a ProcessingRequest with no message set ends the stream with a non-OK status', async () => {
    const before = h.audit.records.length;
    const s = h.stream();
    s.write({});
    const end = await s.ended;
    assert.notEqual(end.code, GrpcStatus.OK);
    assert.equal(end.errored, true);
    await sleep(20);
    const added = h.audit.records.slice(before);
    assert.equal(added.length, 1);
    assert.equal(added[0]?.outcome, 'failed');
  });

  it('protocol violation: a second request_headers ends the stream with a non-OK status', async () => {
    const requestId = newRequestId();
    const { s, authz } = await openChat(h.keys.agent, requestId);
    s.write(requestHeaders(chatHeaders(h.keys.agent, requestId), { authz }));
    await assert.rejects(s.next(), /stream ended/);
    const end = await s.ended;
    assert.notEqual(end.code, GrpcStatus.OK);
    assert.equal(end.errored, true);
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.outcome, 'failed');
    assert.equal(records[0].reason, 'protocol_violation');
  });

  it('protocol violation: a request body that is not BUFFERED (no end_of_stream) fails the stream', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    s.write(requestBody(CHAT_BODY.subarray(0, 10), false));
    await assert.rejects(s.next(), /stream ended/);
    const end = await s.ended;
    assert.notEqual(end.code, GrpcStatus.OK);
    assert.equal(end.errored, true);
    assert.equal((await h.waitForRecords(requestId))[0]?.outcome, 'failed');
  });

  it('protocol violation: a message after the request ended fails the stream but keeps the completed record', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    assertContinue(await s.send(requestBody(CHAT_BODY)), 'request_body');
    assertContinue(await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' })), 'response_headers');
    assertContinue(await s.send(responseBody(CHAT_RESPONSE, true)), 'response_body');
    s.write(responseBody('late', true));
    const end = await s.ended;
    assert.notEqual(end.code, GrpcStatus.OK);
    assert.equal(end.errored, true);
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1, 'still one record per request');
    assert.equal(records[0]?.outcome, 'completed');
  });

  it('trailers are answered with the matching trailers member', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    const res = await s.send({ request_trailers: { trailers: { headers: [] } } });
    assert.equal(res.response, 'request_trailers');
    s.cancel();
    await s.ended;
    assert.equal((await h.waitForRecords(requestId)).length, 1);
  });

  it('client cancel after request_headers: exactly one audit record, outcome cancelled', async () => {
    const requestId = newRequestId();
    const { s, decisionId } = await openChat(h.keys.agent, requestId);
    s.cancel();
    const end = await s.ended;
    assert.equal(end.code, GrpcStatus.CANCELLED);
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.outcome, 'cancelled');
    assert.equal(records[0].decision_id, decisionId);
    assert.equal(records[0].http_status, null);
  });

  it('a reset after the response completed (Envoy ending the side stream) keeps one completed record', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    assertContinue(await s.send(requestBody(CHAT_BODY)), 'request_body');
    assertContinue(await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' })), 'response_headers');
    assertContinue(await s.send(responseBody(CHAT_RESPONSE, true)), 'response_body');
    s.cancel();
    await s.ended;
    await sleep(30);
    const records = h.recordsFor(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.outcome, 'completed');
  });

  it('a stream that ends before the buffered response body arrived is recorded as incomplete, not completed', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    assertContinue(await s.send(requestBody(CHAT_BODY)), 'request_body');
    assertContinue(await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' })), 'response_headers');
    assert.equal((await s.end()).code, GrpcStatus.OK);
    const records = await h.waitForRecords(requestId);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.outcome, 'cancelled');
    assert.equal(records[0].reason, 'response_incomplete');
    assert.equal(records[0].http_status, null, 'the client never got the buffered 200');
  });

  it('a message over the gRPC size cap fails the stream (fail closed) and is still audited once', async () => {
    const requestId = newRequestId();
    const { s } = await openChat(h.keys.agent, requestId);
    // The server accepts max(request, response limit) + 256 KiB of headroom: 512 KiB with the test config.
    s.write(requestBody(Buffer.alloc(600 * 1024, 'a')));
    const end = await s.ended;
    assert.equal(end.code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.equal(end.errored, true);
    assert.equal((await h.waitForRecords(requestId)).length, 1);
  });

  it(
    'audit latency_ms.tollgate includes the time of the phase that ended the request',
    async () => {
      const requestId = newRequestId();
      const s = h.stream();
      assertImmediate(await s.send(requestHeaders(chatHeaders(h.keys.agent, requestId))), 500, 'authz_context_missing');
      await s.end();
      const [rec] = await h.waitForRecords(requestId);
      assert.ok((rec?.latency_ms.tollgate ?? 0) > 0, `tollgate latency ${rec?.latency_ms.tollgate} excludes the denying phase`);
    },
  );

  it('never logs the provider credential, a caller key or prompt text', () => {
    assert.ok(h.logs.length > 0, 'the server logged at debug level');
    const all = h.logs.join('');
    assert.ok(!all.includes(h.providerKey), 'provider credential in the log');
    for (const key of [h.keys.agent, h.keys.restricted, h.keys.noProviders]) assert.ok(!all.includes(key), 'caller key in the log');
    assert.ok(!all.includes(PROMPT_MARKER), 'prompt text in the log');
  });
});
