// The mesh examples (Istio, Envoy Gateway, agentgateway): their CRDs are not in kubernetes-models, so
// these are structural checks of the settings Tollgate needs, and for Istio the ext_proc block must equal
// the one in the Envoy template that the end-to-end tests run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema } from '../../extproc/config/schema.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
type Obj = Record<string, unknown>;
const docs = (p: string): Obj[] => parseAllDocuments(readFileSync(join(ROOT, p), 'utf8')).map((d) => { assert.deepEqual(d.errors, [], p); return d.toJS() as Obj; });
const at = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((cur, k) => (cur === null || typeof cur !== 'object' ? undefined : (cur as Obj)[/^\d+$/.test(k) ? Number(k) : k] ?? (cur as Obj)[k]), o);
const ofKind = (all: Obj[], kind: string): Obj => { const d = all.find((x) => x['kind'] === kind); assert.ok(d, kind); return d; };

const limits = configSchema.shape.limits.parse({});
const BUFFER = Math.max(limits.maxRequestBodyBytes, limits.maxResponseBodyBytes);

/** The ext_proc typed_config of the shipped Envoy template (tokens filled as the renderer does). */
function templateExtProc(): Obj {
  const text = readFileSync(join(ROOT, 'envoy', 'tollgate.envoy.yaml'), 'utf8').replace(/"?\$\{(\w+)\}"?/g, (_, k: string) => (k === 'MESSAGE_TIMEOUT' ? '1s' : '0'));
  const filters = at(parseYaml(text), 'static_resources.listeners.0.filter_chains.0.filters.0.typed_config.http_filters') as { name: string; typed_config: Obj }[];
  const f = filters.find((x) => x.name === 'envoy.filters.http.ext_proc');
  assert.ok(f);
  return f.typed_config;
}

describe('deploy/istio', () => {
  const all = docs('deploy/istio/tollgate-istio.yaml');
  const text = readFileSync(join(ROOT, 'deploy/istio/tollgate-istio.yaml'), 'utf8');

  it('ext_authz: a CUSTOM AuthorizationPolicy on the egress gateway, naming the documented fail-closed provider', () => {
    const ap = ofKind(all, 'AuthorizationPolicy');
    assert.equal(ap['apiVersion'], 'security.istio.io/v1');
    assert.equal(at(ap, 'spec.action'), 'CUSTOM');
    const provider = at(ap, 'spec.provider.name');
    assert.equal(typeof provider, 'string');
    // The extensionProviders snippet in the header comment: the same name, failOpen false, 503.
    const lines = text.split('\n');
    const start = lines.findIndex((l) => l.startsWith('#    extensionProviders:'));
    const end = lines.findIndex((l, i) => i > start && l.trim() === '#');
    const snippet = parseYaml(lines.slice(start, end).map((l) => l.slice(5)).join('\n')) as { extensionProviders: { name: string; envoyExtAuthzGrpc: Obj }[] };
    const p = snippet.extensionProviders.find((x) => x.name === provider);
    assert.ok(p, 'the provider is declared');
    assert.equal(p.envoyExtAuthzGrpc['failOpen'], false);
    assert.equal(p.envoyExtAuthzGrpc['statusOnError'], '503');
    assert.equal(p.envoyExtAuthzGrpc['port'], 9001);
  });

  it('ext_proc: an EnvoyFilter inserting, after ext_authz, exactly the ext_proc settings of the tested Envoy template', () => {
    const ef = ofKind(all, 'EnvoyFilter');
    const patches = at(ef, 'spec.configPatches') as Obj[];
    const filter = patches.find((p) => at(p, 'applyTo') === 'HTTP_FILTER');
    assert.equal(at(filter, 'patch.operation'), 'INSERT_AFTER');
    assert.equal(at(filter, 'match.listener.filterChain.filter.subFilter.name'), 'envoy.filters.http.ext_authz');
    const mine = at(filter, 'patch.value.typed_config') as Obj;
    const tested = templateExtProc();
    for (const key of ['@type', 'failure_mode_allow', 'status_on_error', 'allow_mode_override', 'message_timeout', 'processing_mode', 'metadata_options', 'mutation_rules']) assert.deepEqual(mine[key], tested[key], key);
    assert.match(String(at(mine, 'grpc_service.envoy_grpc.cluster_name')), /^outbound\|9001\|\|tollgate\./);
    const listener = patches.find((p) => at(p, 'applyTo') === 'LISTENER');
    assert.ok(Number(at(listener, 'patch.value.per_connection_buffer_limit_bytes')) >= BUFFER);
    assert.deepEqual(at(ef, 'spec.workloadSelector.labels'), at(ofKind(all, 'AuthorizationPolicy'), 'spec.selector.matchLabels'), 'same gateway');
  });
});

