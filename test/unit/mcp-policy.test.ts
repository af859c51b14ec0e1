// Policy for MCP servers: grants' MCP rules through evaluate() and explain() (the same code the service runs),
// shadow mode, conditions over the message, and the kind's request-line rules (versions, the GET stream).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../extproc/config/load.ts';
import { explain, explainRequestSchema, type ExplainRequestInput } from '../../extproc/policy/explain.ts';
import { compilePolicy } from '../../extproc/policy/policy.ts';
import { createProviderKind, EndpointNotAllowed, ProviderError } from '../../extproc/providers/index.ts';

const HASH = `sha256:${'1'.repeat(64)}`;

function policy(mode: 'enforce' | 'shadow' = 'enforce') {
  return compilePolicy(validateConfig({
    version: 1,
    providers: [{ name: 'tools', kind: 'mcp', upstream: 'https://mcp.example.com', credential: { source: 'none' } }],
    identities: [{
      id: 'agent', apiKeyHashes: [HASH],
      allow: [{ provider: 'tools', mcp: { tools: ['search_*', 'create_issue'] }, when: 'mcp.name != "create_issue" || mcp.arguments.repo == "docs"' }],
    }],
    policy: { mode },
  }, 'test'));
}

const call = (name: string, args: Record<string, unknown> = {}): ExplainRequestInput => ({ identity: 'agent', path: '/tools/mcp', body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } } });
const decide = (req: ExplainRequestInput, mode: 'enforce' | 'shadow' = 'enforce') => explain(policy(mode), explainRequestSchema.parse(req));

describe('MCP grants', () => {
  const table: readonly [string, ExplainRequestInput, string, string][] = [
    ['a tool matching a pattern', call('search_code'), 'allow', 'none'],
    ['a tool the grant does not name', call('delete_repo'), 'deny', 'mcp_name_forbidden'],
    ['a condition over the arguments that holds', call('create_issue', { repo: 'docs' }), 'allow', 'none'],
    ['a condition over the arguments that fails', call('create_issue', { repo: 'app' }), 'deny', 'condition_failed'],
    ['a condition reading a missing argument (an error denies)', call('create_issue'), 'deny', 'policy_condition_error'],
    ['a method outside the default set', { identity: 'agent', path: '/tools/mcp', body: { jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'debug' } } }, 'deny', 'mcp_method_forbidden'],
    ['a session method', { identity: 'agent', path: '/tools/mcp', body: { jsonrpc: '2.0', method: 'notifications/initialized' } }, 'allow', 'none'],
    ['the GET stream (decided without a body)', { identity: 'agent', method: 'GET', path: '/tools/mcp' }, 'allow', 'none'],
    ['a batch-free malformed message', { identity: 'agent', path: '/tools/mcp', body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} } }, 'deny', 'jsonrpc_malformed'],
  ];
  for (const [name, req, decision, reason] of table) {
    it(`${name}: ${decision} (${reason})`, () => {
      const e = decide(req);
      assert.equal(e.outcome.decision, decision);
      assert.equal(e.outcome.reason, reason);
    });
  }

  it('explain names the MCP checks it made, under the grant rule', () => {
    const e = decide(call('delete_repo'));
    assert.equal(e.outcome.rule, 'identities[agent].allow[0]');
    const checks = e.steps.map((s) => `${s.check}:${s.outcome}`);
    assert.ok(checks.includes('body:pass'), 'the JSON-RPC message was read');
    assert.ok(checks.includes('mcp.methods:pass'));
    assert.ok(checks.includes('mcp.names:fail'));
    assert.match(e.steps.find((s) => s.check === 'body')?.detail ?? '', /MCP request tools\/call tool delete_repo/);
  });

  it('policy.mode shadow: a forbidden tool is a recorded would-deny, not a denial', () => {
    const e = decide(call('delete_repo'), 'shadow');
    assert.equal(e.outcome.decision, 'shadow-deny');
    assert.equal(e.outcome.shadow?.reason, 'mcp_name_forbidden');
  });
});

describe('the mcp kind on the request line', () => {
  const kind = createProviderKind('mcp', { upstream: new URL('https://mcp.example.com'), mcpPath: '/v2/mcp' });
  const head = (method: string, path: string, version?: string) => ({ method, path, query: '', headers: new Map(version === undefined ? [] : [['mcp-protocol-version', version]]) });
  it('serves POST, GET and DELETE on its configured path only', () => {
    assert.deepEqual(['POST', 'GET', 'DELETE'].map((m) => kind.newRequest(head(m, '/v2/mcp')).operation), ['mcp', 'mcp.listen', 'mcp.end']);
    assert.throws(() => kind.newRequest(head('POST', '/mcp')), EndpointNotAllowed);
    assert.throws(() => kind.newRequest(head('PUT', '/v2/mcp')), EndpointNotAllowed);
  });
  it('refuses a protocol version it does not speak, and the GET stream and DELETE under 2026-07-28', () => {
    assert.throws(() => kind.newRequest(head('POST', '/v2/mcp', '2024-11-05')), (e: unknown) => e instanceof ProviderError && e.code === 'protocol_version_unsupported');
    assert.equal(kind.newRequest(head('POST', '/v2/mcp', '2026-07-28')).operation, 'mcp');
    assert.equal(kind.newRequest(head('GET', '/v2/mcp', '2025-11-25')).operation, 'mcp.listen');
    assert.throws(() => kind.newRequest(head('GET', '/v2/mcp', '2026-07-28')), EndpointNotAllowed);
    assert.throws(() => kind.newRequest(head('DELETE', '/v2/mcp', '2026-07-28')), EndpointNotAllowed);
  });
  it('a JSON-RPC batch never parses as a message (the ext_proc step refuses it before)', () => {
    const t = kind.newRequest(head('POST', '/v2/mcp'));
    assert.throws(() => t.parseBody(Buffer.from('[{"jsonrpc":"2.0","id":1,"method":"ping"}]')));
  });
});
