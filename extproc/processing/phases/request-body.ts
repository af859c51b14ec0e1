import { RULES } from '../../core/decision.ts';
import { TollgateError } from '../../errors.ts';
import { evaluate } from '../../policy/evaluate.ts';
import { asTollgateError, splitTarget } from '../../policy/request.ts';
import type { HttpBody, ProcessingRequest, ProcessingResponse } from '../../wire/ext-proc.ts';
import { verifyAuthzContext } from '../context.ts';
import type { Denial, RequestState } from '../request-state.ts';
import { requestBodyResponse } from '../responses.ts';
import { applyCredential, startCredential, translator } from './credential.ts';
import { admitUsage } from './usage.ts';
import { inspectRequest } from './content.ts';

/** The verified claims ext_authz sealed into the context (JSON it wrote itself). */
function parseClaims(json: string): Readonly<Record<string, unknown>> {
  const v: unknown = JSON.parse(json);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * Request body (BUFFERED, whole): parse it with the provider's rules, decide on the model it names,
 * and apply the credential last, to the final body. When Envoy skips the request headers this is the
 * stream's first message, and the authz context is verified here.
 */
export async function onRequestBody(state: RequestState, msg: ProcessingRequest, b: HttpBody): Promise<ProcessingResponse | Denial> {
  if (state.stage === 'start') {
    const ctx = await verifyAuthzContext(state, msg);
    if (ctx.credentialInjected) throw new TollgateError('authz_context_invalid', 'a body arrived for a request ext_authz saw without one');
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

  const t = translator(state);
  let parsed;
  try {
    parsed = t.parseBody(body);
  } catch (err) {
    throw asTollgateError(err);
  }
  state.model = t.model;
  const decision = evaluate(state.policy, {
    identity: authz.identity,
    provider: provider.name,
    method: authz.method,
    path: splitTarget(authz.path).path.slice(provider.pathPrefix.length - 1),
    operation: t.operation,
    model: t.model,
    time: new Date(),
    claims: parseClaims(authz.claims),
    host: state.headers.get(':authority') ?? '',
    headers: Object.fromEntries(state.headers),
  });
  if (!decision.allow) return { code: decision.reason, rule: decision.rule };
  state.rule = decision.rule;
  if (decision.shadow !== undefined) {
    state.shadow = decision.shadow;
    state.services.metrics.authzDecisions.inc({ decision: 'shadow_deny', reason: decision.shadow.reason, provider: provider.name });
  }

  const inspected = inspectRequest(state, t, body);
  if (inspected !== undefined && !Buffer.isBuffer(inspected)) return inspected;

  const usageDenial = await admitUsage(state, body.length, parsed);
  if (usageDenial !== undefined) return usageDenial;

  // Credentials are applied last, to the final body, so a signature covers exactly what is sent.
  const edits = await applyCredential(state, t.body);
  state.stage = 'upstream';
  return requestBodyResponse(edits, inspected);
}
