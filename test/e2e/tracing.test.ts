// OpenTelemetry through a real Envoy: a request carrying a W3C traceparent yields one trace in an
// in-process OTLP/HTTP receiver, with the ext_authz Check and the ext_proc stream as children of the
// caller's span, one span per ext_proc phase under the stream, and a GenAI model-call span with the
// semantic-convention attributes; nothing sensitive is exported.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts';

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const ERROR = 2;
const PROMPT_MARKER = `trace-prompt-${randomBytes(8).toString('hex')}`;

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

describe('OpenTelemetry traces through a real Envoy', () => {
  let receiver: OtlpReceiver;
  let stack: Stack;

  const waitForSpans = async (traceId: string, names: readonly string[]): Promise<ReceivedSpan[]> => {
    const end = Date.now() + 15_000;
    for (;;) {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      if (names.every((n) => spans.some((s) => s.name === n))) return spans;
      if (Date.now() > end) assert.fail(`trace ${traceId}: got ${JSON.stringify(spans.map((s) => s.name))}, want ${JSON.stringify(names)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const one = (spans: readonly ReceivedSpan[], name: string): ReceivedSpan => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `${name}: ${found.length} spans`);
    return found[0] as ReceivedSpan;
  };

  before(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      tweak: (c) => ({ ...c, telemetry: { tracing: { enabled: true, endpoint: receiver.url, sampleRatio: 1, serviceName: 'tollgate-e2e' } } }),
    });
  });
  after(async () => {
    await stack.stop();
    await receiver.close();
  });

  it('an allowed chat request: Check and ext_proc under the caller span, a span per phase, a GenAI model-call span', async () => {
    const tp = traceparent();
    const res = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json', traceparent: tp.header },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${PROMPT_MARKER}` }] }),
    });
    assert.equal(res.status, 200);
    const usage = ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const phases = ['request_headers', 'request_body', 'response_headers', 'response_body'].map((p) => `tollgate.ext_proc.${p}`);
    const spans = await waitForSpans(tp.traceId, ['tollgate.ext_authz.check', 'tollgate.ext_proc', 'chat gpt-4o-mini', ...phases]);

    const check = one(spans, 'tollgate.ext_authz.check');
    const proc = one(spans, 'tollgate.ext_proc');
    const model = one(spans, 'chat gpt-4o-mini');
    assert.deepEqual([check.parentSpanId, check.kind, check.attributes['tollgate.decision'], check.attributes['tollgate.identity']], [tp.spanId, SERVER, 'allow', 'agent-1']);
    assert.deepEqual([proc.parentSpanId, proc.kind, proc.attributes['tollgate.outcome'], proc.attributes['http.response.status_code']], [tp.spanId, SERVER, 'completed', 200]);
    assert.equal(proc.attributes['tollgate.request_id'], res.headers.get('x-request-id'));
    for (const name of phases) {
      const p = one(spans, name);
      assert.deepEqual([p.parentSpanId, p.kind], [proc.spanId, INTERNAL], name);
    }
    assert.deepEqual([model.parentSpanId, model.kind], [proc.spanId, CLIENT]);
    assert.deepEqual(
      ['gen_ai.system', 'gen_ai.operation.name', 'gen_ai.request.model', 'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens'].map((k) => model.attributes[k]),
      ['openai', 'chat', 'gpt-4o-mini', usage.prompt_tokens, usage.completion_tokens],
    );
    assert.equal(check.resource['service.name'], 'tollgate-e2e');
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'span ids are unique');
  });

  it('denials: ext_authz (unknown key) marks the Check span; ext_proc (model not allowed) marks the stream span; no model call', async () => {
    const send = async (key: string, model: string, tp: string): Promise<number> => {
      const res = await fetch(`${stack.url}/openai/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', traceparent: tp },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const a = traceparent();
    assert.equal(await send(`tg_${randomBytes(24).toString('base64url')}`, 'gpt-4o-mini', a.header), 401);
    const b = traceparent();
    assert.equal(await send(stack.keys.restricted, 'gpt-4o', b.header), 403);
    const checkA = one(await waitForSpans(a.traceId, ['tollgate.ext_authz.check']), 'tollgate.ext_authz.check');
    assert.deepEqual([checkA.parentSpanId, checkA.attributes['tollgate.decision'], checkA.attributes['tollgate.reason'], checkA.statusCode], [a.spanId, 'deny', 'unauthenticated', ERROR]);
    const spansB = await waitForSpans(b.traceId, ['tollgate.ext_authz.check', 'tollgate.ext_proc']);
    const procB = one(spansB, 'tollgate.ext_proc');
    assert.deepEqual([procB.attributes['tollgate.outcome'], procB.attributes['tollgate.reason'], procB.statusCode], ['denied', 'model_forbidden', ERROR]);
    assert.equal(spansB.some((s) => s.kind === CLIENT), false, 'no model call was made');
  });

  it('a request without traceparent still gets spans, as a new trace of its own', async () => {
    const before = receiver.spans.length;
    const res = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'untraced' }] }),
    });
    await res.arrayBuffer();
    const rid = res.headers.get('x-request-id');
    const end = Date.now() + 15_000;
    let proc: ReceivedSpan | undefined;
    while (proc === undefined && Date.now() < end) {
      proc = receiver.spans.slice(before).find((s) => s.name === 'tollgate.ext_proc' && s.attributes['tollgate.request_id'] === rid);
      if (proc === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(proc !== undefined);
    assert.equal(proc.parentSpanId, '');
  });

  it('nothing exported carries the prompt, the caller key or the provider key', () => {
    assert.ok(receiver.bodies.length > 0);
    for (const body of receiver.bodies) {
      for (const secret of [PROMPT_MARKER, stack.keys.agent, stack.keys.restricted, stack.providerKey]) assert.equal(body.includes(secret), false);
    }
  });
});
