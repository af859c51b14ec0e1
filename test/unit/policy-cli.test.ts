// `tollgate policy check|test|explain`: ownership and waivers, review dates, test-file runs that pass
// and fail, explain output, and the command's usage errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { runCommand, UsageError } from '../../extproc/cli/commands.ts';
import { explainPolicy, ownershipFindings, PolicyCheckFailed, runPolicyCheck, testPolicy } from '../../extproc/cli/policy.ts';
import { ConfigError } from '../../extproc/config/load.ts';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { testConfig } from '../helpers/config.ts';

const HASH = `sha256:${'a'.repeat(64)}`;
const owner = { team: 'platform', contact: 'oncall@example.com' };
const NOW = new Date('2030-06-15T12:00:00Z');

function policyInput(over: { identityOwner?: boolean; providerOwner?: boolean; reviewBy?: string; waivers?: unknown[]; when?: string } = {}): ConfigInput {
  return {
    version: 1,
    providers: [{ name: 'openai', kind: 'openai', upstream: 'https://api.openai.com', models: ['gpt-4o*'], credential: { source: 'none' }, ...(over.providerOwner === false ? {} : { owner }) }],
    identities: [{
      id: 'agent-1', apiKeyHashes: [HASH], allow: [{ provider: 'openai', models: ['gpt-4o-mini'], ...(over.when === undefined ? {} : { when: over.when }) }],
      ...(over.identityOwner === false ? {} : { owner }), ...(over.reviewBy === undefined ? {} : { reviewBy: over.reviewBy }),
    }],
    ...(over.waivers === undefined ? {} : { policy: { waivers: over.waivers } }),
  } as ConfigInput;
}

describe('policy check: ownership, waivers and review dates', () => {
  const waiver = (entries: string[], until = '2031-01-01') => ({ rule: 'owner', entries, reason: 'legacy, owner being found', until });
  const table: { name: string; input: ConfigInput; errors: RegExp[]; warnings: RegExp[] }[] = [
    { name: 'everything owned', input: policyInput(), errors: [], warnings: [] },
    { name: 'an identity without owner', input: policyInput({ identityOwner: false }), errors: [/identities\[agent-1\]: no owner/], warnings: [] },
    { name: 'a provider (and its credential source) without owner', input: policyInput({ providerOwner: false }), errors: [/providers\[openai\]: no owner/], warnings: [] },
    { name: 'both missing, one waived', input: policyInput({ identityOwner: false, providerOwner: false, waivers: [waiver(['identities[agent-1]'])] }), errors: [/providers\[openai\]/], warnings: [] },
    { name: 'both waived', input: policyInput({ identityOwner: false, providerOwner: false, waivers: [waiver(['identities[agent-1]', 'providers[openai]'])] }), errors: [], warnings: [] },
    { name: 'an expired waiver waives nothing and warns', input: policyInput({ identityOwner: false, waivers: [waiver(['identities[agent-1]'], '2030-06-14')] }), errors: [/identities\[agent-1\]: no owner/], warnings: [/expired on 2030-06-14/] },
    { name: 'a waiver that names nothing warns', input: policyInput({ waivers: [waiver(['identities[ghost]'])] }), errors: [], warnings: [/identities\[ghost\] names no identity/] },
    { name: 'a review date in the past warns', input: policyInput({ reviewBy: '2030-06-14' }), errors: [], warnings: [/reviewBy 2030-06-14 is in the past/] },
    { name: 'a review date today is fine', input: policyInput({ reviewBy: '2030-06-15' }), errors: [], warnings: [] },
  ];
  for (const t of table) {
    it(t.name, () => {
      const r = ownershipFindings(testConfig(t.input), NOW);
      assert.equal(r.errors.length, t.errors.length, r.errors.join('\n'));
      t.errors.forEach((re, i) => { assert.match(r.errors[i] ?? '', re); });
      assert.equal(r.warnings.length, t.warnings.length, r.warnings.join('\n'));
      t.warnings.forEach((re, i) => { assert.match(r.warnings[i] ?? '', re); });
    });
  }

  it('rejects a malformed waiver in the schema', () => {
    assert.throws(() => testConfig(policyInput({ waivers: [{ rule: 'owner', entries: ['agent-1'], reason: 'x y z', until: '2031-01-01' }] })), /identities\[ID\] or providers\[NAME\]/);
    assert.throws(() => testConfig(policyInput({ waivers: [{ rule: 'something', entries: ['identities[agent-1]'], reason: 'x y z', until: '2031-01-01' }] })));
  });
});

