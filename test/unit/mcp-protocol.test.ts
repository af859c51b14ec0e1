// MCP protocol reading (extproc/mcp/): JSON-RPC messages, protocol versions, 2026-07-28 header/body consistency,
// name patterns, list filtering and JSON-RPC denials. Table-driven; each table has refusals next to acceptances.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TollgateError, type ErrorCode } from '../../extproc/errors.ts';
import { checkMirroredHeaders, decodeHeaderValue, paramBindings, unverifiedMirrorHeaders } from '../../extproc/mcp/headers.ts';
import { jsonRpcDenialReply } from '../../extproc/mcp/jsonrpc-error.ts';
import { filterListAnswer } from '../../extproc/mcp/lists.ts';
import { compileNamePatterns } from '../../extproc/mcp/name-glob.ts';
import { isBatch, McpProtocolError, protocolVersionOf, readMessage } from '../../extproc/mcp/protocol.ts';
import { readMcpRequest } from '../../extproc/mcp/request.ts';
import { checkMcp, compileMcpGrant, mayUse } from '../../extproc/policy/mcp-rules.ts';
import type { JsonObject } from '../../extproc/providers/index.ts';

const b64 = (s: string): string => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;
const call = (name: string, args: JsonObject = {}): JsonObject => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
const kind = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof McpProtocolError) return err.kind;
    if (err instanceof TollgateError) return err.code;
    throw err;
  }
  return 'ok';
};

describe('JSON-RPC messages', () => {
  const table: readonly [string, JsonObject, string, Partial<ReturnType<typeof readMessage>>?][] = [
    ['a request', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'ok', { kind: 'request', id: 1, method: 'tools/list', name: undefined }],
    ['a string id', { jsonrpc: '2.0', id: 'a', method: 'ping' }, 'ok', { kind: 'request', id: 'a' }],
    ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }, 'ok', { kind: 'notification', id: undefined }],
    ['a response to a server request', { jsonrpc: '2.0', id: 3, result: { roots: [] } }, 'ok', { kind: 'response', method: undefined }],
    ['tools/call names its tool', call('echo', { a: 1 }), 'ok', { target: 'tool', name: 'echo', arguments: { a: 1 } }],
    ['resources/read names its URI', { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'file:///a' } }, 'ok', { target: 'resource', name: 'file:///a' }],
    ['prompts/get names its prompt', { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'p' } }, 'ok', { target: 'prompt', name: 'p' }],
    ['completion/complete names its reference', { jsonrpc: '2.0', id: 1, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a', value: '' } } }, 'ok', { target: 'prompt', name: 'p' }],
    ['initialize states its version in the body', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18' } }, 'ok', { bodyVersion: '2025-06-18' }],
    ['2026-07-28 states its version in _meta', { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }, 'ok', { bodyVersion: '2026-07-28' }],
    ['JSON-RPC 1.0', { jsonrpc: '1.0', id: 1, method: 'ping' }, 'invalid'],
    ['no jsonrpc member', { id: 1, method: 'ping' }, 'invalid'],
    ['params an array', { jsonrpc: '2.0', id: 1, method: 'ping', params: [] }, 'invalid'],
    ['an id that is an object', { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }, 'invalid'],
    ['a fractional id', { jsonrpc: '2.0', id: 1.5, method: 'ping' }, 'invalid'],
    ['an empty method', { jsonrpc: '2.0', id: 1, method: '' }, 'invalid'],
    ['a request carrying a result', { jsonrpc: '2.0', id: 1, method: 'ping', result: {} }, 'invalid'],
    ['a response with result and error', { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'x' } }, 'invalid'],
    ['a response without an id', { jsonrpc: '2.0', result: {} }, 'invalid'],
    ['tools/call without a name', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }, 'invalid'],
    ['tools/call with a numeric name', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 3 } }, 'invalid'],
    ['tools/call with array arguments', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: [1] } }, 'invalid'],
    ['resources/read without a URI', { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { name: 'x' } }, 'invalid'],
  ];
  for (const [name, doc, expected, fields] of table) {
    it(`${name}: ${expected}`, () => {
      assert.equal(kind(() => readMessage(doc)), expected);
      if (fields !== undefined) {
        const m = readMessage(doc);
        for (const [k, v] of Object.entries(fields)) assert.deepEqual(m[k as keyof typeof m], v, k);
      }
    });
  }

  it('a batch is recognised before parsing, whitespace first included', () => {
    assert.equal(isBatch(Buffer.from(' \n[{"jsonrpc":"2.0"}]')), true);
    assert.equal(isBatch(Buffer.from('{"a":[1]}')), false);
    assert.equal(isBatch(Buffer.from('')), false);
  });

  it('protocol versions: the header when sent (known ones only), else legacy; a 2026-07-28 body needs the header', () => {
    const list = readMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.equal(protocolVersionOf('2025-11-25', list), '2025-11-25');
    assert.equal(protocolVersionOf(undefined, list), 'legacy');
    assert.equal(kind(() => protocolVersionOf('2024-11-05', list)), 'version');
    assert.equal(kind(() => protocolVersionOf('2026-07-28; x', list)), 'version');
    const modern = readMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } });
    assert.equal(kind(() => protocolVersionOf(undefined, modern)), 'header');
  });
});

