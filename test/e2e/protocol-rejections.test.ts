// Requests Envoy's HTTP/1 codec rejects by itself, through the real Envoy + Tollgate stack. Envoy
// sends its own status and closes the connection. ext_proc must not sit on that reply's path: it
// would pause the reply to ask Tollgate, the connection would close meanwhile, and the client would
// get nothing while Tollgate audits a status nobody received (issue 5). The template therefore runs
// ext_proc only on routed requests (envoy/README.md). Replies Envoy makes before routing (paths it will
// not normalise, CONNECT) never reach Tollgate either, and are pinned here as not audited (issue 12, L1).
import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { type Stack, startStack } from '../helpers/stack.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';

/** A request that would be allowed if Envoy let it through: a valid key, an allowed model. */
function request(key: string, opts: { version?: string; extraHeaders?: string[]; framing?: string[]; body?: string } = {}): string {
  return [
    `POST /openai/v1/chat/completions ${opts.version ?? 'HTTP/1.1'}`,
    'host: tollgate.test',
    `authorization: Bearer ${key}`,
    'content-type: application/json',
    ...(opts.extraHeaders ?? []),
    ...(opts.framing ?? [`content-length: ${Buffer.byteLength(BODY)}`]),
    '',
    opts.body ?? BODY,
  ].join('\r\n');
}

interface Case {
  readonly name: string;
  readonly build: (key: string) => string;
  readonly status: number;
}

const CASES: readonly Case[] = [
  { name: 'HTTP/1.0', build: (k) => request(k, { version: 'HTTP/1.0' }), status: 426 },
  { name: 'a 100 KB header', build: (k) => request(k, { extraHeaders: [`x-pad: ${'a'.repeat(100 * 1024)}`] }), status: 431 },
  { name: 'over 100 headers', build: (k) => request(k, { extraHeaders: Array.from({ length: 101 }, (_, i) => `x-h${i}: v`) }), status: 431 },
  {
    name: 'content-length and transfer-encoding',
    build: (k) => request(k, {
      framing: [`content-length: ${Buffer.byteLength(BODY)}`, 'transfer-encoding: chunked'],
      body: `${Buffer.byteLength(BODY).toString(16)}\r\n${BODY}\r\n0\r\n\r\n`,
    }),
    status: 400,
  },
  {
    name: 'two different content-lengths',
    build: (k) => request(k, { framing: [`content-length: ${Buffer.byteLength(BODY)}`, `content-length: ${Buffer.byteLength(BODY) + 1}`] }),
    status: 400,
  },
  { name: 'a header name with an underscore', build: (k) => request(k, { extraHeaders: [`x_api_key: ${k}`] }), status: 400 },
];

/** Paths the connection manager refuses to normalise: 400 `path_normalization_failed`, before any route is picked. */
const UNNORMALISABLE = [
  ['an encoded slash', '/openai/v1/models%2Fgpt-4o-mini'],
  ['an encoded backslash', '/openai/v1/models%5Cgpt-4o-mini'],
  ['an encoded NUL', '/openai/v1/models%00'],
] as const;

/** An HTTP/2 CONNECT that ends its stream at once: no route matches a CONNECT, so Envoy answers 404 itself. */
function h2Connect(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`http://127.0.0.1:${port}`);
    session.on('error', (err: Error) => { reject(err); });
    const req = session.request({ ':method': 'CONNECT', ':authority': 'api.openai.com:443' }, { endStream: true });
    req.on('response', (h) => { resolve(h[':status']); session.close(); });
    req.on('error', (err: Error) => { session.close(); reject(err); });
  });
}

/** An Envoy counter from its admin API. (The access log is flushed only every 10 s, too late to wait for.) */
async function envoyCounter(stack: Stack, name: string): Promise<number> {
  const pattern = `^${name.replaceAll('.', '\\.')}`;
  const text = await (await fetch(`${stack.envoy.adminUrl}/stats?filter=${encodeURIComponent(`${pattern}$`)}`)).text();
  const m = new RegExp(`${pattern}: (\\d+)$`, 'm').exec(text);
  if (m?.[1] === undefined) throw new Error(`no counter ${name} in ${text}`);
  return Number(m[1]);
}
const PROTOCOL_ERRORS = 'http.egress.downstream_cx_protocol_error';
const EXT_PROC_STREAMS = 'http.egress.ext_proc.streams_started';