describe('policy check|test|explain on files', () => {
  let dir: string;
  const file = (name: string, content: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : stringify(content));
    return p;
  };
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-policy-cli-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('check passes a good file and names the revision', () => {
    const out = runPolicyCheck(file('good.yaml', policyInput()), NOW);
    assert.match(out, /good\.yaml: ok \(1 providers, 1 identities, 0 errors, 0 warnings, revision [0-9a-f]{16}\)/);
  });

  it('check fails (exit 1) on a missing owner, with the finding in the report', () => {
    assert.throws(() => runPolicyCheck(file('noowner.yaml', policyInput({ identityOwner: false })), NOW), (err: Error) => {
      assert.ok(err instanceof PolicyCheckFailed);
      assert.match(err.message, /error: identities\[agent-1\]: no owner/);
      assert.match(err.message, /FAILED/);
      return true;
    });
  });

  it('check refuses a CEL condition that does not compile (exit 2, the grant named)', () => {
    assert.throws(() => runPolicyCheck(file('badcel.yaml', policyInput({ when: 'request.model.startsWith(' })), NOW), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /identities\[agent-1\]\.allow\[0\]\.when/);
      return true;
    });
  });

  it('check refuses a CEL condition naming an undeclared variable', () => {
    assert.throws(() => runPolicyCheck(file('badvar.yaml', policyInput({ when: 'requets.model == "x"' })), NOW), ConfigError);
  });

  it('check refuses a schema error', () => {
    assert.throws(() => runPolicyCheck(file('typo.yaml', { ...policyInput(), identites: [] }), NOW), ConfigError);
  });

  const cases = (expect: Record<string, unknown>) => ({ cases: [
    { name: 'mini allowed', request: { identity: 'agent-1', path: '/openai/v1/chat/completions', body: { model: 'gpt-4o-mini' } }, expect: { decision: 'allow', rule: 'identities[agent-1].allow[0]' } },
    { name: 'the case under test', request: { identity: 'agent-1', path: '/openai/v1/chat/completions', body: { model: 'gpt-4o' } }, expect },
  ] });

  it('test passes when every case matches, opa-test style', () => {
    const out = testPolicy(file('p.yaml', policyInput()), file('ok.test.yaml', cases({ decision: 'deny', rule: 'identities[agent-1].allow[0]', reason: 'model_forbidden' })));
    assert.match(out, /mini allowed: PASS/);
    assert.match(out, /the case under test: PASS/);
    assert.match(out, /PASS: 2\/2/);
    assert.doesNotMatch(out, /FAIL/);
  });

  const failing: { name: string; expect: Record<string, unknown>; mismatch: RegExp }[] = [
    { name: 'wrong decision', expect: { decision: 'allow' }, mismatch: /decision: expected allow, got deny/ },
    { name: 'wrong rule', expect: { decision: 'deny', rule: 'provider.models' }, mismatch: /rule: expected provider\.models, got identities\[agent-1\]\.allow\[0\]/ },
    { name: 'wrong reason', expect: { decision: 'deny', reason: 'condition_failed' }, mismatch: /reason: expected condition_failed, got model_forbidden/ },
  ];
  for (const f of failing) {
    it(`test fails (exit 1) on ${f.name}`, () => {
      assert.throws(() => testPolicy(file('p.yaml', policyInput()), file(`${f.name}.test.yaml`, cases(f.expect))), (err: Error) => {
        assert.ok(err instanceof PolicyCheckFailed);
        assert.match(err.message, /the case under test: FAIL/);
        assert.match(err.message, f.mismatch);
        assert.match(err.message, /PASS: 1\/2/);
        assert.match(err.message, /FAIL: 1\/2/);
        return true;
      });
    });
  }

  it('test refuses a malformed test file with the field named', () => {
    assert.throws(() => testPolicy(file('p.yaml', policyInput()), file('bad.test.yaml', { cases: [{ name: 'x', request: { identity: 'agent-1' }, expect: { decision: 'allow' } }] })), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /path/);
      return true;
    });
  });

  it('explain prints the decision, every check and every grant', () => {
    const req = file('req.json', JSON.stringify({ identity: 'agent-1', path: '/openai/v1/chat/completions', body: { model: 'gpt-4o' } }));
    const out = explainPolicy(file('p.yaml', policyInput()), req);
    assert.match(out, /^decision: deny$/m);
    assert.match(out, /^rule: +identities\[agent-1\]\.allow\[0\]$/m);
    assert.match(out, /^reason: +model_forbidden$/m);
    assert.match(out, /pass +provider\.models provider\.models: provider openai serves model gpt-4o/);
    assert.match(out, /fail +identities\[agent-1\]\.allow\[0\] models: model gpt-4o does not match/);
    assert.match(out, /identities\[agent-1\]\.allow\[0\] provider openai {2}<- decided/);
  });

  const usage: string[][] = [['policy'], ['policy', 'check'], ['policy', 'test', 'a'], ['policy', 'explain', 'a'], ['policy', 'lint', 'a'], ['policy', 'check', '--config', 'a']];
  for (const argv of usage) {
    it(`usage error: ${argv.join(' ')}`, async () => {
      await assert.rejects(runCommand(argv), UsageError);
    });
  }

  it('the command runs check through runCommand', async () => {
    const r = await runCommand(['policy', 'check', file('cmd.yaml', { ...policyInput(), providers: [{ ...policyInput().providers[0], reviewBy: '2999-01-01' }] })]);
    if (r.kind !== 'done') throw new Error('expected a finished command');
    assert.match(r.output, /cmd\.yaml: ok/);
  });
});
