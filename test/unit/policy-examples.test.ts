// The example policies under examples/policy/ pass `policy check` and their own `policy test` files,
// and their explain request decides as the docs say.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { explainPolicy, runPolicyCheck, testPolicy } from '../../extproc/cli/policy.ts';
import { PROJECT_ROOT } from '../helpers/stack.ts';

const DIR = join(PROJECT_ROOT, 'examples', 'policy');
const policies = readdirSync(DIR).filter((f) => f.endsWith('.policy.yaml'));

describe('examples/policy', () => {
  it('has at least one policy with a test file', () => {
    assert.ok(policies.length > 0);
  });
  for (const p of policies) {
    const path = join(DIR, p);
    it(`${p} passes policy check with no warnings`, () => {
      const out = runPolicyCheck(path, new Date('2030-01-01T00:00:00Z'));
      assert.match(out, /: ok \(/);
      assert.doesNotMatch(out, /warning:/);
    });
    it(`${p} passes its policy tests`, () => {
      const out = testPolicy(path, path.replace(/\.policy\.yaml$/, '.policy.test.yaml'));
      const m = /PASS: (\d+)\/(\d+)/.exec(out);
      assert.ok(m !== null && m[1] === m[2] && Number(m[2]) >= 10, out);
    });
  }
  it('explain-request.json is denied by the ci-agent condition', () => {
    const out = explainPolicy(join(DIR, 'tollgate.policy.yaml'), join(DIR, 'explain-request.json'));
    assert.match(out, /^decision: deny$/m);
    assert.match(out, /^rule: +identities\[ci-agent\]\.allow\[0\]$/m);
    assert.match(out, /fail +identities\[ci-agent\]\.allow\[0\] when: condition is false/);
  });
});
