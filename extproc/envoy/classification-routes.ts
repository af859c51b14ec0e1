// Envoy routes for classification routing. For each provider P and each route class whose target T (same wire
// format) differs from P, one route matches P's prefix plus the route header Tollgate sets, and sends to T's
// cluster with T's prefix and host rewrite and T's timeout. They go before the provider routes (first match
// wins). Tollgate sets the header in its request-body answer with clear_route_cache, so Envoy re-picks the
// route after Tollgate has decided; the header itself never reaches a provider. A caller that sends the header
// itself would match these routes before Tollgate decides: the connection manager removes it before the first
// route match (routeHeaderEarlyMutation), and Tollgate refuses a request that still carries it (400).
import type { Config } from '../config/schema.ts';
import { routeKindGroup } from '../providers/index.ts';

const PROXY_HEADERS = ['x-forwarded-for', 'x-envoy-external-address', 'x-envoy-original-path'];

/** The classification routes, to list before the per-provider routes. */
export function classificationRoutes(config: Config): object[] {
  const routing = config.routing;
  const byName = new Map(config.providers.map((p) => [p.name, p]));
  const routes: object[] = [];
  for (const source of config.providers) {
    const group = routeKindGroup(source.kind);
    for (const cls of routing.classes) {
      const target = cls.providers.map((n) => byName.get(n)).find((p) => p !== undefined && routeKindGroup(p.kind) === group);
      if (target === undefined || target.name === source.name) continue;
      const url = new URL(target.upstream);
      routes.push({
        name: `${source.name}_class_${cls.name}`,
        match: { prefix: `/${source.name}/`, headers: [{ name: routing.header, string_match: { exact: cls.name } }] },
        // x-forwarded-proto: Tollgate sets it back for the re-match (Envoy matches no route without it).
        request_headers_to_remove: [...PROXY_HEADERS, 'x-forwarded-proto', routing.header],
        route: {
          cluster: `provider_${target.name}`,
          prefix_rewrite: `${url.pathname.replace(/\/+$/, '')}/`,
          host_rewrite_literal: url.host,
          timeout: `${target.timeoutSeconds}s`,
        },
      });
    }
  }
  return routes;
}

/**
 * The connection manager's early header mutation: removes a caller-sent route header before any route is
 * matched (set as `early_header_mutation_extensions` on the HTTP connection manager). Empty without classes.
 */
export function routeHeaderEarlyMutation(config: Config): object[] {
  if (config.routing.classes.length === 0) return [];
  return [
    {
      name: 'envoy.http.early_header_mutation.header_mutation',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation',
        mutations: [{ remove: config.routing.header }],
      },
    },
  ];
}
