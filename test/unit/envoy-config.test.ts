// Rendering the Envoy config from the template, checked structurally and by Envoy itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../extproc/config/load.ts';
import type { Config } from '../../extproc/config/schema.ts';
import { DEFAULT_CA_FILE, DEFAULT_MAX_DOWNSTREAM_CONNECTIONS, ENVOY_TEMPLATE_PATH, renderEnvoyConfig, type EnvoyRenderOptions } from '../../extproc/envoy/render.ts';
import { runCommand, UsageError } from '../../extproc/cli/commands.ts';
import { findEnvoyBinary } from '../../extproc/dev/envoy-process.ts';

const run = promisify(execFile);

/** Loose view of the rendered document: only what these tests read. */
interface Rendered {
  admin: { address: { socket_address: { address: string; port_value: unknown } } };
  layered_runtime?: { layers: { name: string; static_layer?: Record<string, unknown> }[] };
  static_resources: {
    listeners: {
      address: { socket_address: { address: unknown; port_value: unknown } };
      per_connection_buffer_limit_bytes: unknown;
      filter_chains: { filters: { typed_config: { route_config: { virtual_hosts: { routes: Route[] }[] }; http_filters: HttpFilter[] } }[] }[];
    }[];
    clusters: Cluster[];
  };
}
interface Route { name: string; match: { prefix: string }; request_headers_to_remove?: string[]; route: { cluster: string; prefix_rewrite?: string; host_rewrite_literal?: string; timeout?: string; idle_timeout?: string } }
interface HttpFilter { name: string; typed_config: Record<string, unknown> & { failure_mode_allow?: boolean; grpc_service?: { envoy_grpc: { cluster_name: string }; timeout?: unknown }; metadata_options?: { forwarding_namespaces: { untyped: string[] } }; message_timeout?: unknown } }
interface Cluster {
  name: string;
  type: string;
  load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: unknown; port_value: unknown } } } }[] }[] };
  transport_socket?: { name: string; typed_config: { sni: string; common_tls_context: { validation_context: { trusted_ca: { filename: string }; match_typed_subject_alt_names: { san_type: string; matcher: { exact: string } }[] } } } };
}

const OPTS: EnvoyRenderOptions = {
  listenHost: '127.0.0.1',
  listenPort: 0,
  adminPort: 0,
  tollgateHost: '127.0.0.1',
  tollgatePort: 19001,
  caFile: DEFAULT_CA_FILE,
};

function config(maxRequestBodyBytes: number, maxResponseBodyBytes: number): Config {
  return validateConfig({
    version: 1,
    limits: { maxRequestBodyBytes, maxResponseBodyBytes },
    providers: [
      { name: 'local', kind: 'openai-compatible', upstream: 'http://127.0.0.1:8080/v1', models: ['*'], credential: { source: 'none' }, timeoutSeconds: 45 },
      { name: 'anthropic', kind: 'anthropic', upstream: 'https://api.anthropic.com', models: ['claude-*'], credential: { source: 'none' } },
      { name: 'tools', kind: 'mcp', upstream: 'https://mcp.example.com', credential: { source: 'none' }, timeoutSeconds: 600 },
    ],
    identities: [],
  }, 't');
}

const cluster = (doc: Rendered, name: string): Cluster => {
  const c = doc.static_resources.clusters.find((x) => x.name === name);
  assert.ok(c, `cluster ${name}`);
  return c;
};
const endpoint = (c: Cluster) => c.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address;

