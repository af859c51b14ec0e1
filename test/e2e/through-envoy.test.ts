// End to end through a real Envoy: Envoy → Tollgate (ext_authz + ext_proc, a separate process) → fake upstream.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import { startStack, eventually, type Stack } from '../helpers/stack.ts';

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

const PROMPT_MARKER = `prompt-marker-${randomBytes(8).toString('hex')}`;

describe('through a real Envoy', () => {
  let stack: Stack;
  /** Every request that reached Envoy: its x-request-id and x-tollgate-decision-id, to check one audit record each. */
  const seen: { requestId: string; decisionId: string | undefined }[] = [];
  const remember = (requestId: unknown, decisionId: unknown): void => {
    if (typeof requestId === 'string') seen.push({ requestId, decisionId: typeof decisionId === 'string' ? decisionId : undefined });
  };
  const recordsOf = (s: { requestId: string; decisionId: string | undefined }) =>
    stack.audit().filter((a) => a.request_id === s.requestId || (s.decisionId !== undefined && a.decision_id === s.decisionId));

  const send = async (path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> => {
    const res = await fetch(stack.url + path, { method: init.method ?? 'POST', headers: init.headers ?? {}, body: init.body ?? null });
    const body = await res.text();
    remember(res.headers.get('x-request-id'), res.headers.get('x-tollgate-decision-id') ?? undefined);
    return { status: res.status, headers: res.headers, body };
  };
  const chat = (key: string | undefined, model: string, extra: Record<string, string> = {}): Promise<Reply> =>
    send('/openai/chat/completions', {
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...extra },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: `hello ${PROMPT_MARKER}` }] }),
    });
  const errorCode = (r: Reply): string => (JSON.parse(r.body) as { error: { code: string } }).error.code;
  /** POST with a chunked body (no content-length), as fetch will not send one. */
  const postChunked = (path: string, headers: Record<string, string>, chunks: string[]): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(stack.url + path, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
        remember(res.headers['x-request-id'], res.headers['x-tollgate-decision-id']);
        let body = '';
        res.on('data', (b: Buffer) => { body += b.toString('utf8'); });
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); });
      });
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });

  before(async () => {
    // The upstream answers model "gpt-4o-huge" with a body larger than Envoy may buffer.
    stack = await startStack({
      respond: (providerKey) => {
        const openai = openAiResponder(providerKey);
        return (req) => (req.body.includes('gpt-4o-huge') ? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(400_000) }) } : openai(req));
      },
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('forwards an allowed request with the provider credential and without the caller key', async () => {
    const before = stack.upstream.requests.length;
    const r = await chat(stack.keys.agent, 'gpt-4o-mini', { cookie: 'session=abc', 'proxy-authorization': 'Basic eHh4', 'x-trace': 'kept' });
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { model: string }).model, 'gpt-4o-mini');
    assert.equal(stack.upstream.requests.length, before + 1);
    const got = stack.upstream.requests.at(-1)!;
    assert.equal(got.path, '/v1/chat/completions', 'prefix /openai/ is rewritten to the upstream base path');
    assert.equal(got.headers.authorization, `Bearer ${stack.providerKey}`);
    assert.equal(got.headers.cookie, undefined);
    assert.equal(got.headers['proxy-authorization'], undefined);
    assert.equal(got.headers['x-trace'], undefined, 'headers outside the provider kind\'s allow-list are removed');
    assert.equal(got.headers['x-forwarded-for'], undefined, 'the caller address is not disclosed');
    assert.deepEqual(Object.keys(got.headers).filter((h) => h.startsWith('x-envoy-')), [], 'no x-envoy-* headers reach the provider');
    assert.ok(!JSON.stringify(got.headers).includes(stack.keys.agent), 'the caller key never reaches the provider');
    assert.ok(got.body.toString('utf8').includes(PROMPT_MARKER), 'the body passes unchanged');
  });

  it('strips an Anthropic-style x-api-key caller credential too', async () => {
    const r = await send('/openai/chat/completions', {
      headers: { 'content-type': 'application/json', 'x-api-key': stack.keys.agent },
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    assert.equal(r.status, 200, r.body);
    const got = stack.upstream.requests.at(-1)!;
    assert.equal(got.headers['x-api-key'], undefined);
    assert.equal(got.headers.authorization, `Bearer ${stack.providerKey}`);
  });

  it('injects the credential on a body-less request', async () => {
    const r = await send('/openai/models', { method: 'GET', headers: { authorization: `Bearer ${stack.keys.agent}` } });
    assert.equal(r.status, 200, r.body);
    assert.equal(stack.upstream.requests.at(-1)!.headers.authorization, `Bearer ${stack.providerKey}`);
  });

  const denials: { name: string; call: () => Promise<Reply>; status: number; code: string }[] = [
    { name: 'unknown key', call: () => chat('tg_not-a-real-key', 'gpt-4o-mini'), status: 401, code: 'unauthenticated' },
    { name: 'missing key', call: () => chat(undefined, 'gpt-4o-mini'), status: 401, code: 'unauthenticated' },
    { name: 'identity without this provider', call: () => chat(stack.keys.noProviders, 'gpt-4o-mini'), status: 403, code: 'provider_forbidden' },
    { name: 'unknown provider path', call: () => send('/nope/chat/completions', { headers: { authorization: `Bearer ${stack.keys.agent}` }, body: '{}' }), status: 404, code: 'provider_unknown' },
    { name: 'model the identity may not use', call: () => chat(stack.keys.restricted, 'gpt-4o'), status: 403, code: 'model_forbidden' },
    { name: 'model the provider does not serve', call: () => chat(stack.keys.agent, 'o3-pro'), status: 403, code: 'model_forbidden' },
    {
      name: 'malformed JSON',
      call: () => send('/openai/chat/completions', { headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' }, body: '{"model": "gpt-4o-mini",' }),
      status: 400,
      code: 'body_malformed',
    },
    {
      name: 'JSON without a model',
      call: () => send('/openai/chat/completions', { headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' }, body: '{"messages":[]}' }),
      status: 400,
      code: 'model_missing',
    },
    {
      name: 'a non-JSON body',
      call: () => send('/openai/chat/completions', { headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'text/plain' }, body: 'hi' }),
      status: 415,
      code: 'content_type_unsupported',
    },
    {
      name: 'a body over maxRequestBodyBytes (content-length)',
      call: () => send('/openai/chat/completions', {
        headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', pad: 'x'.repeat(100 * 1024) }),
      }),
      status: 413,
      code: 'body_too_large',
    },
  ];
  for (const d of denials) {
    it(`denies ${d.name} with ${d.status} and a JSON error, and the upstream receives nothing`, async () => {
      const before = stack.upstream.requests.length;
      const r = await d.call();
      assert.equal(r.status, d.status, r.body);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(errorCode(r), d.code);
      assert.match(r.headers.get('x-tollgate-decision-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(stack.upstream.requests.length, before);
    });
  }

  it('normalises paths before routing, so dot segments cannot leave the provider prefix', async () => {
    const before = stack.upstream.requests.length;
    const r = await fetch(`${stack.url}/openai/../secret/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini"}' });
    assert.equal(r.status, 404);
    assert.equal(errorCode({ status: r.status, headers: r.headers, body: await r.text() }), 'provider_unknown');
    const escaped = await fetch(`${stack.url}/openai/..%2Fsecret/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.agent}` }, body: '{}' });
    assert.equal(escaped.status, 400, 'escaped slashes are rejected');
    assert.equal(stack.upstream.requests.length, before);
  });

  it('rejects header names with underscores (x_api_key would dodge credential stripping)', async () => {
    const before = stack.upstream.requests.length;
    // Envoy refuses the request itself; the client gets its 400 (ext_proc does not swallow codec errors).
    const r = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json', x_api_key: stack.keys.agent },
      body: '{"model":"gpt-4o-mini"}',
    });
    assert.equal(r.status, 400);
    assert.equal(stack.upstream.requests.length, before);
  });
  it('denies a chunked body over the limit (no content-length) with 413', async () => {
    const before = stack.upstream.requests.length;
    const auth = { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' };
    const r = await postChunked('/openai/chat/completions', auth, ['{"model":"gpt-4o-mini","pad":"', 'z'.repeat(100 * 1024), '"}']);
    assert.equal(r.status, 413);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'body_too_large', 'between Tollgate\'s limit and Envoy\'s buffer, Tollgate answers');
    assert.equal(stack.upstream.requests.length, before);
  });

  it('denies a chunked body past Envoy\'s buffer with Envoy\'s 413, audited once, and the upstream receives nothing', async () => {
    const before = stack.upstream.requests.length;
    // Past Envoy's buffer limit (the larger of the two body limits, 256 KiB here): Envoy replies itself.
    const { status } = await postChunked('/openai/chat/completions', { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
      ['{"model":"gpt-4o-mini","pad":"', ...Array.from({ length: 30 }, () => 'y'.repeat(10 * 1024)), '"}']);
    assert.equal(status, 413);
    assert.equal(stack.upstream.requests.length, before);
    const last = seen.at(-1)!;
    await eventually(() => recordsOf(last).length > 0);
    const rec = recordsOf(last)[0];
    assert.equal(rec?.reason, 'body_too_large');
    assert.equal(rec.rule, 'envoy.buffer_limit');
    assert.equal(rec.decision, 'deny');
  });

  it('streams an SSE response through', async () => {
    const r = await send('/openai/chat/completions', {
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [] }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    assert.match(r.body, /data: \[DONE\]/);
    await eventually(() => recordsOf(seen.at(-1)!).some((a) => a.response?.streamed === true));
  });

  it('writes exactly one audit record per request, with no secrets or prompt text', async () => {
    await eventually(() => seen.every((s) => recordsOf(s).length > 0));
    const records = stack.audit();
    for (const s of seen) {
      const mine = recordsOf(s);
      assert.equal(mine.length, 1, `request ${s.requestId} has ${mine.length} audit records`);
    }
    assert.ok(seen.length >= 15, `${seen.length} requests checked`);
    const allowed = records.find((a) => a.model === 'gpt-4o-mini' && a.decision === 'allow' && a.response?.streamed === false && a.path === '/openai/chat/completions');
    assert.ok(allowed, 'an allowed record exists');
    assert.equal(allowed.schema, 'tollgate.audit.v3');
    assert.equal(allowed.identity, 'agent-1');
    assert.equal(allowed.tenant, 'team-a');
    assert.equal(allowed.http_status, 200);
    assert.ok(allowed.usage !== null && allowed.usage.total_tokens > 0);
    const denied = records.find((a) => a.reason === 'unauthenticated');
    assert.equal(denied?.stage, 'authz');
  });

  it('fails a response larger than Envoy may buffer with 500, audited as incomplete', async () => {
    const r = await chat(stack.keys.agent, 'gpt-4o-huge');
    assert.equal(r.status, 500);
    assert.ok(!r.body.includes('xxxx'), 'none of the oversized body reaches the client');
    const last = seen.at(-1)!;
    await eventually(() => recordsOf(last).length > 0);
    const [rec] = recordsOf(last);
    assert.equal(rec?.outcome, 'cancelled');
    assert.equal(rec.reason, 'response_incomplete');
    assert.equal(rec.http_status, null, 'the upstream 200 is not recorded as what the client got');
  });

  it('serves a few thousand requests back to back without one failing (no HTTP/2 reset-rate trip)', async () => {
    // Envoy resets each ext_proc stream by default; past nghttp2's reset budget (a burst of 1000, then
    // 33/s) Tollgate's HTTP/2 server would drop the connection and every request in flight on it.
    const statuses = new Map<number, number>();
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [] });
    const one = async (): Promise<void> => {
      const r = await fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' }, body });
      await r.arrayBuffer();
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    };
    for (let i = 0; i < 2500; i += 8) await Promise.all(Array.from({ length: 8 }, one));
    assert.deepEqual([...statuses], [[200, 2504]]);
  });

  it('records a request the client abandons as cancelled', async () => {
    // The upstream for this model answers slowly; the client gives up first.
    const controller = new AbortController();
    const pending = fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-slow', messages: [] }),
      signal: controller.signal,
    });
    setTimeout(() => { controller.abort(); }, 300);
    await assert.rejects(pending);
    await eventually(() => stack.audit().some((a) => a.model === 'gpt-4o-slow'));
    const rec = stack.audit().filter((a) => a.model === 'gpt-4o-slow');
    assert.equal(rec.length, 1);
    assert.equal(rec[0]?.outcome, 'cancelled');
  });

  it('never writes a caller key, the provider credential or the prompt to logs or audit', () => {
    const secrets = [stack.keys.agent, stack.keys.restricted, stack.keys.noProviders, stack.providerKey, PROMPT_MARKER];
    const outputs = { tollgate: stack.tollgate.output(), audit: stack.audit().map((a) => JSON.stringify(a)).join('\n'), envoy: stack.envoy.output() };
    assert.ok(outputs.tollgate.includes('"request finished"'), 'debug logging was on, so there was something to leak');
    for (const [where, text] of Object.entries(outputs)) {
      for (const s of secrets) assert.ok(!text.includes(s), `${where} output contains a planted secret or prompt`);
    }
  });

  it('fails closed when Tollgate is down: an error status, and the upstream receives nothing', async () => {
    const code = await stack.tollgate.stop();
    assert.equal(code, 0, 'tollgate exits 0 on SIGTERM');
    const before = stack.upstream.requests.length;
    for (const key of [stack.keys.agent, 'tg_bogus']) {
      const r = await chat(key, 'gpt-4o-mini');
      assert.equal(r.status, 503, 'both filters answer 503 (status_on_error) when Tollgate is unreachable');
    }
    assert.equal(stack.upstream.requests.length, before);
  });
});
