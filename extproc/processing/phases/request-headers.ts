import { RULES } from '../../core/decision.ts';
import { TollgateError } from '../../errors.ts';
import type { HttpHeaders, ProcessingRequest, ProcessingResponse } from '../../wire/ext-proc.ts';
import { verifyAuthzContext } from '../context.ts';
import { headerMap, mediaType } from '../headers.ts';
import type { Denial, RequestState } from '../request-state.ts';
import { requestHeadersResponse } from '../responses.ts';
import { headersToStrip, startCredential, translator } from './credential.ts';
import { checkRequestProof } from './proof.ts';

const JSON_MEDIA_TYPES = new Set(['application/json']);

/**
 * What every upstream is asked for: an uncompressed response. Tollgate reads usage from responses and
 * scans and restores them, and an SSE stream cannot be decoded chunk by chunk; a response compressed
 * anyway is decoded or refused in the response phase (processing/content-encoding.ts).
 */
export const UPSTREAM_ACCEPT_ENCODING = { name: 'accept-encoding', value: 'identity' } as const;

/**
 * Request headers: verify the authz context and that this is the request it was issued for, check the
 * declared size and media type, strip the caller's credentials, ask the upstream for an uncompressed
 * response, and start the credential lookup so it overlaps with Envoy buffering the body. A request
 * without a body gets its credential here, unless ext_authz already injected it.
 */
export async function onRequestHeaders(state: RequestState, msg: ProcessingRequest, h: HttpHeaders): Promise<ProcessingResponse | Denial> {
  const headers = headerMap(h);
  state.headers = headers;
  state.requestId = headers.get('x-request-id');
  const ctx = await verifyAuthzContext(state, msg);
  if (headers.get(':method') !== ctx.method || headers.get(':path') !== ctx.path)
    throw new TollgateError('authz_context_invalid', 'the request line differs from the one ext_authz decided on');
  // The kill switch holds here too: this replica may see a disable that the one deciding in ext_authz had not yet.
  if (state.services.killSwitch.isDisabled(ctx.identity.tenant, ctx.identity.id)) return { code: 'identity_disabled', rule: RULES.killSwitch };
  translator(state, headers);

  const limit = state.policy.limits.maxRequestBodyBytes;
  const contentLength = headers.get('content-length');
  if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) throw new TollgateError('header_malformed', 'content-length');
    if (Number(contentLength) > limit) return { code: 'body_too_large', rule: RULES.bodyLimit };
  }
  const hasBody = h.end_of_stream !== true;
  if (hasBody && !JSON_MEDIA_TYPES.has(mediaType(headers.get('content-type')) ?? '')) return { code: 'content_type_unsupported', rule: RULES.requestContentType };
  if (hasBody === ctx.withoutBody) throw new TollgateError('authz_context_invalid', 'ext_authz and ext_proc disagree on whether the request has a body');

  if (!hasBody) {
    const proofDenial = await checkRequestProof(state, Buffer.alloc(0));
    if (proofDenial !== undefined) return proofDenial;
  }
  // A request without a body had its credential injected by ext_authz (checked just above).
  startCredential(state);
  state.stage = hasBody ? 'request_body' : 'upstream';
  // The caller's accept-encoding is replaced, not removed: without one, an upstream may pick any coding.
  const remove = headersToStrip(state, headers.keys()).filter((n) => n !== UPSTREAM_ACCEPT_ENCODING.name);
  return requestHeadersResponse({ set: [UPSTREAM_ACCEPT_ENCODING], remove });
}

