// The mesh examples (Istio, Envoy Gateway, agentgateway): their CRDs are not in kubernetes-models, so
// these are structural checks of the settings Tollgate needs, and for Istio the ext_proc block must equal
// the one in the Envoy template that the end-to-end tests run. Each of envoy/README.md's must-hold items is
// checked in the Istio and Envoy Gateway examples, or listed as an exception that docs/deploy.md explains.
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
    const filter = patches.find((p) => at(p, 'applyTo') === 'HTTP_FILTER' && at(p, 'patch.value.name') === 'envoy.filters.http.ext_proc');
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
    const targets = all.filter((d) => String(d['apiVersion']).startsWith('gateway.envoyproxy.io/') && at(d, 'spec.targetRefs.0.kind') === 'Gateway').map((d) => JSON.stringify(at(d, 'spec.targetRefs')));
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

// envoy/README.md's must-hold list, item by item, for each mesh example.
const MUST_HOLD = [
  'body cap before ext_authz',
  'ext_authz fails closed',
  'ext_proc after ext_authz, on every route',
  'ext_proc only where routed (disabled on the listener, enabled per route)',
  'buffer limit covers both body limits',
  'prefix strip and Host rewrite',
  'TLS to providers, certificate verified for the host',
  'runtime flag ext_proc_graceful_grpc_close off',
  'mTLS to Tollgate',
] as const;
type Item = (typeof MUST_HOLD)[number];

/**
 * Items a mesh cannot express as a setting, each with the sentence of docs/deploy.md that says so. Every
 * other item must have a check below.
 */
const EXCEPTIONS: Record<string, Partial<Record<Item, string>>> = {
  istio: {},
  'envoy-gateway': {
    'ext_proc only where routed (disabled on the listener, enabled per route)': 'Envoy Gateway adds policy filters to the listener disabled and enables them on each route a policy covers',
  },
};

const templateText = (): Obj => parseYaml(readFileSync(join(ROOT, 'envoy', 'tollgate.envoy.yaml'), 'utf8').replace(/"?\$\{(\w+)\}"?/g, '0')) as Obj;
const RUNTIME_FLAG = 'envoy.reloadable_features.ext_proc_graceful_grpc_close';
const K8S_TOLLGATE = parseYaml(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'tollgate.yaml'), 'utf8')) as Obj;
const TOLLGATE_HOST = 'tollgate.tollgate.svc.cluster.local';
const mib = (q: unknown): number => { const m = /^(\d+)Mi$/.exec(String(q)); assert.ok(m, String(q)); return Number(m[1]) * 1024 * 1024; };

