// Classification routing, compiled once per policy revision. A route class comes from the request's DLP
// decision (a `route` action) or from a classification the caller declares (a request header, or a claim of
// its verified JWT); when several apply, the class listed first in `routing.classes` wins. The class then names
// the provider that takes requests of this wire format; the request moves there (translator, credential scope
// and model rules of the target) and Envoy re-picks the route on the route header Tollgate sets.
import type { Config, RoutingConfig } from '../config/schema.ts';
import { routeKindGroup } from '../providers/index.ts';

export interface RoutingPolicy {
  /** The header Tollgate sets for Envoy's classification routes (callers may not send it). */
  readonly header: string;
  /** Class names, most restrictive (first listed) first. */
  readonly order: readonly string[];
  /** Class → wire-format group → target provider name. */
  readonly targets: ReadonlyMap<string, ReadonlyMap<number, string>>;
  readonly declared: RoutingConfig['declared'];
}

export interface RouteInputs {
  /** The class a DLP route action chose, if any. */
  readonly dlpClass: string | undefined;
  /** Request headers (lower-case names). */
  readonly headers: ReadonlyMap<string, string>;
  /** The verified JWT claims ({} for other identity kinds). */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface RouteChoice {
  readonly routeClass: string;
  /** Where the class came from, for logs and audit. */
  readonly source: 'dlp' | 'header' | 'claim';
  /** The provider that takes the request, or undefined when the class has none for this wire format. */
  readonly target: string | undefined;
}

/** Compiles `routing`; undefined when no classes are configured. */
export function compileRouting(config: Config): RoutingPolicy | undefined {
  const r = config.routing;
  if (r.classes.length === 0) return undefined;
  const kinds = new Map(config.providers.map((p) => [p.name, p.kind]));
  const targets = new Map<string, Map<number, string>>();
  for (const c of r.classes) {
    const byGroup = new Map<number, string>();
    for (const p of c.providers) {
      const kind = kinds.get(p);
      if (kind !== undefined) byGroup.set(routeKindGroup(kind), p);
    }
    targets.set(c.name, byGroup);
  }
  return Object.freeze({ header: r.header, order: r.classes.map((c) => c.name), targets, declared: r.declared });
}

/**
 * A claim's string values by name; a dotted name reads a nested claim ("org.classification"). An array
 * gives every string element: each is a declared classification, and the most restrictive class wins.
 */
function claimValues(claims: Readonly<Record<string, unknown>>, name: string): readonly string[] {
  const v: unknown = Object.hasOwn(claims, name) ? claims[name] : name.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined), claims);
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) return [];
  // Every element counts (none skipped): an element past a cap could otherwise hide the restrictive one.
  return v.filter((x): x is string => typeof x === 'string');
}

/**
 * The route class for a request on a provider of kind group `group`, or undefined when none applies.
 * Declared values are matched case-insensitively after trimming; an unmapped value routes nowhere.
 */
export function chooseRoute(routing: RoutingPolicy, group: number, input: RouteInputs): RouteChoice | undefined {
  const candidates: { cls: string; source: RouteChoice['source'] }[] = [];
  if (input.dlpClass !== undefined) candidates.push({ cls: input.dlpClass, source: 'dlp' });
  const d = routing.declared;
  if (d !== undefined) {
    const lookup = (value: string | undefined): string | undefined => {
      if (value === undefined) return undefined;
      const key = value.trim().toLowerCase();
      const hit = Object.entries(d.map).find(([k]) => k.toLowerCase() === key);
      return hit?.[1];
    };
    const fromHeader = d.header === undefined ? undefined : lookup(input.headers.get(d.header));
    if (fromHeader !== undefined) candidates.push({ cls: fromHeader, source: 'header' });
    if (d.claim !== undefined) {
      for (const value of claimValues(input.claims, d.claim)) {
        const fromClaim = lookup(value);
        if (fromClaim !== undefined) candidates.push({ cls: fromClaim, source: 'claim' });
      }
    }
  }
  let best: (typeof candidates)[number] | undefined;
  for (const c of candidates) {
    const rank = routing.order.indexOf(c.cls);
    if (rank < 0) continue;
    if (best === undefined || rank < routing.order.indexOf(best.cls)) best = c;
  }
  if (best === undefined) return undefined;
  return { routeClass: best.cls, source: best.source, target: routing.targets.get(best.cls)?.get(group) };
}
