// Tracing: off by default (schema and hooks), W3C traceparent parsing (valid and invalid tables), and
// the span tree of one ext_proc stream with an in-memory exporter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import { parentFromHeaders, initTracing, traceCheck, traceStream, tracingEnabled, type TraceFacts } from '../../extproc/telemetry/tracing.ts';
import { testConfig } from '../helpers/config.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('telemetry.tracing config', () => {
  it('is off by default, with a loopback endpoint and full sampling', () => {
    const cfg = testConfig({ version: 1, providers: [{ name: 'openai', kind: 'openai', upstream: 'http://127.0.0.1:9/v1', models: ['gpt-4o-mini'], credential: { source: 'none' } }], identities: [{ id: 'a', apiKeyHashes: [hashApiKey(mintApiKey())], allow: [] }] });
    assert.deepEqual(cfg.telemetry.tracing, { enabled: false, endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 1, serviceName: 'tollgate' });
  });
  it('refuses a non-http endpoint and a ratio above 1', () => {
    const base = { version: 1, providers: [{ name: 'openai', kind: 'openai', upstream: 'http://127.0.0.1:9/v1', models: ['gpt-4o-mini'], credential: { source: 'none' } }], identities: [] } as const;
    for (const tracing of [{ endpoint: 'ftp://x/v1/traces' }, { sampleRatio: 1.5 }, { enabled: 'yes' }]) {
      assert.throws(() => testConfig({ ...base, telemetry: { tracing } } as never), /telemetry/);
    }
  });
  it('hooks are no-ops while tracing is off', () => {
    assert.equal(tracingEnabled(), false);
    assert.equal(traceStream(), traceStream(), 'one shared no-op');
    traceCheck({ traceparent: `00-${TRACE}-${SPAN}-01` }).end({ decision: 'allow', reason: 'none', provider: 'p', identity: 'i', decisionId: 'd' });
  });
});

describe('parentFromHeaders', () => {
  const parent = (h: Record<string, string>) => trace.getSpanContext(parentFromHeaders((n) => h[n]));
  const valid: readonly [string, string, number][] = [
    [`00-${TRACE}-${SPAN}-01`, 'sampled', 1],
    [`00-${TRACE}-${SPAN}-00`, 'not sampled', 0],
    [`00-${TRACE.toUpperCase()}-${SPAN}-01`, 'upper case', 1],
    [`01-${TRACE}-${SPAN}-03-future`, 'a future version with more fields', 1],
  ];
  for (const [tp, what, flags] of valid) {
    it(`accepts ${what}`, () => {
      const sc = parent({ traceparent: tp });
      assert.deepEqual([sc?.traceId, sc?.spanId, sc?.traceFlags, sc?.isRemote], [TRACE, SPAN, flags, true]);
    });
  }
  const invalid: readonly [string | undefined, string][] = [
    [undefined, 'absent'],
    ['', 'empty'],
    [`ff-${TRACE}-${SPAN}-01`, 'version ff'],
    [`00-${'0'.repeat(32)}-${SPAN}-01`, 'all-zero trace id'],
    [`00-${TRACE}-${'0'.repeat(16)}-01`, 'all-zero span id'],
    [`00-${TRACE}-${SPAN}-01-extra`, 'version 00 with extra fields'],
    [`00-${TRACE.slice(1)}-${SPAN}-01`, 'short trace id'],
    ['garbage', 'garbage'],
  ];
  for (const [tp, what] of invalid) {
    it(`ignores ${what}`, () => {
      assert.equal(parent(tp === undefined ? {} : { traceparent: tp }), undefined);
    });
  }
});

describe('one ext_proc stream, traced', () => {
  it('stream span under the caller, a span per message under it, the model call with GenAI attributes and usage', async () => {
    const spans: ReadableSpan[] = [];
    const exporter: SpanExporter = {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- ExportResultCode.SUCCESS is 0; the enum lives in @opentelemetry/core, not a direct dependency.
      export: (batch, done) => { spans.push(...batch); done({ code: 0 }); },
      shutdown: () => Promise.resolve(),
    };
    const handle = initTracing({ enabled: true, endpoint: 'http://127.0.0.1:9/v1/traces', sampleRatio: 1, serviceName: 't' }, { exporter, scheduledDelayMs: 10 });
    assert.ok(handle !== undefined);
    try {
      const t = traceStream();
      const headers = new Map([['traceparent', `00-${TRACE}-${SPAN}-01`]]);
      const usage: { reported: { inputTokens: number; outputTokens: number } | undefined } = { reported: undefined };
      const response: { status: number | undefined; incomplete: boolean } = { status: undefined, incomplete: false };
      const facts: { -readonly [K in keyof TraceFacts]: TraceFacts[K] } = {
        decisionId: 'dec-1', requestId: 'req-1', route: { provider: { name: 'openai', config: { kind: 'openai' } }, model: 'gpt-4o-mini', translator: { operation: 'chat' } },
        usage, response, denial: undefined, position: 'request_body',
      };
      t.message('request_headers', headers);
      t.messageDone(facts);
      t.message('request_body', new Map());
      facts.position = 'upstream';
      t.messageDone(facts);
      t.message('response_headers', new Map());
      facts.position = 'response_body';
      response.status = 200;
      t.messageDone(facts);
      usage.reported = { inputTokens: 12, outputTokens: 8 };
      facts.position = 'done';
      t.end(facts, 'ended');
      t.end(facts, 'ended');
      await handle.shutdown();
      const byName = new Map(spans.map((s) => [s.name, s]));
      assert.deepEqual([...byName.keys()].sort(), ['chat gpt-4o-mini', 'tollgate.ext_proc', 'tollgate.ext_proc.request_body', 'tollgate.ext_proc.request_headers', 'tollgate.ext_proc.response_headers']);
      const stream = byName.get('tollgate.ext_proc');
      assert.equal(stream?.parentSpanContext?.spanId, SPAN);
      assert.equal(stream.spanContext().traceId, TRACE);
      for (const [name, s] of byName) if (name !== 'tollgate.ext_proc') assert.equal(s.parentSpanContext?.spanId, stream.spanContext().spanId, name);
      assert.deepEqual(byName.get('chat gpt-4o-mini')?.attributes, {
        'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'tollgate.provider': 'openai',
        'gen_ai.usage.input_tokens': 12, 'gen_ai.usage.output_tokens': 8, 'http.response.status_code': 200,
      });
      assert.equal(stream.attributes['tollgate.outcome'], 'completed');
    } finally {
      await handle.shutdown();
    }
    assert.equal(tracingEnabled(), false, 'shutdown uninstalls the tracer');
  });
});