describe('2026-07-28 header/body consistency', () => {
  const V = '2026-07-28';
  const headers = (h: Record<string, string>): Map<string, string> => new Map(Object.entries(h));
  const echo = readMessage(call('echo', { text: 'hi', region: 'eu', n: 3, deep: { k: 'v' } }));
  const bindings = paramBindings({ type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, n: { type: 'integer', 'x-mcp-header': 'N' }, deep: { type: 'object', properties: { k: { type: 'string', 'x-mcp-header': 'Deep-K' } } }, bad: { type: 'string', 'x-mcp-header': 'not a token' } } });
  const good = { 'mcp-method': 'tools/call', 'mcp-name': 'echo', 'mcp-param-region': 'eu', 'mcp-param-n': '3', 'mcp-param-deep-k': 'v' };
  const table: readonly [string, Record<string, string | undefined>, string][] = [
    ['every mirror matches', good, 'ok'],
    ['Base64 sentinel values decode before comparing', { ...good, 'mcp-name': b64('echo'), 'mcp-param-region': b64('eu') }, 'ok'],
    ['Mcp-Method missing', { ...good, 'mcp-method': undefined }, 'header'],
    ['Mcp-Method another method', { ...good, 'mcp-method': 'tools/list' }, 'header'],
    ['Mcp-Name another tool', { ...good, 'mcp-name': 'read_secret' }, 'header'],
    ['Mcp-Name missing', { ...good, 'mcp-name': undefined }, 'header'],
    ['a malformed sentinel', { ...good, 'mcp-name': '=?base64?***?=' }, 'header'],
    ['a declared parameter header missing', { ...good, 'mcp-param-n': undefined }, 'header'],
    ['a declared parameter header disagreeing', { ...good, 'mcp-param-region': 'us' }, 'header'],
    ['an undeclared parameter header', { ...good, 'mcp-param-extra': 'x' }, 'header'],
  ];
  for (const [name, h, expected] of table) {
    it(`${name}: ${expected}`, () => {
      const clean = Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined));
      assert.equal(kind(() => { checkMirroredHeaders(V, headers(clean), echo, bindings); }), expected);
    });
  }
  it('an x-mcp-header that is not an HTTP token is not a declaration', () => {
    assert.deepEqual(bindings.map((b) => b.header).sort(), ['mcp-param-deep-k', 'mcp-param-n', 'mcp-param-region']);
  });
  it('Mcp-Name for a method that names nothing, and Mcp-Param-* outside tools/call, are mismatches', () => {
    const list = readMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.equal(kind(() => { checkMirroredHeaders(V, headers({ 'mcp-method': 'tools/list', 'mcp-name': 'x' }), list, undefined); }), 'header');
    assert.equal(kind(() => { checkMirroredHeaders(V, headers({ 'mcp-method': 'tools/list', 'mcp-param-a': 'x' }), list, undefined); }), 'header');
    assert.equal(kind(() => { checkMirroredHeaders(V, headers({ 'mcp-method': 'tools/list' }), list, undefined); }), 'ok');
  });
  it('a tool whose definition was never seen: parameter headers go on unchecked (the server checks them)', () => {
    assert.equal(kind(() => { checkMirroredHeaders(V, headers({ 'mcp-method': 'tools/call', 'mcp-name': 'echo', 'mcp-param-x': '1' }), echo, undefined); }), 'ok');
  });
  it('older versions: the body decides; the mirrors are removed instead', () => {
    assert.equal(kind(() => { checkMirroredHeaders('2025-11-25', headers({ 'mcp-method': 'tools/list', 'mcp-name': 'nope' }), echo, bindings); }), 'ok');
    assert.deepEqual(unverifiedMirrorHeaders('legacy', ['mcp-method', 'mcp-name', 'mcp-param-a', 'mcp-session-id', 'accept']), ['mcp-method', 'mcp-name', 'mcp-param-a']);
    assert.deepEqual(unverifiedMirrorHeaders(V, ['mcp-method', 'mcp-name']), []);
  });
  it('a body version disagreeing with the header is a mismatch', () => {
    const m = readMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } } });
    assert.equal(kind(() => { checkMirroredHeaders(V, headers({ 'mcp-method': 'tools/list' }), m, undefined); }), 'header');
  });
  it('decodeHeaderValue refuses Base64 that is not UTF-8', () => {
    assert.equal(decodeHeaderValue('plain'), 'plain');
    assert.equal(kind(() => decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`)), 'header');
  });
  it('readMcpRequest maps protocol errors to catalogue codes', () => {
    assert.equal(kind(() => readMcpRequest({ jsonrpc: '1.0', id: 1, method: 'ping' }, new Map(), () => undefined)), 'jsonrpc_malformed');
    assert.equal(kind(() => readMcpRequest(call('echo'), headers({ 'mcp-protocol-version': '1999-01-01' }), () => undefined)), 'mcp_protocol_version_unsupported');
    assert.equal(kind(() => readMcpRequest(call('echo'), headers({ 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': 'x' }), () => undefined)), 'mcp_header_mismatch');
    const ok = readMcpRequest({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers({ 'mcp-protocol-version': '2025-06-18', 'mcp-method': 'x' }), () => undefined);
    assert.equal(ok.list, true);
    assert.deepEqual(ok.removeHeaders, ['mcp-method']);
  });
});

describe('name patterns and grant rules', () => {
  const table: readonly [readonly string[], string, boolean][] = [
    [['echo'], 'echo', true], [['echo'], 'echo2', false], [['search_*'], 'search_code', true], [['search_*'], 'search_', true],
    [['search_*'], 'xsearch_code', false], [['*_read'], 'file_read', true], [['a*b*c'], 'abc', true], [['a*b*c'], 'axxbyyc', true],
    [['a*b*c'], 'acb', false], [['a*a'], 'a', false], [['file:///docs/*'], 'file:///docs/a?b', true], [['*'], '', true], [[], 'x', false],
    [['repo://x/[a]'], 'repo://x/[a]', true], [['repo://x/?'], 'repo://x/a', false],
  ];
  for (const [patterns, name, expected] of table) {
    it(`${JSON.stringify(patterns)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
      assert.equal(compileNamePatterns(patterns)(name), expected);
    });
  }
  it('matching is linear on a hostile name', () => {
    const m = compileNamePatterns(['*a*a*a*a*a*a*a*a*b']);
    const t0 = performance.now();
    assert.equal(m('a'.repeat(100_000)), false);
    assert.ok(performance.now() - t0 < 200);
  });

  const doc = (method: string, target?: 'tool' | 'prompt' | 'resource', name?: string) => ({ kind: 'request' as const, method, target, name, arguments: undefined });
  it('default deny: a grant with no names allows the session and the lists, no tool', () => {
    const g = compileMcpGrant(undefined);
    assert.equal(checkMcp(g, doc('initialize')).failure, undefined);
    assert.equal(checkMcp(g, doc('tools/list')).failure, undefined);
    assert.equal(checkMcp(g, doc('tools/call', 'tool', 'echo')).failure?.reason, 'mcp_name_forbidden');
    assert.equal(checkMcp(g, doc('logging/setLevel')).failure?.reason, 'mcp_method_forbidden');
    assert.equal(checkMcp(g, doc('some/unknown')).failure?.reason, 'mcp_method_forbidden');
  });
  it('listed methods replace the default set; session methods stay', () => {
    const g = compileMcpGrant({ methods: ['tools/call'], tools: ['echo'], prompts: [], resources: [] });
    assert.equal(checkMcp(g, doc('tools/call', 'tool', 'echo')).failure, undefined);
    assert.equal(checkMcp(g, doc('tools/list')).failure?.reason, 'mcp_method_forbidden');
    assert.equal(checkMcp(g, doc('ping')).failure, undefined);
  });
  it('a list shows what some grant lets the caller use', () => {
    const gs = [compileMcpGrant({ tools: ['echo'], prompts: [], resources: [] }), compileMcpGrant({ methods: ['tools/list'], tools: ['secret'], prompts: [], resources: [] })];
    assert.equal(mayUse(gs, 'tool', 'echo'), true);
    assert.equal(mayUse(gs, 'tool', 'secret'), false, 'named, but its grant may not call tools');
    assert.equal(mayUse(gs, 'prompt', 'echo'), false);
  });
});