describe('renderEnvoyConfig', () => {
  const text = renderEnvoyConfig(config(2 * 1024 * 1024, 1024 * 1024), OPTS);
  const doc = parseYaml(text) as Rendered;
  const listener = doc.static_resources.listeners[0]!;
  const hcm = listener.filter_chains[0]!.filters[0]!.typed_config;
  const routes = hcm.route_config.virtual_hosts[0]!.routes;
  const route = (name: string): Route => {
    const r = routes.find((x) => x.name === name);
    assert.ok(r, `route ${name}`);
    return r;
  };

  it('leaves no ${...} token behind', () => {
    assert.doesNotMatch(text, /\$\{/);
    assert.match(readFileSync(ENVOY_TEMPLATE_PATH, 'utf8'), /\$\{[A-Z_]+\}/, 'the template does have tokens');
  });

  it('fills ports as numbers and hosts as strings', () => {
    assert.equal(doc.admin.address.socket_address.port_value, 0);
    assert.deepEqual(listener.address.socket_address, { address: '127.0.0.1', port_value: 0 });
    const tollgate = cluster(doc, 'tollgate');
    assert.deepEqual(endpoint(tollgate), { address: '127.0.0.1', port_value: 19001 });
  });

  it('sets the listener buffer limit to the larger body limit', () => {
    assert.equal(listener.per_connection_buffer_limit_bytes, 2 * 1024 * 1024);
    const other = parseYaml(renderEnvoyConfig(config(64 * 1024, 8 * 1024 * 1024), OPTS)) as Rendered;
    assert.equal(other.static_resources.listeners[0]?.per_connection_buffer_limit_bytes, 8 * 1024 * 1024);
  });

  it('routes /<name>/ to the provider, rewriting the prefix to the upstream base path and the host', () => {
    assert.deepEqual(route('local'), {
      name: 'local',
      match: { prefix: '/local/' },
      request_headers_to_remove: ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path'],
      route: { cluster: 'provider_local', prefix_rewrite: '/v1/', host_rewrite_literal: '127.0.0.1:8080', timeout: '45s' },
    });
    assert.deepEqual(route('anthropic'), {
      name: 'anthropic',
      match: { prefix: '/anthropic/' },
      request_headers_to_remove: ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path'],
      route: { cluster: 'provider_anthropic', prefix_rewrite: '/', host_rewrite_literal: 'api.anthropic.com', timeout: '300s' },
    });
  });

  it('routes an MCP server without a whole-response timeout (its streams are long-lived), with an idle timeout instead', () => {
    assert.deepEqual(route('tools'), {
      name: 'tools',
      match: { prefix: '/tools/' },
      request_headers_to_remove: ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path'],
      route: { cluster: 'provider_tools', prefix_rewrite: '/', host_rewrite_literal: 'mcp.example.com', timeout: '0s', idle_timeout: '600s' },
    });
  });

  it('puts provider routes before any catch-all route', () => {
    const firstCatchAll = routes.findIndex((r) => r.match.prefix === '/');
    const lastProvider = Math.max(routes.findIndex((r) => r.name === 'local'), routes.findIndex((r) => r.name === 'anthropic'));
    assert.ok(firstCatchAll === -1 || firstCatchAll > lastProvider, JSON.stringify(routes.map((r) => r.name)));
    for (const r of routes) assert.ok(doc.static_resources.clusters.some((c) => c.name === r.route.cluster), `cluster for route ${r.name}`);
  });

  it('makes a STATIC cluster without TLS for an http IP upstream', () => {
    const c = cluster(doc, 'provider_local');
    assert.equal(c.type, 'STATIC');
    assert.deepEqual(endpoint(c), { address: '127.0.0.1', port_value: 8080 });
    assert.equal(c.transport_socket, undefined);
  });

  it('makes a STRICT_DNS cluster with TLS, SNI and SAN check for an https hostname upstream', () => {
    const c = cluster(doc, 'provider_anthropic');
    assert.equal(c.type, 'STRICT_DNS');
    assert.deepEqual(endpoint(c), { address: 'api.anthropic.com', port_value: 443 });
    assert.equal(c.transport_socket?.name, 'envoy.transport_sockets.tls');
    const tls = c.transport_socket.typed_config;
    assert.equal(tls.sni, 'api.anthropic.com');
    assert.equal(tls.common_tls_context.validation_context.trusted_ca.filename, DEFAULT_CA_FILE);
    assert.deepEqual(tls.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'DNS', matcher: { exact: 'api.anthropic.com' } }]);
  });

  const upstreams: readonly [string, string, string, number, string | undefined][] = [
    // [upstream, cluster type, address, port, SAN type]
    ['http://api.internal', 'STRICT_DNS', 'api.internal', 80, undefined],
    ['http://[::1]:11434/v1', 'STATIC', '::1', 11434, undefined],
    ['https://10.0.0.7:8443/openai', 'STATIC', '10.0.0.7', 8443, 'IP_ADDRESS'],
    ['https://example.openai.azure.com/openai/', 'STRICT_DNS', 'example.openai.azure.com', 443, 'DNS'],
  ];
  for (const [upstream, type, address, port, san] of upstreams) {
    it(`clusters ${upstream} as ${type} ${address}:${port}${san === undefined ? '' : ` with ${san} SAN`}`, () => {
      const cfg = validateConfig({ version: 1, providers: [{ name: 'p', kind: 'openai', upstream, models: ['*'], credential: { source: 'none' } }], identities: [] }, 't');
      const c = cluster(parseYaml(renderEnvoyConfig(cfg, OPTS)) as Rendered, 'provider_p');
      assert.equal(c.type, type);
      assert.deepEqual(endpoint(c), { address, port_value: port });
      assert.equal(c.transport_socket?.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0]?.san_type, san);
    });
  }

  it('rewrites a trailing-slash base path to exactly one slash', () => {
    const cfg = validateConfig({ version: 1, providers: [{ name: 'p', kind: 'openai', upstream: 'https://example.com/openai/', models: ['*'], credential: { source: 'none' } }], identities: [] }, 't');
    const doc2 = parseYaml(renderEnvoyConfig(cfg, OPTS)) as Rendered;
    const r = doc2.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config.route_config.virtual_hosts[0]?.routes.find((x) => x.name === 'p');
    assert.equal(r?.route.prefix_rewrite, '/openai/');
  });

  it('caps the body, then runs ext_authz, ext_proc and the router, both failing closed, ext_proc seeing ext_authz metadata', () => {
    const names = hcm.http_filters.map((f) => f.name);
    assert.deepEqual(names, ['envoy.filters.http.buffer', 'envoy.filters.http.ext_authz', 'envoy.filters.http.ext_proc', 'envoy.filters.http.router']);
    const [buffer, authz, proc] = hcm.http_filters;
    assert.equal((buffer?.typed_config as { max_request_bytes?: number }).max_request_bytes, 2 * 1024 * 1024, "the body cap is maxRequestBodyBytes");
    assert.equal(authz?.typed_config.failure_mode_allow, false);
    assert.equal(proc?.typed_config.failure_mode_allow, false);
    assert.equal(authz.typed_config.grpc_service?.envoy_grpc.cluster_name, 'tollgate');
    assert.equal(proc.typed_config.grpc_service?.envoy_grpc.cluster_name, 'tollgate');
    assert.ok(proc.typed_config.metadata_options?.forwarding_namespaces.untyped.includes('envoy.filters.http.ext_authz'));
    assert.equal(authz.typed_config.grpc_service.timeout, '0.5s');
    assert.equal(proc.typed_config.message_timeout, '1s');
  });

  it('keeps the graceful ext_proc close off, explicitly (it crashed Envoy 1.40 on long-paused streams, ADR 0006)', () => {
    const layers = doc.layered_runtime?.layers ?? [];
    assert.deepEqual(layers.map((l) => l.static_layer?.['envoy.reloadable_features.ext_proc_graceful_grpc_close']), [false]);
  });

  it('throws on a template token it does not know', () => {
    const template = readFileSync(ENVOY_TEMPLATE_PATH, 'utf8').replace('"${AUTHZ_TIMEOUT}"', '"${NOT_A_TOKEN}"');
    assert.ok(template.includes('${NOT_A_TOKEN}'));
    assert.throws(() => renderEnvoyConfig(config(1024 * 1024, 1024 * 1024), OPTS, template), /unknown tokens NOT_A_TOKEN/);
  });

  it('throws on a token embedded in a longer string', () => {
    const template = readFileSync(ENVOY_TEMPLATE_PATH, 'utf8').replace('stat_prefix: egress', 'stat_prefix: "egress_${LISTEN_PORT}"');
    assert.throws(() => renderEnvoyConfig(config(1024 * 1024, 1024 * 1024), OPTS, template), /left unrendered/);
  });

  it('throws when the template lost the section routes go into', () => {
    const template = readFileSync(ENVOY_TEMPLATE_PATH, 'utf8').replace(/virtual_hosts:[\s\S]*?routes: \[\]/, 'virtual_hosts: []');
    assert.throws(() => renderEnvoyConfig(config(1024 * 1024, 1024 * 1024), OPTS, template), /envoy template: .*virtual_hosts\.0 is not a map/);
  });

  it('throws on a template that is not YAML', () => {
    assert.throws(() => renderEnvoyConfig(config(1024 * 1024, 1024 * 1024), OPTS, 'admin: [unclosed'), /envoy template: /);
  });
});

