import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parseDocument, visit, type Document, type YAMLMap } from 'yaml';
import type { Config, ProviderConfig } from '../config/schema.ts';
import { classificationRoutes, routeHeaderEarlyMutation } from './classification-routes.ts';

export const ENVOY_TEMPLATE_PATH = fileURLToPath(new URL('../../envoy/tollgate.envoy.yaml', import.meta.url));

export interface EnvoyRenderOptions {
  readonly listenHost: string;
  /** 0 lets the kernel pick; the harness reads the port back from Envoy's admin API. */
  readonly listenPort: number;
  readonly adminPort: number;
  /** Where Envoy reaches Tollgate's gRPC port. A hostname works too (STRICT_DNS). */
  readonly tollgateHost: string;
  readonly tollgatePort: number;
  /**
   * Several Tollgate replicas at fixed IP addresses (no DNS name for them): the tollgate cluster is
   * then STATIC with exactly these endpoints, and tollgateHost/tollgatePort are ignored.
   */
  readonly tollgateEndpoints?: readonly TollgateEndpoint[];
  /** Envoy's limit on open downstream connections (all listeners but admin); default 4096. */
  readonly maxDownstreamConnections?: number;
  /** CA bundle for https upstreams. */
  readonly caFile: string;
  /** mTLS to Tollgate (server.grpc.tls): Envoy's client certificate, and the CA that signed Tollgate's. */
  readonly tollgateTls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /**
   * Downstream mTLS on the listener: Envoy's server certificate, and the CA bundle of the trust
   * domains whose workloads may call. Every client must present a certificate that chains to it and
   * whose URI SAN is a SPIFFE ID in one of `identity.mtls.trustDomains`.
   */
  readonly listenerTls?: ListenerTls;
}

export interface TollgateEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface ListenerTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
}

export const DEFAULT_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
/** Open downstream connections Envoy accepts before it refuses new ones (overload manager). */
export const DEFAULT_MAX_DOWNSTREAM_CONNECTIONS = 4096;

/** Envoy's per-message budget for Tollgate. Tollgate answers in well under a millisecond; this covers GC pauses and credential misses. */
const MESSAGE_TIMEOUT = '1s';
const NO_PROVIDER_CLUSTER = 'tollgate_no_provider';
const AUTHZ_TIMEOUT = '0.5s';

function defaultPort(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}

function providerRoute(p: ProviderConfig): object {
  const url = new URL(p.upstream);
  const basePath = url.pathname.replace(/\/+$/, '');
  return {
    name: p.name,
    match: { prefix: `/${p.name}/` },
    // Nothing about the caller or the proxy reaches the provider.
    request_headers_to_remove: ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path'],
    route: {
      cluster: `provider_${p.name}`,
      prefix_rewrite: `${basePath}/`,
      host_rewrite_literal: url.host,
      // An MCP server's streams are long-lived (the GET stream, subscriptions/listen): no cap on the whole
      // response, but one on silence, so a dead stream is still noticed.
      ...(p.kind === 'mcp' ? { timeout: '0s', idle_timeout: `${p.timeoutSeconds}s` } : { timeout: `${p.timeoutSeconds}s` }),
    },
  };
}

function providerCluster(p: ProviderConfig, caFile: string): object {
  const url = new URL(p.upstream);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const tls = url.protocol === 'https:';
  return {
    name: `provider_${p.name}`,
    type: isIP(host) === 0 ? 'STRICT_DNS' : 'STATIC',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: '5s',
    load_assignment: {
      cluster_name: `provider_${p.name}`,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: defaultPort(url) } } } }] }],
    },
    ...(tls ? { transport_socket: upstreamTlsSocket(host, caFile) } : {}),
  };
}

/**
 * TLS from Envoy to an upstream: verify its certificate against `caFile` with an exact SAN match on
 * `host` (DNS or IP), send `host` as SNI when it is a name (RFC 6066 allows no IP literals there), and
 * present a client certificate when one is given (mTLS to Tollgate, which also needs ALPN h2 for gRPC).
 */