describe('Envoy\'s own protocol rejections reach the client (real Envoy + Tollgate)', () => {
  let stack: Stack;
  before(async () => { stack = await startStack(); });
  after(async () => { await stack.stop(); });

  for (const c of CASES) {
    it(`${c.name}: the client gets Envoy's ${c.status}, the upstream nothing, and no audit record says otherwise`, async () => {
      const upstreamBefore = stack.upstream.requests.length;
      const auditBefore = stack.audit().length;
      const protocolErrorsBefore = await envoyCounter(stack, PROTOCOL_ERRORS);
      const streamsBefore = await envoyCounter(stack, EXT_PROC_STREAMS);

      const r: RawResponse = await rawRequest(stack.envoy.listenerPort, c.build(stack.keys.agent));

      assert.equal(r.status, c.status, `status line ${JSON.stringify(r.statusLine)}, ${r.bytes} bytes, ended: ${r.ended}`);
      assert.equal(r.headers.get('connection'), 'close', 'Envoy closes the connection after a codec error');
      assert.equal(r.headers.has('x-tollgate-decision-id'), false, 'the reply is Envoy\'s own, untouched by Tollgate');
      // It was Envoy's codec that refused the request, and it did not open an ext_proc stream for it.
      assert.equal(await envoyCounter(stack, PROTOCOL_ERRORS), protocolErrorsBefore + 1);
      assert.equal(await envoyCounter(stack, EXT_PROC_STREAMS), streamsBefore);
      // Give a (wrongly) invoked processor time to write its record before reading the audit.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(stack.upstream.requests.length, upstreamBefore, 'nothing reached the upstream');
      for (const rec of stack.audit().slice(auditBefore)) {
        assert.equal(rec.http_status, c.status, `an audit record for this rejection must carry the status the client got: ${JSON.stringify(rec)}`);
      }
    });
  }

  // Replies Envoy makes before routing never reach Tollgate (ext_authz runs only on a route, ext_proc only
  // where a route enables it), so they are not audited; docs/security-model.md lists them.
  const beforeRouting = async (send: () => Promise<number | undefined>, status: number): Promise<void> => {
    const upstreamBefore = stack.upstream.requests.length;
    const auditBefore = stack.audit().length;
    const streamsBefore = await envoyCounter(stack, EXT_PROC_STREAMS);
    const checksBefore = await envoyCounter(stack, 'http.egress.ext_authz.ok') + await envoyCounter(stack, 'http.egress.ext_authz.denied');
    assert.equal(await send(), status);
    assert.equal(await envoyCounter(stack, EXT_PROC_STREAMS), streamsBefore, 'no ext_proc stream');
    assert.equal(await envoyCounter(stack, 'http.egress.ext_authz.ok') + await envoyCounter(stack, 'http.egress.ext_authz.denied'), checksBefore, 'no Check');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(stack.upstream.requests.length, upstreamBefore, 'nothing reached the upstream');
    assert.equal(stack.audit().length, auditBefore, 'Tollgate never saw it, so there is no record');
  };

  for (const [name, path] of UNNORMALISABLE) {
    it(`a path with ${name}: Envoy's 400 before routing; no Check, no ext_proc stream, no audit record (documented as not audited)`, async () => {
      await beforeRouting(async () => (await rawRequest(stack.envoy.listenerPort, `GET ${path} HTTP/1.1\r\nhost: tollgate.test\r\nauthorization: Bearer ${stack.keys.agent}\r\n\r\n`)).status, 400);
    });
  }

  it('CONNECT: Envoy\'s 404 (no route matches it); no Check, no ext_proc stream, no audit record (documented as not audited)', async () => {
    await beforeRouting(() => h2Connect(stack.envoy.listenerPort), 404);
  });

  // ext_proc is off by default in the template and switched on by the virtual host: these prove it still
  // runs on every routed request, including Envoy's own replies after routing.
  it('ext_proc still runs on routed requests: an allowed request goes through with the provider key and is audited by ext_proc', async () => {
    const r = await fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' }, body: BODY });
    assert.equal(r.status, 200, await r.text());
    assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${stack.providerKey}`, 'ext_proc injected the provider credential');
    const requestId = r.headers.get('x-request-id');
    const rec = await awaitRecord(stack, requestId);
    assert.equal(rec.stage, 'proc');
    assert.equal(rec.identity, 'agent-1');
    assert.equal(rec.http_status, 200);
  });

  it('ext_proc still runs on routed requests: a forbidden model is denied by its body check, and nothing goes upstream', async () => {
    const before = stack.upstream.requests.length;
    const r = await fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.restricted}`, 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[]}' });
    assert.equal(r.status, 403);
    assert.equal((JSON.parse(await r.text()) as { error: { code: string } }).error.code, 'model_forbidden');
    assert.equal(stack.upstream.requests.length, before);
  });

  it('ext_proc still sees Envoy\'s replies after routing: the body cap\'s 413 becomes Tollgate\'s JSON error', async () => {
    const before = stack.upstream.requests.length;
    const big = `{"model":"gpt-4o-mini","pad":"${'z'.repeat(300 * 1024)}"}`; // over Envoy's 256 KiB buffer here
    const r = await rawRequest(stack.envoy.listenerPort, request(stack.keys.agent, { framing: [`content-length: ${big.length}`], body: big }));
    assert.equal(r.status, 413, r.statusLine);
    assert.match(r.headers.get('x-tollgate-decision-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal((JSON.parse(r.body.toString('utf8')) as { error: { code: string } }).error.code, 'body_too_large');
    assert.equal(stack.upstream.requests.length, before);
  });
});