describe('renderEnvoyConfig validated by Envoy', () => {
  let bin: string | undefined;
  try {
    bin = findEnvoyBinary(undefined);
  } catch {
    bin = undefined;
  }
  const skip = bin === undefined ? 'no Envoy binary: run `bash scripts/install-envoy.sh`' : !existsSync(DEFAULT_CA_FILE) ? `no CA bundle at ${DEFAULT_CA_FILE}` : false;
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-envoy-validate-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('envoy --mode validate accepts the rendered config', { skip, timeout: 20_000 }, async () => {
    const path = join(dir, 'envoy.yaml');
    writeFileSync(path, renderEnvoyConfig(config(2 * 1024 * 1024, 1024 * 1024), OPTS));
    const { stdout, stderr } = await run(bin!, ['--mode', 'validate', '--config-path', path, '--log-level', 'error'], { timeout: 15_000 });
    assert.match(stdout + stderr, /OK/);
  });

  it('envoy --mode validate accepts several listed replicas and a connection limit', { skip, timeout: 20_000 }, async () => {
    const path = join(dir, 'replicas.yaml');
    writeFileSync(path, renderEnvoyConfig(config(2 * 1024 * 1024, 1024 * 1024), { ...OPTS, tollgateEndpoints: [{ host: '127.0.0.1', port: 19001 }, { host: '127.0.0.2', port: 19001 }], maxDownstreamConnections: 64 }));
    const { stdout, stderr } = await run(bin!, ['--mode', 'validate', '--config-path', path, '--log-level', 'error'], { timeout: 15_000 });
    assert.match(stdout + stderr, /OK/);
  });

  it('envoy --mode validate rejects a broken config (the check is real)', { skip, timeout: 20_000 }, async () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, renderEnvoyConfig(config(2 * 1024 * 1024, 1024 * 1024), OPTS).replace('type: STRICT_DNS', 'type: NOT_A_CLUSTER_TYPE'));
    await assert.rejects(run(bin!, ['--mode', 'validate', '--config-path', path, '--log-level', 'critical'], { timeout: 15_000 }), (err: unknown) => (err as { code?: unknown }).code !== 0);
  });
});