function upstreamTlsSocket(host: string, caFile: string, client?: { readonly certFile: string; readonly keyFile: string }, sans: readonly string[] = [host]): object {
  const isName = isIP(host) === 0;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      ...(isName ? { sni: host } : {}),
      common_tls_context: {
        ...(client === undefined
          ? {}
          : { alpn_protocols: ['h2'], tls_certificates: [{ certificate_chain: { filename: client.certFile }, private_key: { filename: client.keyFile } }] }),
        validation_context: {
          trusted_ca: { filename: caFile },
          match_typed_subject_alt_names: sans.map((san) => ({ san_type: isIP(san) === 0 ? 'DNS' : 'IP_ADDRESS', matcher: { exact: san } })),
        },
      },
    },
  };
}

/**
 * The listener's DownstreamTlsContext: a client certificate is required and must chain to
 * `clientCaFile`; with trust domains configured, its URI SAN must also start with
 * `spiffe://<trust domain>/` for one of them (Tollgate checks the trust domain again).
 */
function listenerTlsSocket(tls: ListenerTls, trustDomains: readonly string[]): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: true,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
        tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
        validation_context: {
          trusted_ca: { filename: tls.clientCaFile },
          ...(trustDomains.length === 0 ? {} : { match_typed_subject_alt_names: trustDomains.map((td) => ({ san_type: 'URI', matcher: { prefix: `spiffe://${td}/` } })) }),
        },
      },
    },
  };
}

/**
 * The tollgate cluster's endpoints when replicas are listed: a STATIC cluster, so every address must be
 * an IP literal (a name belongs in a single --tollgate, which STRICT_DNS resolves to every replica).
 */
function staticTollgateEndpoints(list: readonly TollgateEndpoint[]): object {
  const names = list.filter((e) => isIP(e.host) === 0).map((e) => e.host);
  if (names.length > 0) throw new Error(`several Tollgate replicas must be IP addresses (STATIC cluster), not ${names.join(', ')}; give a DNS name that resolves to every replica as the only --tollgate instead`);
  const seen = new Set<string>();
  for (const e of list) {
    const key = `${e.host}:${e.port}`;
    if (seen.has(key)) throw new Error(`several Tollgate replicas: ${key} is listed twice`);
    seen.add(key);
  }
  return { cluster_name: 'tollgate', endpoints: [{ lb_endpoints: list.map((e) => ({ endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } })) }] };
}

function getIn(doc: Document, path: (string | number)[]): YAMLMap {
  const node = doc.getIn(path, true);
  if (!isMap(node)) throw new Error(`envoy template: ${path.join('.')} is not a map`);
  return node;
}

