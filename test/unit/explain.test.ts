// explain(): the same decision as evaluate(), over a table of identities, policies and tricky
// requests, with every check of every grant recorded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { evaluate } from '../../extproc/policy/evaluate.ts';
import { explain, explainRequestSchema, type ExplainRequestInput } from '../../extproc/policy/explain.ts';
import { compilePolicy } from '../../extproc/policy/policy.ts';
import { testConfig } from '../helpers/config.ts';

const h = (c: string): string => `sha256:${c.repeat(64)}`;
const ISS = 'https://issuer.test';

function policyFor(mode: 'enforce' | 'shadow' = 'enforce') {
  const input: ConfigInput = {
    version: 1,
    providers: [
      { name: 'openai', kind: 'openai', upstream: 'https://api.openai.com', models: ['gpt-4o*', 'text-embedding-3-small'], credential: { source: 'none' } },
      { name: 'anthropic', kind: 'anthropic', upstream: 'https://api.anthropic.com', models: ['claude-*'], credential: { source: 'none' } },
    ],
    identity: {
      mtls: { trustDomains: [{ name: 'td.test' }] },
      jwt: { issuers: [{ issuer: ISS, audiences: ['tollgate'], jwks: { inline: { keys: [{ kty: 'EC' }] } } }] },
    },
    identities: [
      { id: 'key-agent', apiKeyHashes: [h('a')], allow: [{ provider: 'openai' }] },
      { id: 'mini-only', apiKeyHashes: [h('b')], allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }] },
      { id: 'embedder', spiffeIds: ['spiffe://td.test/embed'], allow: [{ provider: 'openai', operations: ['embeddings'] }] },
      { id: 'jwt-blue', tenant: 'blue', jwtSubjects: [{ issuer: ISS, subject: 'w1' }], allow: [{ provider: 'openai', when: 'has(claims.team) && claims.team == "blue"' }, { provider: 'anthropic', when: 'tenant == "red"', shadow: true }] },
      { id: 'hdr', apiKeyHashes: [h('c')], allow: [{ provider: 'openai', when: 'request.headers["x-env"] == "dev"' }] },
      { id: 'none', apiKeyHashes: [h('d')], allow: [] },
    ],
    policy: { mode },
  };
  return compilePolicy(testConfig(input));
}

const chat = (model: string) => ({ model, messages: [] });

