// The dlp section of the policy file (defaults, strictness, custom patterns compiled on the linear engine at
// load, action rules) and the action decision over findings (scoping, precedence, defaults).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dlpSchema } from '../../extproc/config/dlp-schema.ts';
import { decideDlp, type DlpActionRule } from '../../extproc/detectors/dlp-actions.ts';
import type { Finding } from '../../extproc/core/content.ts';

const f = (detector: string, type: string, start = 0): Finding => ({ detector, type, start, end: start + 1 });
const scope = { tenant: 'acme', identity: 'svc-a', provider: 'openai' };

describe('dlp schema', () => {
  it('an empty section gets the documented defaults', () => {
    const d = dlpSchema.parse({});
    assert.equal(d.enabled, true);
    assert.deepEqual(d.detectors.locales, ['us', 'gb', 'es', 'de']);
    assert.deepEqual(d.detectors.phone, { enabled: false, requireContext: true });
    assert.deepEqual(d.detectors.ip, { enabled: false, requireContext: true, includePrivate: false });
    assert.ok(d.allowList.includes('AKIAIOSFODNN7EXAMPLE'));
    assert.deepEqual(d.limits, { maxInputBytes: 8 * 1024 * 1024, maxFindings: 1000, maxScanMs: 100 });
    assert.deepEqual(d.response, { scan: true, holdBack: 64, maxHoldBack: 16384 });
  });

  const invalid: [string, unknown, RegExp][] = [
    ['unknown key', { detecotrs: {} }, /detecotrs/],
    ['unknown built-in id', { detectors: { disable: ['secret.nope'] } }, /disable/],
    ['route without class', { actions: [{ detectors: ['pii.*'], action: 'route' }] }, /route/],
    ['restore on block', { actions: [{ detectors: ['*'], action: 'block', restore: true }] }, /restore/],
    ['bad type name', { custom: [{ id: 'custom.x', type: 'lower', pattern: 'x[0-9]+' }] }, /type/],
    ['backreference', { custom: [{ id: 'custom.x', type: 'X', pattern: '(a)\\1' }] }, /linear-time engine/],
    ['lookahead', { custom: [{ id: 'custom.x', type: 'X', pattern: 'a(?=b)' }] }, /linear-time engine/],
    ['large bounded count', { custom: [{ id: 'custom.x', type: 'X', pattern: '[a-z]{40}' }] }, /linear-time engine/],
    ['empty match', { custom: [{ id: 'custom.x', type: 'X', pattern: 'a?' }] }, /empty string/],
    ['duplicate custom id', { custom: [{ id: 'custom.x', type: 'X', pattern: 'x1' }, { id: 'custom.x', type: 'Y', pattern: 'y1' }] }, /duplicate/],
    ['min over max', { custom: [{ id: 'custom.x', type: 'X', pattern: 'x[0-9]+', minLength: 10, maxLength: 5 }] }, /maxLength/],
    ['tiny input cap', { limits: { maxInputBytes: 10 } }, /maxInputBytes/],
  ];
  for (const [name, input, re] of invalid) {
    it(`refuses: ${name}`, () => {
      const r = dlpSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.match(JSON.stringify(r.error.issues), re);
    });
  }

  it('accepts a full section', () => {
    const d = dlpSchema.parse({
      detectors: { disable: ['secret.basic_auth'], locales: ['gb'], phone: { enabled: true } },
      allowList: [],
      custom: [{ id: 'custom.emp', type: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]+', validator: 'luhn', contextWords: ['employee'], keywords: ['EMP-'] }],
      actions: [
        { detectors: ['EMAIL'], action: 'mask', restore: true, when: { providers: ['openai'] } },
        { detectors: ['pii.*'], action: 'route', route: 'onprem' },
        { detectors: ['secret.jwt'], action: 'allow', when: { tenants: ['acme'] } },
      ],
      limits: { maxFindings: 50 },
    });
    assert.equal(d.custom[0]?.maxLength, 256);
    assert.equal(d.actions.length, 3);
  });
});

describe('dlp actions', () => {
  const rules: DlpActionRule[] = [
    { detectors: ['EMAIL'], action: 'mask', restore: true, when: { providers: ['openai'] } },
    { detectors: ['pii.us_ssn'], action: 'route', route: 'onprem' },
    { detectors: ['secret.jwt'], action: 'allow', when: { tenants: ['acme'] } },
    { detectors: ['custom.*'], action: 'block' },
  ];

  const table: [string, Finding[], typeof scope, { action: string; route?: string; mask: number; restore: boolean; blocked: string[]; rule: number }][] = [
    ['no findings', [], scope, { action: 'allow', mask: 0, restore: false, blocked: [], rule: -1 }],
    ['email masked with restore', [f('pii.email', 'EMAIL')], scope, { action: 'mask', mask: 1, restore: true, blocked: [], rule: 0 }],
    ['email on another provider: default mask, no restore', [f('pii.email', 'EMAIL')], { ...scope, provider: 'anthropic' }, { action: 'mask', mask: 1, restore: false, blocked: [], rule: -1 }],
    ['ssn routes', [f('pii.us_ssn', 'US_SSN'), f('pii.email', 'EMAIL', 5)], scope, { action: 'route', route: 'onprem', mask: 1, restore: true, blocked: [], rule: 1 }],
    ['jwt allowed for the tenant', [f('secret.jwt', 'JWT')], scope, { action: 'allow', mask: 0, restore: false, blocked: [], rule: -1 }],
    ['jwt blocked elsewhere (default for secrets)', [f('secret.jwt', 'JWT')], { ...scope, tenant: 'other' }, { action: 'block', mask: 0, restore: false, blocked: ['JWT'], rule: -1 }],
    ['block beats route and mask', [f('pii.email', 'EMAIL'), f('pii.us_ssn', 'US_SSN', 3), f('custom.t', 'TICKET', 9), f('secret.aws_access_key_id', 'AWS_ACCESS_KEY', 12)], scope, { action: 'block', mask: 1, restore: true, blocked: ['AWS_ACCESS_KEY', 'TICKET'], rule: 3 }],
  ];
  for (const [name, findings, sc, want] of table) {
    it(name, () => {
      const d = decideDlp(rules, findings, sc);
      assert.equal(d.action, want.action);
      assert.equal(d.route, want.route);
      assert.equal(d.mask.length, want.mask);
      assert.equal(d.restore, want.restore);
      assert.deepEqual(d.blockedTypes, want.blocked);
      assert.equal(d.rule, want.rule);
      assert.equal(Object.values(d.counts).reduce((a, b) => a + b, 0), findings.length);
    });
  }
});