describe('list answers', () => {
  const tools = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo', inputSchema: {} }, { name: 'secret', inputSchema: {} }, { inputSchema: {} }, 'junk'], nextCursor: 'c' } };
  const keepEcho = { keep: (i: { name: string }) => i.name === 'echo' };
  it('JSON: hidden items leave, everything else stays byte for byte in meaning', async () => {
    const r = await filterListAnswer(Buffer.from(JSON.stringify(tools)), false, 'tools/list', keepEcho);
    assert.deepEqual({ shown: r.shown, hidden: r.hidden }, { shown: 1, hidden: 3 });
    assert.deepEqual(JSON.parse(r.body!.toString()), { ...tools, result: { tools: [{ name: 'echo', inputSchema: {} }], nextCursor: 'c' } });
  });
  it('JSON: nothing hidden leaves the body alone', async () => {
    const r = await filterListAnswer(Buffer.from(JSON.stringify(tools)), false, 'tools/list', { keep: () => true });
    assert.equal(r.hidden, 2, 'items without a name are hidden even when everything else is kept');
  });
  it('SSE: the result event is rewritten, notifications and event ids are kept', async () => {
    const sse = `event: message\nid: 7\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\nevent: message\nid: 8\ndata: ${JSON.stringify(tools)}\n\n`;
    const r = await filterListAnswer(Buffer.from(sse), true, 'tools/list', keepEcho);
    const events = r.body!.toString().split('\n\n').filter((e) => e !== '');
    assert.equal(events.length, 2);
    assert.equal(events[0], sse.split('\n\n')[0]);
    assert.match(events[1]!, /^event: message\nid: 8\ndata: /);
    assert.deepEqual((JSON.parse(events[1]!.split('data: ')[1]!) as typeof tools).result.tools, [{ name: 'echo', inputSchema: {} }]);
  });
  it('an unreadable list is refused, never passed unfiltered', async () => {
    await assert.rejects(filterListAnswer(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"tools":{}}}'), false, 'tools/list', keepEcho), (e: TollgateError) => e.code === 'response_leak');
    await assert.rejects(filterListAnswer(Buffer.from('not json'), false, 'tools/list', keepEcho), (e: TollgateError) => e.code === 'response_leak');
    await assert.rejects(filterListAnswer(Buffer.from('data: {"jsonrpc":"2.0",\n\n'), true, 'tools/list', keepEcho), (e: TollgateError) => e.code === 'response_leak');
  });
  it('observe sees every named item before filtering', async () => {
    const seen: string[] = [];
    await filterListAnswer(Buffer.from(JSON.stringify(tools)), false, 'tools/list', { observe: (items) => { seen.push(...items.map((i) => i.name)); }, keep: () => false });
    assert.deepEqual(seen, ['echo', 'secret']);
  });
  it('resources and templates are named by URI', async () => {
    const r = await filterListAnswer(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { resourceTemplates: [{ uriTemplate: 'a://{x}', name: 'n' }] } })), false, 'resources/templates/list', { keep: (i) => i.name === 'a://{x}' });
    assert.equal(r.hidden, 0);
  });
});