const table: { name: string; req: ExplainRequestInput; mode?: 'shadow'; decision: 'allow' | 'deny' | 'shadow-deny'; rule: string; reason: string }[] = [
  { name: 'api key, any model of the provider', req: { identity: 'key-agent', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'allow', rule: 'identities[key-agent].allow[0]', reason: 'none' },
  { name: 'api key hash selector', req: { identity: { apiKeyHash: h('a') }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'allow', rule: 'identities[key-agent].allow[0]', reason: 'none' },
  { name: 'unknown key hash', req: { identity: { apiKeyHash: h('e') }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identity.unknown', reason: 'identity_unknown' },
  { name: 'model outside the provider list', req: { identity: 'key-agent', path: '/openai/v1/chat/completions', body: chat('o3') }, decision: 'deny', rule: 'provider.models', reason: 'model_forbidden' },
  { name: 'model outside the grant', req: { identity: 'mini-only', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identities[mini-only].allow[0]', reason: 'model_forbidden' },
  { name: 'model outside the grant, global shadow', mode: 'shadow', req: { identity: 'mini-only', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'shadow-deny', rule: 'identities[mini-only].allow[0]', reason: 'model_forbidden' },
  { name: 'spiffe, allowed operation', req: { identity: { spiffeId: 'spiffe://td.test/embed' }, path: '/openai/v1/embeddings', body: { model: 'text-embedding-3-small', input: 'x' } }, decision: 'allow', rule: 'identities[embedder].allow[0]', reason: 'none' },
  { name: 'spiffe, operation not granted', req: { identity: { spiffeId: 'spiffe://td.test/embed' }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identities[embedder].allow[0]', reason: 'operation_forbidden' },
  { name: 'spiffe ID with different case is another ID', req: { identity: { spiffeId: 'spiffe://td.test/Embed' }, path: '/openai/v1/embeddings', body: { model: 'text-embedding-3-small', input: 'x' } }, decision: 'deny', rule: 'identity.unknown', reason: 'identity_unknown' },
  { name: 'jwt claim condition true', req: { identity: { jwt: { issuer: ISS, subject: 'w1' } }, claims: { team: 'blue' }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'allow', rule: 'identities[jwt-blue].allow[0]', reason: 'none' },
  { name: 'jwt claim condition false', req: { identity: { jwt: { issuer: ISS, subject: 'w1' } }, claims: { team: 'red' }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identities[jwt-blue].allow[0]', reason: 'condition_failed' },
  { name: 'jwt claim missing: has() guards it', req: { identity: { jwt: { issuer: ISS, subject: 'w1' } }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identities[jwt-blue].allow[0]', reason: 'condition_failed' },
  { name: 'jwt of another issuer', req: { identity: { jwt: { issuer: 'https://other.test', subject: 'w1' } }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identity.unknown', reason: 'identity_unknown' },
  { name: 'shadow grant: failing condition recorded, allowed', req: { identity: { jwt: { issuer: ISS, subject: 'w1' } }, path: '/anthropic/v1/messages', body: { model: 'claude-3', max_tokens: 1, messages: [] } }, decision: 'shadow-deny', rule: 'identities[jwt-blue].allow[1]', reason: 'condition_failed' },
  { name: 'header condition true', req: { identity: 'hdr', headers: { 'x-env': 'dev' }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'allow', rule: 'identities[hdr].allow[0]', reason: 'none' },
  { name: 'header missing: evaluation error denies (fail closed)', req: { identity: 'hdr', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identities[hdr].allow[0]', reason: 'policy_condition_error' },
  { name: 'identity without grants', req: { identity: 'none', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'identity.allow', reason: 'provider_forbidden' },
  { name: 'provider not granted', req: { identity: 'key-agent', path: '/anthropic/v1/messages', body: { model: 'claude-3', max_tokens: 1, messages: [] } }, decision: 'deny', rule: 'identity.allow', reason: 'provider_forbidden' },
  { name: 'mixed-case provider segment', req: { identity: 'key-agent', path: '/OpenAI/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'provider.route', reason: 'provider_unknown' },
  { name: 'host as provider segment', req: { identity: 'key-agent', path: '/api.openai.com/v1/chat/completions', body: chat('gpt-4o') }, decision: 'deny', rule: 'provider.route', reason: 'provider_unknown' },
  { name: 'unsanctioned endpoint', req: { identity: 'key-agent', path: '/openai/v1/fine_tuning/jobs', body: chat('gpt-4o') }, decision: 'deny', rule: 'provider.endpoints', reason: 'endpoint_not_allowed' },
  { name: 'traversal left in the path (Envoy normalises first)', req: { identity: 'key-agent', path: '/openai/v1/../../anthropic/v1/messages', body: chat('gpt-4o') }, decision: 'deny', rule: 'request.model', reason: 'path_malformed' },
  { name: 'body without a model', req: { identity: 'key-agent', path: '/openai/v1/chat/completions', body: { messages: [] } }, decision: 'deny', rule: 'request.model', reason: 'model_missing' },
];

describe('explain', () => {
  for (const t of table) {
    it(t.name, () => {
      const policy = policyFor(t.mode);
      const e = explain(policy, explainRequestSchema.parse({ time: '2030-01-01T00:00:00Z', ...t.req }));
      assert.equal(e.outcome.decision, t.decision);
      assert.equal(e.outcome.rule, t.rule);
      assert.equal(e.outcome.reason, t.reason);
      assert.equal(e.policyRevision, policy.revision);
      // Same decision as evaluate() over the same document, whenever grants were reached.
      if (e.identity !== undefined && e.provider !== undefined && e.operation !== undefined && e.steps.some((s) => s.check === 'provider')) {
        const d = evaluate(policy, {
          identity: e.identity, provider: e.provider, method: 'POST', path: '/', operation: e.operation, model: e.model, time: new Date('2030-01-01T00:00:00Z'),
          claims: t.req.claims ?? {}, headers: t.req.headers ?? {}, host: '',
        });
        assert.equal(d.allow, t.decision !== 'deny');
        assert.equal(d.rule, t.rule);
      }
      // The deciding rule is among the recorded steps, and each step names an outcome.
      assert.ok(e.steps.some((s) => s.rule === t.rule), `steps mention ${t.rule}`);
    });
  }

  it('lists every grant of the identity, marking those for other providers', () => {
    const e = explain(policyFor(), explainRequestSchema.parse({ identity: { jwt: { issuer: ISS, subject: 'w1' } }, claims: { team: 'blue' }, path: '/openai/v1/chat/completions', body: chat('gpt-4o') }));
    assert.deepEqual(e.grants, [
      { rule: 'identities[jwt-blue].allow[0]', provider: 'openai', applies: true },
      { rule: 'identities[jwt-blue].allow[1]', provider: 'anthropic', applies: false },
    ]);
    assert.deepEqual(e.steps.filter((s) => s.rule === 'identities[jwt-blue].allow[0]').map((s) => [s.check, s.outcome]), [['operations', 'pass'], ['when', 'pass'], ['grant', 'pass']]);
  });

  it('a grant without operations checks the kind\'s inference operations, and says so', () => {
    const chatStep = explain(policyFor(), explainRequestSchema.parse({ identity: 'mini-only', path: '/openai/v1/chat/completions', body: chat('gpt-4o-mini') })).steps.find((s) => s.check === 'operations');
    assert.ok(chatStep !== undefined);
    assert.equal(chatStep.outcome, 'pass');
    assert.match(chatStep.detail, /no operations listed: the kind's inference operations/);
    const files = explain(policyFor(), explainRequestSchema.parse({ identity: 'mini-only', method: 'GET', path: '/openai/v1/files' }));
    assert.equal(files.outcome.decision, 'deny');
    assert.equal(files.outcome.reason, 'operation_forbidden');
    assert.match(files.steps.find((s) => s.check === 'operations')?.detail ?? '', /operation files not in \[chat, completions, embeddings, responses, models\.list, models\.get\]/);
  });

  it('records each check of a grant in order, stopping at the first failure', () => {
    const e = explain(policyFor(), explainRequestSchema.parse({ identity: 'mini-only', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }));
    assert.deepEqual(e.steps.map((s) => `${s.check}:${s.outcome}`), ['identity:pass', 'route:pass', 'endpoint:pass', 'body:pass', 'provider:pass', 'provider.models:pass', 'operations:pass', 'models:fail']);
  });

  it('global shadow mode is a recorded step', () => {
    const e = explain(policyFor('shadow'), explainRequestSchema.parse({ identity: 'mini-only', path: '/openai/v1/chat/completions', body: chat('gpt-4o') }));
    assert.equal(e.steps.at(-1)?.check, 'mode');
  });

  it('refuses a malformed request document', () => {
    assert.equal(explainRequestSchema.safeParse({ identity: 'x', path: 'no-slash' }).success, false);
    assert.equal(explainRequestSchema.safeParse({ identity: 'x', path: '/a', headers: { 'X-Upper': 'v' } }).success, false);
    assert.equal(explainRequestSchema.safeParse({ identity: 'x', path: '/a', extra: 1 }).success, false);
  });
});
