// Classification routing: the routing section's validation, the choice of a route class (DLP, declared header,
// JWT claim; first-listed class wins), the target per wire format, and the Envoy routes it needs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { ConfigError } from '../../extproc/config/load.ts';
import { classificationRoutes, routeHeaderEarlyMutation } from '../../extproc/envoy/classification-routes.ts';
import { compilePolicy } from '../../extproc/policy/policy.ts';
import { chooseRoute, compileRouting } from '../../extproc/policy/routing.ts';
import { routeKindGroup } from '../../extproc/providers/index.ts';
import { baseConfigInput, mintTestKeys, testConfig } from '../helpers/config.ts';

const base = baseConfigInput(mintTestKeys(), 'https://api.openai.example/v1', '/dev/null');
const providers: ConfigInput['providers'] = [
  ...base.providers,
  { name: 'vllm', kind: 'openai-compatible', upstream: 'http://vllm.internal:8000/v1', models: ['*'], credential: { source: 'none' } },
  { name: 'claude', kind: 'anthropic', upstream: 'https://api.anthropic.example', models: ['claude-*'], credential: { source: 'none' } },
  { name: 'claude-onprem', kind: 'anthropic', upstream: 'http://gw.internal:9000', models: ['claude-*'], credential: { source: 'none' }, timeoutSeconds: 60 },
];
const withRouting = (routing: ConfigInput['routing'], dlp?: ConfigInput['dlp']): ConfigInput => ({ ...base, providers, routing, ...(dlp === undefined ? {} : { dlp }) });

