// The ext_proc bidi loop (processing/stream-handler.ts) over a real Session: a message the Session can answer
// without waiting is answered inside Envoy's 'data' event (no Promise, no later tick), one that waits holds the
// messages behind it in order, and the stream ends once every answer is written.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../extproc/processing/session.ts';
import { createProcessHandler, type ProcessCall } from '../../extproc/processing/stream-handler.ts';
import type { ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { answeredNow, chatBody, chatHeaders, phaseFixture, requestBodyMsg, requestHeadersMsg, responseBodyMsg, responseHeadersMsg, type PhaseFixture } from '../helpers/phase-fixtures.ts';

/** A stand-in for grpc-js's duplex call: records what is written and whether the stream was ended. */
class FakeCall extends EventEmitter {
  readonly written: ProcessingResponse[] = [];
  ended = false;
  cancelled = false;
  destroyed = false;
  write(r: ProcessingResponse): boolean {
    this.written.push(r);
    return true;
  }
  end(): void {
    this.ended = true;
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ext_proc stream handler: synchronous where nothing waits', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  it('answers the response messages inside the data event, and keeps order behind a message that waits', async () => {
    const call = new FakeCall();
    createProcessHandler(f.services)(call as unknown as ProcessCall);
    const body = chatBody();
    const send = (m: ProcessingRequest): void => { call.emit('data', m); };
    // The request headers wait for the single-use claim of the sealed context; the body queues behind them.
    send(requestHeadersMsg(chatHeaders(body, { 'x-request-id': 'r-sync-1' }), { context: f.seal() }));
    send(requestBodyMsg(body));
    assert.equal(call.written.length, 0, 'the request headers wait for the state store');
    await settle();
    assert.deepEqual(call.written.map((r) => Object.keys(r)[0]), ['request_headers', 'request_body'], 'answers in message order');
    send(responseHeadersMsg({ ':status': '200', 'content-type': 'application/json' }));
    assert.equal(call.written.length, 3, 'the response headers are answered within the data event');
    send(responseBodyMsg('{"id":"x","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}', true));
    assert.equal(call.written.length, 4, 'the response body is answered within the data event');
    call.emit('end');
    assert.equal(call.ended, true, 'the stream ends at once when nothing is pending');
    assert.deepEqual(f.records().filter((r) => r.request_id === 'r-sync-1').map((r) => r.outcome), ['completed'], 'one record, completed');
  });

  it('Session.handle gives the response answers without a Promise once the request went upstream', async () => {
    const s = new Session(f.services);
    const body = chatBody();
    await s.handle(requestHeadersMsg(chatHeaders(body), { context: f.seal() }));
    await s.handle(requestBodyMsg(body));
    const headers = answeredNow(s.handle(responseHeadersMsg({ ':status': '200', 'content-type': 'application/json' })));
    assert.ok(headers.response_headers !== undefined);
    const end = answeredNow(s.handle(responseBodyMsg('{}', true)));
    assert.ok(end.response_body !== undefined);
    s.close('ended');
    const rec = f.records().find((r) => r.decision_id === s.request.decisionId);
    assert.equal(rec?.outcome, 'completed');
  });
});