describe('JSON-RPC denials', () => {
  const table: readonly [ErrorCode, string | number | undefined, number, number][] = [
    ['mcp_name_forbidden', 5, 200, -32003],
    ['mcp_name_forbidden', undefined, 403, -32003],
    ['content_blocked', 'x', 200, -32003],
    ['tool_definition_changed', 1, 200, -32003],
    ['rate_limited', 1, 200, -32003],
    ['mcp_header_mismatch', 1, 400, -32020],
    ['jsonrpc_malformed', undefined, 400, -32600],
    ['jsonrpc_batch_refused', undefined, 400, -32600],
    ['body_malformed', undefined, 400, -32700],
    ['credential_unavailable', 1, 503, -32603],
    ['internal', 1, 500, -32603],
  ];
  for (const [code, id, status, rpc] of table) {
    it(`${code} (id ${String(id)}): HTTP ${status}, JSON-RPC ${rpc}`, () => {
      const d = jsonRpcDenialReply({ code, rule: 'internal' }, id, 'r-1', 'd-1');
      assert.equal(d.status, status);
      const body = JSON.parse(d.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { code: string; decision_id: string } } };
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(body.id, id ?? null);
      assert.equal(body.error.code, rpc);
      assert.equal(body.error.data.code, code);
      assert.equal(body.error.data.decision_id, 'd-1');
    });
  }
  it('internal detail never reaches the client', () => {
    const body = JSON.parse(jsonRpcDenialReply({ code: 'internal', rule: 'internal' }, 1, 'r-1', 'd-1').body) as { error: { message: string } };
    assert.equal(body.error.message, 'The request could not be processed.');
  });
});