describe('deploy/envoy-gateway', () => {
  const all = docs('deploy/envoy-gateway/tollgate-envoy-gateway.yaml');
  const tested = templateExtProc();

  it('SecurityPolicy.extAuth: gRPC to the Tollgate Service, failOpen false', () => {
    const sp = ofKind(all, 'SecurityPolicy');
    assert.equal(sp['apiVersion'], 'gateway.envoyproxy.io/v1alpha1');
    assert.equal(at(sp, 'spec.extAuth.failOpen'), false);
    assert.deepEqual(at(sp, 'spec.extAuth.grpc.backendRefs.0'), { name: 'tollgate', namespace: 'tollgate', port: 9001 });
  });

  it('EnvoyExtensionPolicy.extProc: the template\'s modes, timeout, fail-closed, override and forwarded namespace', () => {
    const ep = ofKind(all, 'EnvoyExtensionPolicy');
    const x = at(ep, 'spec.extProc.0');
    assert.equal(at(x, 'failOpen'), tested['failure_mode_allow']);
    assert.equal(at(x, 'failOpen'), false);
    assert.equal(at(x, 'messageTimeout'), tested['message_timeout']);
    assert.equal(at(x, 'processingMode.request.body'), 'Buffered');
    assert.equal(at(x, 'processingMode.response.body'), 'Buffered');
    assert.equal(at(tested, 'processing_mode.request_body_mode'), 'BUFFERED');
    assert.equal(at(x, 'processingMode.allowModeOverride'), tested['allow_mode_override']);
    assert.deepEqual(at(x, 'metadata.accessibleNamespaces'), at(tested, 'metadata_options.forwarding_namespaces.untyped'));
    assert.deepEqual(at(x, 'backendRefs.0'), { name: 'tollgate', namespace: 'tollgate', port: 9001 });
  });

  it('every policy targets the same Gateway, the buffer covers the body limits, and a ReferenceGrant admits the cross-namespace refs', () => {
    const targets = all.filter((d) => String(d['apiVersion']).startsWith('gateway.envoyproxy.io/')).map((d) => JSON.stringify(at(d, 'spec.targetRefs')));
    assert.equal(new Set(targets).size, 1);
    const mi = /^(\d+)Mi$/.exec(String(at(ofKind(all, 'ClientTrafficPolicy'), 'spec.connection.bufferLimit')));
    assert.ok(mi && Number(mi[1]) * 1024 * 1024 >= BUFFER);
    const grant = ofKind(all, 'ReferenceGrant');
    const from = (at(grant, 'spec.from') as Obj[]).map((f) => f['kind']);
    assert.deepEqual(from.sort(), ['EnvoyExtensionPolicy', 'SecurityPolicy']);
    assert.equal(at(grant, 'metadata.namespace'), 'tollgate');
  });
});

describe('deploy/agentgateway', () => {
  it('routes through both Tollgate policies, fail closed, and says plainly what is unverified', () => {
    const [cfg] = docs('deploy/agentgateway/tollgate-agentgateway.yaml');
    const route = at(cfg, 'binds.0.listeners.0.routes.0');
    assert.match(String(at(route, 'policies.extAuthz.host')), /^tollgate\..*:9001$/);
    assert.match(String(at(route, 'policies.extProc.host')), /^tollgate\..*:9001$/);
    assert.match(String(at(route, 'policies.extAuthz.failureMode')), /deny|closed/i);
    assert.match(String(at(route, 'policies.extProc.failureMode')), /closed/i);
    const text = readFileSync(join(ROOT, 'deploy/agentgateway/tollgate-agentgateway.yaml'), 'utf8');
    assert.match(text, /UNVERIFIED/);
    assert.match(text, /envoy\.filters\.http\.ext_authz/);
    assert.match(text, /BUFFERED/);
  });
});