describe('routing section validation', () => {
  const bad: [string, ConfigInput, RegExp][] = [
    ['unknown provider', withRouting({ classes: [{ name: 'onprem', providers: ['nope'] }] }), /unknown provider "nope"/],
    ['two targets of one wire format', withRouting({ classes: [{ name: 'onprem', providers: ['vllm', 'openai'] }] }), /one target per wire format/],
    ['duplicate class', withRouting({ classes: [{ name: 'a', providers: ['vllm'] }, { name: 'a', providers: ['claude'] }] }), /duplicate route class/],
    ['declared value maps to an unknown class', withRouting({ classes: [{ name: 'onprem', providers: ['vllm'] }], declared: { header: 'x-data-classification', map: { secret: 'vault' } } }), /unknown route class "vault"/],
    ['declared without header or claim', withRouting({ classes: [{ name: 'onprem', providers: ['vllm'] }], declared: { map: { secret: 'onprem' } } }), /needs a header or a claim/],
    ['declared header is the route header', withRouting({ classes: [{ name: 'onprem', providers: ['vllm'] }], declared: { header: 'x-tollgate-route-class', map: {} } }), /must differ from routing.header/],
    ['dlp route action names an unknown class', withRouting({ classes: [{ name: 'onprem', providers: ['vllm'] }] }, { actions: [{ detectors: ['pii.*'], action: 'route', route: 'elsewhere' }] }), /unknown route class "elsewhere"/],
    ['dlp route action without any classes', { ...base, dlp: { actions: [{ detectors: ['pii.*'], action: 'route', route: 'onprem' }] } }, /unknown route class "onprem"/],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses: ${name}`, () => {
      assert.throws(() => testConfig(input), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  it('accepts one target per wire format, and defaults the route header', () => {
    const c = testConfig(withRouting({ classes: [{ name: 'onprem', providers: ['vllm', 'claude-onprem'] }], declared: { claim: 'org.classification', map: { confidential: 'onprem' } } }));
    assert.equal(c.routing.header, 'x-tollgate-route-class');
    assert.equal(compilePolicy(c).routing?.targets.get('onprem')?.size, 2);
  });

  it('no classes: no compiled routing, and the policy revision does not change', () => {
    const c = testConfig({ ...base, providers });
    assert.equal(compileRouting(c), undefined);
    assert.equal(compilePolicy(c).revision, compilePolicy(testConfig({ ...base, providers, routing: { classes: [] } })).revision);
    assert.notEqual(compilePolicy(c).revision, compilePolicy(testConfig(withRouting({ classes: [{ name: 'onprem', providers: ['vllm'] }] }))).revision);
  });
});

describe('chooseRoute', () => {
  const routing = compileRouting(testConfig(withRouting({
    classes: [{ name: 'restricted', providers: ['vllm'] }, { name: 'onprem', providers: ['vllm', 'claude-onprem'] }],
    declared: { header: 'x-data-classification', claim: 'org.classification', map: { confidential: 'onprem', Restricted: 'restricted' } },
  })));
  assert.ok(routing !== undefined);
  const openai = routeKindGroup('openai');
  const anthropic = routeKindGroup('anthropic');
  const none = { dlpClass: undefined, headers: new Map<string, string>(), claims: {} };
  const table: [string, number, Parameters<typeof chooseRoute>[2], { routeClass: string; source: string; target: string | undefined } | undefined][] = [
    ['nothing applies', openai, none, undefined],
    ['a DLP class', openai, { ...none, dlpClass: 'onprem' }, { routeClass: 'onprem', source: 'dlp', target: 'vllm' }],
    ['a DLP class for Anthropic goes to the Anthropic target', anthropic, { ...none, dlpClass: 'onprem' }, { routeClass: 'onprem', source: 'dlp', target: 'claude-onprem' }],
    ['a class with no target for the format', anthropic, { ...none, dlpClass: 'restricted' }, { routeClass: 'restricted', source: 'dlp', target: undefined }],
    ['a declared header, case and spaces ignored', openai, { ...none, headers: new Map([['x-data-classification', ' CONFIDENTIAL ']]) }, { routeClass: 'onprem', source: 'header', target: 'vllm' }],
    ['an unmapped declared value', openai, { ...none, headers: new Map([['x-data-classification', 'public']]) }, undefined],
    ['a nested claim', openai, { ...none, claims: { org: { classification: 'confidential' } } }, { routeClass: 'onprem', source: 'claim', target: 'vllm' }],
    ['a claim array: every element counts, the most restrictive class wins', openai, { ...none, claims: { org: { classification: ['restricted', 'confidential'] } } }, { routeClass: 'restricted', source: 'claim', target: 'vllm' }],
    ['a claim array: an unmapped first element does not hide a mapped one (["public","confidential"] is not cloud)', openai, { ...none, claims: { org: { classification: ['public', 'confidential'] } } }, { routeClass: 'onprem', source: 'claim', target: 'vllm' }],
    ['a claim array: the most restrictive class, not the first element', openai, { ...none, claims: { org: { classification: ['confidential', 'Restricted'] } } }, { routeClass: 'restricted', source: 'claim', target: 'vllm' }],
    ['a claim array: non-strings skipped, the rest read', openai, { ...none, claims: { org: { classification: [7, null, 'confidential'] } } }, { routeClass: 'onprem', source: 'claim', target: 'vllm' }],
    ['a non-string claim is ignored', openai, { ...none, claims: { org: { classification: 3 } } }, undefined],
    ['the class listed first wins over a DLP class', openai, { ...none, dlpClass: 'onprem', headers: new Map([['x-data-classification', 'restricted']]) }, { routeClass: 'restricted', source: 'header', target: 'vllm' }],
    ['a DLP class listed first wins over a declared one', openai, { ...none, dlpClass: 'restricted', claims: { org: { classification: 'confidential' } } }, { routeClass: 'restricted', source: 'dlp', target: 'vllm' }],
  ];
  for (const [name, group, input, want] of table) {
    it(name, () => {
      assert.deepEqual(chooseRoute(routing, group, input), want);
    });
  }
});

describe('classification routes for Envoy', () => {
  const config = testConfig(withRouting({ classes: [{ name: 'onprem', providers: ['vllm', 'claude-onprem'] }] }));
  const routes = classificationRoutes(config) as { name: string; match: { prefix: string; headers: { name: string; string_match: { exact: string } }[] }; request_headers_to_remove: string[]; route: Record<string, string> }[];

  it('one route per source provider whose class target is another provider of its format', () => {
    assert.deepEqual(routes.map((r) => r.name), ['openai_class_onprem', 'claude_class_onprem']);
  });

  it("matches the source prefix plus the route header, and sends with the target's cluster, rewrites and timeout", () => {
    const [toVllm, toClaude] = routes;
    assert.deepEqual(toVllm?.match, { prefix: '/openai/', headers: [{ name: 'x-tollgate-route-class', string_match: { exact: 'onprem' } }] });
    assert.deepEqual(toVllm.route, { cluster: 'provider_vllm', prefix_rewrite: '/v1/', host_rewrite_literal: 'vllm.internal:8000', timeout: '300s' });
    assert.deepEqual(toClaude?.route, { cluster: 'provider_claude-onprem', prefix_rewrite: '/', host_rewrite_literal: 'gw.internal:9000', timeout: '60s' });
    for (const r of routes) for (const h of ['x-tollgate-route-class', 'x-forwarded-proto', 'x-forwarded-for']) assert.ok(r.request_headers_to_remove.includes(h), `${r.name} removes ${h}`);
  });

  it('the early header mutation removes the route header; nothing without classes', () => {
    assert.match(JSON.stringify(routeHeaderEarlyMutation(config)), /"remove":"x-tollgate-route-class"/);
    assert.deepEqual(routeHeaderEarlyMutation(testConfig({ ...base, providers })), []);
    assert.deepEqual(classificationRoutes(testConfig({ ...base, providers })), []);
  });
});
