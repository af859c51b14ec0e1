import { RULES, type RequestDocument } from '../../core/decision.ts';
import type { Denial } from '../../errors.ts';
import { routeKindGroup } from '../../providers/index.ts';
import { evaluate } from '../../policy/evaluate.ts';
import { asTollgateError, requestDocument, translatorFor } from '../../policy/request.ts';
import { chooseRoute } from '../../policy/routing.ts';
import type { Admitted } from '../request.ts';
import type { Rerouted, RequestStep } from '../pipeline.ts';
import { inspectRequest } from './content.ts';
import { applyCredential, lookUpCredential, translator } from './credential.ts';
import { checkRequestProof } from './proof.ts';
import { admitUsage } from './usage.ts';

/** Size and keyed HMAC for the record; over limits.maxRequestBodyBytes is refused. */
export const bodySize: RequestStep = {
  name: 'size',
  run(req, w) {
    req.body = { body_bytes: w.body.length, body_hmac: req.services.bodyHmac(w.body) };
    return w.body.length > req.policy.limits.maxRequestBodyBytes ? BODY_TOO_LARGE : undefined;
  },
};

const BODY_TOO_LARGE: Denial = Object.freeze({ code: 'body_too_large', rule: RULES.bodyLimit });

export const requestProof: RequestStep = { name: 'proof', run: (req, w) => checkRequestProof(req, w.body) };

/** The provider's strict parse of the body, and the model it names (400s). */
export const parseBody: RequestStep = {
  name: 'parse',
  run(req, w) {
    const t = translator(req);
    try {
      t.parseBody(w.body);
    } catch (err) {
      throw asTollgateError(err);
    }
    req.route.model = t.model;
    return undefined;
  },
};

/**
 * The final policy evaluation, conditions included now that the body is known (403s). `extend` adds what a
 * kind's own steps read from the body to the request document (MCP: the JSON-RPC message).
 */
export function policyStep(extend?: (req: Admitted, doc: RequestDocument) => RequestDocument): RequestStep {
  return {
    name: 'policy',
    run(req) {
      const { authz, claims } = req.caller;
      const provider = req.route.provider;
      const doc = requestDocument(authz.identity, provider, authz.method, authz.path, translator(req), claims, Object.fromEntries(req.headers));
      const decision = evaluate(req.policy, extend === undefined ? doc : extend(req, doc));
      if (!decision.allow) return { code: decision.reason, rule: decision.rule };
      req.rule = decision.rule;
      if (decision.shadow !== undefined) {
        req.shadow = decision.shadow;
        req.services.metrics.authzDecisions.inc({ decision: 'shadow_deny', reason: decision.shadow.reason, provider: provider.name });
      }
      return undefined;
    },
  };
}

export const evaluatePolicy: RequestStep = policyStep();

/** Content controls (DLP): a denial, or the masked body. */
export const contentControls: RequestStep = {
  name: 'content',
  run(req, w) {
    const inspected = inspectRequest(req, translator(req), w.body);
    if (inspected === undefined) return undefined;
    if (!Buffer.isBuffer(inspected)) return inspected;
    w.replaced = inspected;
    return undefined;
  },
};

/** Classification routing (a denial, or the route header and a new provider). */
export const classificationRoute: RequestStep = {
  name: 'route',
  run(req, w) {
    const routed = routeRequest(req, translator(req), w.replaced ?? w.body);
    if (routed !== undefined && 'code' in routed) return routed;
    w.rerouted = routed;
    return undefined;
  },
};

export const usageControls: RequestStep = { name: 'usage', run: (req, w) => admitUsage(req, w.body.length) };

/** Credentials are applied last, to the final body, so a signature covers exactly what is sent. */
export const injectCredential: RequestStep = {
  name: 'credential',
  run(req, w) {
    const edits = applyCredential(req, translator(req).body);
    if (!(edits instanceof Promise)) {
      w.credential = edits;
      return undefined;
    }
    return edits.then((e) => {
      w.credential = e;
      return undefined;
    });
  },
};

/**
 * The request-body steps of every provider kind so far, in order: size, proof, strict parse and model,
 * policy with conditions, content controls, classification routing, usage admission, credential last.
 */
export const REQUEST_BODY_STEPS: readonly RequestStep[] = Object.freeze([bodySize, requestProof, parseBody, evaluatePolicy, contentControls, classificationRoute, usageControls, injectCredential]);

/**
 * Classification routing: when a route class applies and names another provider for this wire format, the
 * request moves there: the target's translator (the same path under its prefix), its model rules, and the
 * credential scoped to (tenant, identity, target). A class with no provider for this format denies (fail
 * closed): the request must not go to the provider the class exists to avoid. A route header sent by the
 * caller is refused, since Envoy routes on it.
 */
function routeRequest(req: Admitted, t: ReturnType<typeof translator>, body: Buffer): Rerouted | Denial | undefined {
  const routing = req.policy.routing;
  const authz = req.caller.authz;
  const route = req.route;
  const provider = route.provider;
  if (routing === undefined) return undefined;
  if (req.headers.has(routing.header)) return { code: 'header_malformed', rule: RULES.requestHeaders };
  const choice = chooseRoute(routing, routeKindGroup(provider.config.kind), { dlpClass: route.routeClass, headers: req.headers, claims: req.caller.claims });
  if (choice === undefined) return undefined;
  route.routeClass = choice.routeClass;
  const blocked = (): Denial => ({ code: 'route_unavailable', rule: RULES.routing, types: choice.source === 'dlp' ? Object.keys(req.content.request).sort() : [] });
  if (choice.target === undefined) return blocked();
  if (choice.target === provider.name) return undefined;
  const target = req.policy.providers.get(choice.target);
  if (target === undefined) return blocked();
  if (t.model !== undefined && !target.allowsModel(t.model)) return { code: 'model_forbidden', rule: RULES.providerModels };
  const moved = translatorFor(target, authz.method, target.pathPrefix + authz.path.slice(provider.pathPrefix.length), req.headers);
  try {
    moved.parseBody(body);
  } catch (err) {
    throw asTollgateError(err);
  }
  route.routedFrom = provider;
  route.provider = target;
  route.translator = moved;
  lookUpCredential(req, target.name);
  // Headers the caller's provider accepted but the target's kind does not (the rest were removed already;
  // Envoy refuses removals of pseudo-headers, host and x-envoy-*).
  const names = [...req.headers.keys()];
  const already = new Set(provider.kind.headersToRemove(names));
  const remove = target.kind.headersToRemove(names).filter((n) => !already.has(n) && !n.startsWith(':') && !n.startsWith('x-envoy-') && n !== 'host');
  // Envoy finds no route at all for a request without x-forwarded-proto, and the request-headers answer may
  // have removed it (it is not a header providers get): put it back for the re-match. The classification
  // route removes it again before the request goes upstream.
  const proto = req.headers.get('x-forwarded-proto') ?? 'http';
  return { set: [{ name: routing.header, value: choice.routeClass }, { name: 'x-forwarded-proto', value: proto }], remove };
}
