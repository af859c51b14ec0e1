import { RULES } from '../../core/decision.ts';
import { TollgateError } from '../../errors.ts';
import { evaluate } from '../../policy/evaluate.ts';
import { asTollgateError, requestDocument, translatorFor } from '../../policy/request.ts';
import { chooseRoute } from '../../policy/routing.ts';
import { routeKindGroup } from '../../config/schema.ts';
import type { RequestTranslator } from '../../providers/index.ts';
import type { HttpBody, ProcessingRequest, ProcessingResponse } from '../../wire/ext-proc.ts';
import { verifyAuthzContext } from '../context.ts';
import type { Denial, RequestState } from '../request-state.ts';
import { requestBodyResponse } from '../responses.ts';
import { applyCredential, startCredential, translator } from './credential.ts';
import { admitUsage } from './usage.ts';
import { checkRequestProof } from './proof.ts';
import { inspectRequest } from './content.ts';
import { checkToolPin, mcpHeaderRemovals, parseRequestBody, withMcp } from './mcp.ts';

/**
 * Request body (BUFFERED, whole): parse it with the provider's rules, decide on the model it names,
 * and apply the credential last, to the final body. When Envoy skips the request headers this is the
 * stream's first message, and the authz context is verified here.
 */
export async function onRequestBody(state: RequestState, msg: ProcessingRequest, b: HttpBody): Promise<ProcessingResponse | Denial> {
  if (state.stage === 'start') {
    const ctx = await verifyAuthzContext(state, msg);
    if (ctx.withoutBody) throw new TollgateError('authz_context_invalid', 'a body arrived for a request ext_authz saw without one');
    startCredential(state);
    state.stage = 'request_body';
  }
  if (state.stage !== 'request_body') throw new TollgateError('protocol_violation', `request body in stage ${state.stage}`);
  const { provider, authz } = state;
  if (provider === undefined || authz === undefined) throw new TollgateError('protocol_violation', 'request body before the request was authorized');
  if (b.end_of_stream !== true) throw new TollgateError('protocol_violation', 'request body must arrive BUFFERED (end_of_stream in one message)');
  const body = b.body ?? Buffer.alloc(0);
  state.request = { body_bytes: body.length, body_hmac: state.services.bodyHmac(body) };
  if (body.length > state.policy.limits.maxRequestBodyBytes) return { code: 'body_too_large', rule: RULES.bodyLimit };

  const proofDenial = await checkRequestProof(state, body);
  if (proofDenial !== undefined) return proofDenial;

  const t = translator(state);
  parseRequestBody(state, t, body);
  state.model = t.model;
  const decision = evaluate(state.policy, withMcp(state, requestDocument(authz.identity, provider, authz.method, authz.path, t, state.claims, Object.fromEntries(state.headers))));
  if (!decision.allow) return { code: decision.reason, rule: decision.rule };
  state.rule = decision.rule;
  if (decision.shadow !== undefined) {
    state.shadow = decision.shadow;
    state.services.metrics.authzDecisions.inc({ decision: 'shadow_deny', reason: decision.shadow.reason, provider: provider.name });
  }
  const pinDenial = await checkToolPin(state);
  if (pinDenial !== undefined) return pinDenial;

  const inspected = inspectRequest(state, t, body);
  if (inspected !== undefined && !Buffer.isBuffer(inspected)) return inspected;
  const routed = routeRequest(state, t, inspected ?? body);
  if (routed !== undefined && 'code' in routed) return routed;

  const usageDenial = await admitUsage(state, body.length);
  if (usageDenial !== undefined) return usageDenial;

  // Credentials are applied last, to the final body, so a signature covers exactly what is sent.
  const credentialEdits = await applyCredential(state, translator(state).body);
  const edits = { ...credentialEdits, remove: [...(credentialEdits.remove ?? []), ...mcpHeaderRemovals(state)] };
  state.stage = 'upstream';
  state.forwarded = true;
  if (routed === undefined) return requestBodyResponse(edits, inspected);
  // Envoy re-picks the route on the route header: clear_route_cache counts in request-direction answers.
  const answer = requestBodyResponse({ set: [...(edits.set ?? []), ...routed.set], remove: [...edits.remove, ...routed.remove] }, inspected);
  const common = answer.request_body?.response;
  return common === undefined ? answer : { request_body: { response: { ...common, clear_route_cache: true } } };
}

interface Rerouted {
  /** The route header, and what Envoy needs to match routes again. */
  readonly set: readonly { readonly name: string; readonly value: string }[];
  /** Request headers the target provider's kind does not accept. */
  readonly remove: readonly string[];
}

/**
 * Classification routing: when a route class applies and names another provider for this wire format, the
 * request moves there: the target's translator (the same path under its prefix), its model rules, and the
 * credential scoped to (tenant, identity, target). A class with no provider for this format denies (fail
 * closed): the request must not go to the provider the class exists to avoid. A route header sent by the
 * caller is refused, since Envoy routes on it.
 */
function routeRequest(state: RequestState, t: RequestTranslator, body: Buffer): Rerouted | Denial | undefined {
  const routing = state.policy.routing;
  const { authz, provider } = state;
  if (routing === undefined || authz === undefined || provider === undefined) return undefined;
  if (state.headers.has(routing.header)) return { code: 'header_malformed', rule: RULES.requestHeaders };
  const choice = chooseRoute(routing, routeKindGroup(provider.config.kind), { dlpClass: state.routeClass, headers: state.headers, claims: state.claims });
  if (choice === undefined) return undefined;
  state.routeClass = choice.routeClass;
  const blocked = (): Denial => ({ code: 'route_unavailable', rule: RULES.routing, types: choice.source === 'dlp' ? Object.keys(state.content.request).sort() : [] });
  if (choice.target === undefined) return blocked();
  if (choice.target === provider.name) return undefined;
  const target = state.policy.providers.get(choice.target);
  if (target === undefined) return blocked();
  if (t.model !== undefined && !target.allowsModel(t.model)) return { code: 'model_forbidden', rule: RULES.providerModels };
  const moved = translatorFor(target, authz.method, target.pathPrefix + authz.path.slice(provider.pathPrefix.length), state.headers);
  try {
    moved.parseBody(body);
  } catch (err) {
    throw asTollgateError(err);
  }
  state.routedFrom = provider;
  state.provider = target;
  state.translator = moved;
  const credential = state.services.credentials.get({ tenant: authz.identity.tenant, identity: authz.identity.id, provider: target.name });
  credential.catch(() => undefined);
  state.credential = credential;
  // Headers the caller's provider accepted but the target's kind does not (the rest were removed already;
  // Envoy refuses removals of pseudo-headers, host and x-envoy-*).
  const names = [...state.headers.keys()];
  const already = new Set(provider.kind.headersToRemove(names));
  const remove = target.kind.headersToRemove(names).filter((n) => !already.has(n) && !n.startsWith(':') && !n.startsWith('x-envoy-') && n !== 'host');
  // Envoy finds no route at all for a request without x-forwarded-proto, and the request-headers answer may
  // have removed it (it is not a header providers get): put it back for the re-match. The classification
  // route removes it again before the request goes upstream.
  const proto = state.headers.get('x-forwarded-proto') ?? 'http';
  return { set: [{ name: routing.header, value: choice.routeClass }, { name: 'x-forwarded-proto', value: proto }], remove };
}