function istioChecks(): Record<Item, () => void> {
  const all = docs('deploy/istio/tollgate-istio.yaml');
  const text = readFileSync(join(ROOT, 'deploy/istio/tollgate-istio.yaml'), 'utf8');
  const named = (kind: string, name: string): Obj => { const d = all.find((x) => x['kind'] === kind && at(x, 'metadata.name') === name); assert.ok(d, `${kind} ${name}`); return d; };
  const patches = at(ofKind(all, 'EnvoyFilter'), 'spec.configPatches') as Obj[];
  const filterPatch = (name: string): Obj => { const p = patches.find((x) => at(x, 'applyTo') === 'HTTP_FILTER' && at(x, 'patch.value.name') === name); assert.ok(p, name); return p; };
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('#    extensionProviders:'));
  const end = lines.findIndex((l, i) => i > start && l.trim() === '#');
  const provider = (parseYaml(lines.slice(start, end).map((l) => l.slice(5)).join('\n')) as { extensionProviders: { name: string; envoyExtAuthzGrpc: Obj }[] }).extensionProviders[0];
  return {
    'body cap before ext_authz': () => {
      const p = filterPatch('envoy.filters.http.buffer');
      assert.equal(at(p, 'patch.operation'), 'INSERT_BEFORE');
      assert.equal(at(p, 'match.listener.filterChain.filter.subFilter.name'), 'envoy.filters.http.ext_authz');
      assert.equal(at(p, 'patch.value.typed_config.max_request_bytes'), limits.maxRequestBodyBytes);
    },
    'ext_authz fails closed': () => {
      assert.equal(at(ofKind(all, 'AuthorizationPolicy'), 'spec.action'), 'CUSTOM');
      assert.equal(at(ofKind(all, 'AuthorizationPolicy'), 'spec.provider.name'), provider?.name);
      assert.equal(provider?.envoyExtAuthzGrpc['failOpen'], false);
      assert.deepEqual(at(ofKind(all, 'AuthorizationPolicy'), 'spec.rules.0.to.0.operation.paths'), ['/*']);
    },
    'ext_proc after ext_authz, on every route': () => {
      const p = filterPatch('envoy.filters.http.ext_proc');
      assert.equal(at(p, 'patch.operation'), 'INSERT_AFTER');
      assert.equal(at(p, 'match.listener.filterChain.filter.subFilter.name'), 'envoy.filters.http.ext_authz');
      assert.equal(at(p, 'patch.value.typed_config.failure_mode_allow'), false);
    },
    'ext_proc only where routed (disabled on the listener, enabled per route)': () => {
      assert.equal(at(filterPatch('envoy.filters.http.ext_proc'), 'patch.value.disabled'), true);
      const vhost = patches.find((x) => at(x, 'applyTo') === 'VIRTUAL_HOST');
      assert.equal(at(vhost, 'patch.operation'), 'MERGE');
      const perRoute = (at(vhost, 'patch.value.typed_per_filter_config') as Obj | undefined)?.['envoy.filters.http.ext_proc'];
      // The template's own virtual-host setting.
      const tmplVhost = at(templateText(), 'static_resources.listeners.0.filter_chains.0.filters.0.typed_config.route_config.virtual_hosts.0.typed_per_filter_config') as Obj;
      assert.deepEqual(perRoute, tmplVhost['envoy.filters.http.ext_proc']);
    },
    'buffer limit covers both body limits': () => {
      const listener = patches.find((x) => at(x, 'applyTo') === 'LISTENER');
      assert.ok(Number(at(listener, 'patch.value.per_connection_buffer_limit_bytes')) >= BUFFER);
    },
    'prefix strip and Host rewrite': () => {
      const vs = ofKind(all, 'VirtualService');
      const route = (at(vs, 'spec.http') as Obj[]).find((r) => at(r, 'match.0.uri.prefix') === '/openai/');
      assert.ok(route);
      assert.deepEqual(at(route, 'rewrite'), { uri: '/', authority: 'api.openai.com' });
      assert.deepEqual(at(vs, 'spec.gateways'), [at(ofKind(all, 'Gateway'), 'metadata.name')]);
      assert.deepEqual(at(route, 'headers.request.remove'), ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path']);
    },
    'TLS to providers, certificate verified for the host': () => {
      const vs = ofKind(all, 'VirtualService');
      const dest = at(vs, 'spec.http.0.route.0.destination') as Obj;
      const se = named('ServiceEntry', 'openai');
      assert.deepEqual(at(se, 'spec.hosts'), [dest['host']]);
      const port = (at(se, 'spec.ports') as Obj[]).find((p) => p['number'] === at(dest, 'port.number'));
      assert.equal(port?.['targetPort'], 443);
      const dr = named('DestinationRule', 'openai-tls');
      assert.equal(at(dr, 'spec.host'), dest['host']);
      const tls = (at(dr, 'spec.trafficPolicy.portLevelSettings') as Obj[]).find((p) => at(p, 'port.number') === at(dest, 'port.number'));
      assert.equal(at(tls, 'tls.mode'), 'SIMPLE');
      assert.equal(at(tls, 'tls.sni'), dest['host']);
      assert.deepEqual(at(tls, 'tls.subjectAltNames'), [dest['host']]);
      assert.equal(typeof at(tls, 'tls.caCertificates'), 'string');
    },
    'runtime flag ext_proc_graceful_grpc_close off': () => {
      const boot = patches.find((x) => at(x, 'applyTo') === 'BOOTSTRAP');
      const layers = at(boot, 'patch.value.layered_runtime.layers') as Obj[];
      assert.deepEqual(layers.map((l) => (l['static_layer'] as Obj | undefined)?.[RUNTIME_FLAG]), [false]);
    },
    'mTLS to Tollgate': () => {
      assert.equal(provider?.envoyExtAuthzGrpc['service'], TOLLGATE_HOST);
      assert.equal(at(filterPatch('envoy.filters.http.ext_proc'), 'patch.value.typed_config.grpc_service.envoy_grpc.cluster_name'), `outbound|9001||${TOLLGATE_HOST}`);
      const dr = named('DestinationRule', 'tollgate-mtls');
      assert.equal(at(dr, 'spec.host'), TOLLGATE_HOST);
      assert.equal(at(dr, 'spec.trafficPolicy.tls.mode'), 'MUTUAL');
      assert.equal(at(dr, 'spec.trafficPolicy.tls.sni'), TOLLGATE_HOST);
      assert.deepEqual(at(dr, 'spec.trafficPolicy.tls.subjectAltNames'), [TOLLGATE_HOST]);
      assert.deepEqual(at(dr, 'spec.workloadSelector.matchLabels'), at(ofKind(all, 'AuthorizationPolicy'), 'spec.selector.matchLabels'), 'the gateway presents it');
      const cert = named('Certificate', 'tollgate-egress-client');
      assert.equal(at(dr, 'spec.trafficPolicy.tls.credentialName'), at(cert, 'spec.secretName'));
      assert.equal(at(cert, 'metadata.namespace'), at(dr, 'metadata.namespace'), 'credentialName is read from the gateway\'s namespace');
      assert.ok((at(cert, 'spec.usages') as string[]).includes('client auth'));
      const uri = at(cert, 'spec.uris.0');
      assert.match(String(uri), /^spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\//);
      // The header tells the operator to add it to allowedClients; the shipped config's own entry is Envoy's.
      assert.ok(text.includes('server.grpc.tls.allowedClients'));
      assert.ok(Array.isArray(at(K8S_TOLLGATE, 'server.grpc.tls.allowedClients')));
    },
  };
}

function envoyGatewayChecks(): Record<Item, () => void> {
  const all = docs('deploy/envoy-gateway/tollgate-envoy-gateway.yaml');
  const named = (kind: string, name: string): Obj => { const d = all.find((x) => x['kind'] === kind && at(x, 'metadata.name') === name); assert.ok(d, `${kind} ${name}`); return d; };
  const gateway = ofKind(all, 'Gateway');
  const proxy = ofKind(all, 'EnvoyProxy');
  const order = at(proxy, 'spec.filterOrder') as { name: string; before?: string }[];
  const targetsGateway = (d: Obj): void => { assert.deepEqual(at(d, 'spec.targetRefs'), [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: at(gateway, 'metadata.name') }]); };
  return {
    'body cap before ext_authz': () => {
      const btp = named('BackendTrafficPolicy', 'tollgate-body-cap');
      targetsGateway(btp);
      assert.equal(mib(at(btp, 'spec.requestBuffer.limit')), limits.maxRequestBodyBytes);
      assert.ok(order.some((o) => o.name === 'envoy.filters.http.buffer' && o.before === 'envoy.filters.http.ext_authz'));
    },
    'ext_authz fails closed': () => {
      const sp = ofKind(all, 'SecurityPolicy');
      targetsGateway(sp);
      assert.equal(at(sp, 'spec.extAuth.failOpen'), false);
    },
    'ext_proc after ext_authz, on every route': () => {
      const ep = ofKind(all, 'EnvoyExtensionPolicy');
      targetsGateway(ep);
      assert.equal(at(ep, 'spec.extProc.0.failOpen'), false);
      assert.ok(order.some((o) => o.name === 'envoy.filters.http.ext_authz' && o.before === 'envoy.filters.http.ext_proc'));
    },
    'ext_proc only where routed (disabled on the listener, enabled per route)': () => { assert.fail('no setting: see EXCEPTIONS'); },
    'buffer limit covers both body limits': () => {
      const ctp = ofKind(all, 'ClientTrafficPolicy');
      targetsGateway(ctp);
      assert.ok(mib(at(ctp, 'spec.connection.bufferLimit')) >= BUFFER);
    },
    'prefix strip and Host rewrite': () => {
      const route = named('HTTPRoute', 'openai');
      assert.deepEqual(at(route, 'spec.parentRefs'), [{ name: at(gateway, 'metadata.name') }]);
      const rule = at(route, 'spec.rules.0') as Obj;
      assert.deepEqual(at(rule, 'matches.0.path'), { type: 'PathPrefix', value: '/openai/' });
      const rewrite = (at(rule, 'filters') as Obj[]).find((f) => f['type'] === 'URLRewrite');
      assert.deepEqual(at(rewrite, 'urlRewrite'), { hostname: 'api.openai.com', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } });
      const headers = (at(rule, 'filters') as Obj[]).find((f) => f['type'] === 'RequestHeaderModifier');
      assert.deepEqual(at(headers, 'requestHeaderModifier.remove'), ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path']);
    },
    'TLS to providers, certificate verified for the host': () => {
      const ref = at(named('HTTPRoute', 'openai'), 'spec.rules.0.backendRefs.0') as Obj;
      const backend = named('Backend', String(ref['name']));
      assert.equal(ref['kind'], 'Backend');
      assert.deepEqual(at(backend, 'spec.endpoints.0.fqdn'), { hostname: 'api.openai.com', port: 443 });
      const tls = named('BackendTLSPolicy', 'openai-tls');
      assert.deepEqual(at(tls, 'spec.targetRefs'), [{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: ref['name'] }]);
      assert.equal(at(tls, 'spec.validation.hostname'), 'api.openai.com');
      assert.equal(at(tls, 'spec.validation.wellKnownCACertificates'), 'System');
    },
    'runtime flag ext_proc_graceful_grpc_close off': () => {
      assert.equal(at(proxy, 'spec.bootstrap.type'), 'Merge');
      const boot = parseYaml(String(at(proxy, 'spec.bootstrap.value'))) as Obj;
      const layers = at(boot, 'layered_runtime.layers') as Obj[];
      assert.deepEqual(layers.map((l) => (l['static_layer'] as Obj | undefined)?.[RUNTIME_FLAG]), [false]);
      assert.deepEqual(at(gateway, 'spec.infrastructure.parametersRef'), { group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy', name: at(proxy, 'metadata.name') }, 'the Gateway uses this EnvoyProxy');
    },
    'mTLS to Tollgate': () => {
      assert.deepEqual(at(proxy, 'spec.backendTLS.clientCertificateRef'), { kind: 'Secret', name: 'tollgate-envoy-client-tls', namespace: at(gateway, 'metadata.namespace') });
      const tls = named('BackendTLSPolicy', 'tollgate-mtls');
      assert.equal(at(tls, 'metadata.namespace'), 'tollgate', 'beside the Service it targets');
      assert.deepEqual(at(tls, 'spec.targetRefs'), [{ group: '', kind: 'Service', name: 'tollgate', sectionName: 'grpc' }]);
      assert.equal(at(tls, 'spec.validation.hostname'), TOLLGATE_HOST);
      assert.equal(at(tls, 'spec.validation.caCertificateRefs.0.kind'), 'ConfigMap', 'the CA certificate only, never a Secret with a private key');
      // The client certificate's Secret is the one deploy/kubernetes issues for Envoy, whose URI Tollgate allows.
      const certs = docs('deploy/kubernetes/certificates.yaml');
      const client = certs.find((c) => at(c, 'spec.secretName') === 'tollgate-envoy-client-tls');
      assert.ok((at(client, 'spec.uris') as string[]).every((u) => (at(K8S_TOLLGATE, 'server.grpc.tls.allowedClients') as string[]).includes(u)));
    },
  };
}

describe('envoy/README.md\'s must-hold list in each mesh example', () => {
  const readme = readFileSync(join(ROOT, 'envoy', 'README.md'), 'utf8');
  const deployDoc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8').replace(/\s+/g, ' ');
  it('the list checked here is the README\'s (body cap, per-route ext_proc, prefix strip, TLS, runtime flag)', () => {
    for (const phrase of ['A request body cap', 'ext_proc runs on every route', 'path prefix is stripped', 'ext_proc_graceful_grpc_close', 'ext_authz runs **before** ext_proc']) assert.ok(readme.includes(phrase), phrase);
  });
  for (const [example, checks] of [['istio', istioChecks], ['envoy-gateway', envoyGatewayChecks]] as const) {
    for (const item of MUST_HOLD) {
      const exception = EXCEPTIONS[example]?.[item];
      it(`${example}: ${item}${exception === undefined ? '' : ' (exception)'}`, () => {
        if (exception !== undefined) {
          assert.ok(deployDoc.includes(exception), `docs/deploy.md explains the exception: "${exception}"`);
          return;
        }
        checks()[item]();
      });
    }
  }
});