/** Renders the Envoy config for a Tollgate config. Throws if the template lost a section it relies on. */
export function renderEnvoyConfig(config: Config, opts: EnvoyRenderOptions, templateText = readFileSync(ENVOY_TEMPLATE_PATH, 'utf8')): string {
  const maxConnections = opts.maxDownstreamConnections ?? DEFAULT_MAX_DOWNSTREAM_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new Error(`maxDownstreamConnections must be a positive integer, not ${maxConnections}`);
  const tokens: Readonly<Record<string, string | number>> = {
    ADMIN_PORT: opts.adminPort,
    MAX_DOWNSTREAM_CONNECTIONS: maxConnections,
    // Each request in flight holds an ext_proc stream to Tollgate and, briefly, a Check.
    TOLLGATE_MAX_REQUESTS: 2 * maxConnections,
    LISTEN_HOST: opts.listenHost,
    LISTEN_PORT: opts.listenPort,
    BUFFER_LIMIT_BYTES: Math.max(config.limits.maxRequestBodyBytes, config.limits.maxResponseBodyBytes),
    MAX_REQUEST_BYTES: config.limits.maxRequestBodyBytes,
    TOLLGATE_HOST: opts.tollgateHost,
    TOLLGATE_PORT: opts.tollgatePort,
    MESSAGE_TIMEOUT,
    AUTHZ_TIMEOUT,
  };
  const doc = parseDocument(templateText);
  if (doc.errors.length > 0) throw new Error(`envoy template: ${doc.errors.map((e) => e.message).join('; ')}`);
  const unknown = new Set<string>();
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string') return;
      const whole = /^\$\{([A-Z_]+)\}$/.exec(node.value);
      if (whole?.[1] !== undefined) {
        const v = tokens[whole[1]];
        if (v === undefined) unknown.add(whole[1]);
        else {
          node.value = v;
          node.type = 'PLAIN';
        }
      }
    },
  });
  if (unknown.size > 0) throw new Error(`envoy template: unknown tokens ${[...unknown].join(', ')}`);

  const hcm = getIn(doc, ['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config']);
  // x-forwarded-client-cert: callers can never inject it (SANITIZE, the template's setting). Only
  // when Tollgate is told to trust it (identity.mtls.trustXfcc) does Envoy set it from the verified
  // peer certificate's URI SAN (SANITIZE_SET); that needs the mTLS listener.
  if (config.identity.mtls?.trustXfcc === true) {
    if (opts.listenerTls === undefined) throw new Error('identity.mtls.trustXfcc is set: the listener needs downstream mTLS (--listen-cert, --listen-key, --listen-client-ca)');
    hcm.set('forward_client_cert_details', 'SANITIZE_SET');
    hcm.set('set_current_client_cert_details', doc.createNode({ uri: true }));
  }
  if (opts.listenerTls !== undefined) {
    const chain = getIn(doc, ['static_resources', 'listeners', 0, 'filter_chains', 0]);
    chain.set('transport_socket', doc.createNode(listenerTlsSocket(opts.listenerTls, (config.identity.mtls?.trustDomains ?? []).map((td) => td.name))));
  }
  const vhost = getIn(doc, ['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config', 'route_config', 'virtual_hosts', 0]);
  // A catch-all route to a cluster with no hosts: Envoy skips ext_authz when no route matches, so
  // without it an unknown path would reach ext_proc unauthorized (which fails closed with a 500).
  // With it, ext_authz runs and answers 404 provider_unknown.
  // Classification routes come first: they match a provider's prefix plus the route class Tollgate set
  // (after clearing the route cache) and send the request to the class's provider instead.
  vhost.set('routes', doc.createNode([...classificationRoutes(config), ...config.providers.map(providerRoute), { name: 'no_provider', match: { prefix: '/' }, route: { cluster: NO_PROVIDER_CLUSTER } }]));
  // A caller may not pick a class itself: its route-class header is removed before the first route match.
  const early = routeHeaderEarlyMutation(config);
  if (early.length > 0) hcm.set('early_header_mutation_extensions', doc.createNode(early));
  const clusters = doc.getIn(['static_resources', 'clusters'], true);
  if (!isSeq(clusters)) throw new Error('envoy template: static_resources.clusters is not a list');
  clusters.add(doc.createNode({ name: NO_PROVIDER_CLUSTER, type: 'STATIC', connect_timeout: '0.25s', load_assignment: { cluster_name: NO_PROVIDER_CLUSTER, endpoints: [] } }));
  for (const p of config.providers) clusters.add(doc.createNode(providerCluster(p, opts.caFile)));
  const tollgate = clusters.items.find((c) => isMap(c) && c.get('name') === 'tollgate');
  if (!isMap(tollgate)) throw new Error('envoy template: no tollgate cluster');
  const replicas = opts.tollgateEndpoints ?? [];
  if (replicas.length > 0) {
    tollgate.set('type', 'STATIC');
    tollgate.delete('dns_lookup_family');
    tollgate.set('load_assignment', doc.createNode(staticTollgateEndpoints(replicas)));
  }
  if (opts.tollgateTls !== undefined) {
    // With listed replicas, each one's certificate must name its own address (any listed one is accepted).
    const first = replicas[0]?.host ?? opts.tollgateHost;
    const sans = replicas.length > 0 ? [...new Set(replicas.map((e) => e.host))] : [opts.tollgateHost];
    tollgate.set('transport_socket', doc.createNode(upstreamTlsSocket(first, opts.tollgateTls.caFile, opts.tollgateTls, sans)));
  } else if (config.server.grpc.tls !== undefined) {
    throw new Error('server.grpc.tls is set: Envoy needs a client certificate for Tollgate (--envoy-cert, --envoy-key)');
  }
  const text = doc.toString({ lineWidth: 0 });
  if (/\$\{[A-Z_]+\}/.test(text)) throw new Error('envoy template: a token was left unrendered');
  return text;
}