describe('tollgate envoy render (the command)', () => {
  let dir = '';
  let cfgPath = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-envoy-cli-'));
    cfgPath = join(dir, 'tollgate.yaml');
    writeFileSync(cfgPath, 'version: 1\nproviders:\n  - { name: local, kind: openai-compatible, upstream: "http://127.0.0.1:8080/v1", models: ["*"], credential: { source: none } }\nidentities: []\n');
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  const render = async (...args: string[]): Promise<Rendered> => {
    const r = await runCommand(['envoy', 'render', '--config', cfgPath, ...args]);
    assert.ok(r.kind === 'done');
    return parseYaml(r.output) as Rendered;
  };
  const tollgateCluster = (doc: Rendered): Cluster & { circuit_breakers?: { thresholds: { max_requests: unknown }[] } } => cluster(doc, 'tollgate');

  it('listens on loopback unless --listen says otherwise', async () => {
    assert.equal((await render('--tollgate', '10.0.0.7:9001')).static_resources.listeners[0]?.address.socket_address.address, '127.0.0.1');
    assert.equal((await render('--tollgate', '10.0.0.7:9001', '--listen', '0.0.0.0')).static_resources.listeners[0]?.address.socket_address.address, '0.0.0.0');
  });

  it('one --tollgate: a STRICT_DNS cluster of that name; several: a STATIC cluster with exactly those replicas', async () => {
    const one = tollgateCluster(await render('--tollgate', 'tollgate.tollgate.svc:9001'));
    assert.equal(one.type, 'STRICT_DNS');
    assert.deepEqual(one.load_assignment.endpoints.flatMap((e) => e.lb_endpoints.map((l) => l.endpoint.address.socket_address)), [{ address: 'tollgate.tollgate.svc', port_value: 9001 }]);
    const many = tollgateCluster(await render('--tollgate', '10.0.0.7:9001', '--tollgate', '10.0.0.8:9101', '--tollgate', '[fd00::9]:9001'));
    assert.equal(many.type, 'STATIC');
    assert.deepEqual(many.load_assignment.endpoints.flatMap((e) => e.lb_endpoints.map((l) => l.endpoint.address.socket_address)), [
      { address: '10.0.0.7', port_value: 9001 }, { address: '10.0.0.8', port_value: 9101 }, { address: 'fd00::9', port_value: 9001 },
    ]);
  });

  it('refuses a hostname or a repeated address among several replicas, and a --tollgate without a port', async () => {
    await assert.rejects(runCommand(['envoy', 'render', '--config', cfgPath, '--tollgate', 'tollgate:9001', '--tollgate', '10.0.0.8:9001']), (e: unknown) => e instanceof UsageError && /must be IP addresses.*tollgate/.test(e.message));
    await assert.rejects(runCommand(['envoy', 'render', '--config', cfgPath, '--tollgate', '10.0.0.8:9001', '--tollgate', '10.0.0.8:9001']), (e: unknown) => e instanceof UsageError && /listed twice/.test(e.message));
    await assert.rejects(runCommand(['envoy', 'render', '--config', cfgPath, '--tollgate', '10.0.0.8']), UsageError);
    await assert.rejects(runCommand(['envoy', 'render', '--config', cfgPath, '--tollgate', '10.0.0.8:9001', '--max-connections', '0']), UsageError);
  });

  it('limits downstream connections (overload manager, admin exempt) and the streams to Tollgate (twice that)', async () => {
    type WithOverload = Rendered & { admin: { ignore_global_conn_limit?: boolean }; overload_manager?: { resource_monitors: { name: string; typed_config: { max_active_downstream_connections: unknown } }[] } };
    const byDefault = await render('--tollgate', '10.0.0.7:9001') as WithOverload;
    const monitor = byDefault.overload_manager?.resource_monitors.find((m) => m.name === 'envoy.resource_monitors.global_downstream_max_connections');
    assert.equal(monitor?.typed_config.max_active_downstream_connections, DEFAULT_MAX_DOWNSTREAM_CONNECTIONS);
    assert.equal(byDefault.admin.ignore_global_conn_limit, true);
    assert.equal(tollgateCluster(byDefault).circuit_breakers?.thresholds[0]?.max_requests, 2 * DEFAULT_MAX_DOWNSTREAM_CONNECTIONS);
    const small = await render('--tollgate', '10.0.0.7:9001', '--max-connections', '50') as WithOverload;
    assert.equal(small.overload_manager?.resource_monitors[0]?.typed_config.max_active_downstream_connections, 50);
    assert.equal(tollgateCluster(small).circuit_breakers?.thresholds[0]?.max_requests, 100);
  });

  it('with mTLS to several replicas, each replica\'s address is an accepted SAN', async () => {
    const doc = await render('--tollgate', '10.0.0.7:9001', '--tollgate', '10.0.0.8:9001', '--envoy-cert', '/e.crt', '--envoy-key', '/e.key', '--tollgate-ca', '/ca.crt');
    const sans = tollgateCluster(doc).transport_socket?.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names;
    assert.deepEqual(sans, [{ san_type: 'IP_ADDRESS', matcher: { exact: '10.0.0.7' } }, { san_type: 'IP_ADDRESS', matcher: { exact: '10.0.0.8' } }]);
  });
});
