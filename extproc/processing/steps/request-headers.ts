import { RULES } from '../../core/decision.ts';
import { TollgateError, type Denial } from '../../errors.ts';
import type { HttpHeaders } from '../../wire/ext-proc.ts';
import { mediaType } from '../headers.ts';
import type { Answer } from '../pipeline.ts';
import { isAdmitted, type Admitted, type ProcRequest } from '../request.ts';
import { requestHeadersResponse } from '../responses.ts';
import { headersToStrip, startCredential, translator } from './credential.ts';
import { checkRequestProof } from './proof.ts';

const JSON_MEDIA_TYPES = new Set(['application/json']);
const EMPTY_BODY = Buffer.alloc(0);
const IDENTITY_DISABLED: Denial = Object.freeze({ code: 'identity_disabled', rule: RULES.killSwitch });
const BODY_TOO_LARGE: Denial = Object.freeze({ code: 'body_too_large', rule: RULES.bodyLimit });
const CONTENT_TYPE_UNSUPPORTED: Denial = Object.freeze({ code: 'content_type_unsupported', rule: RULES.requestContentType });

/**
 * What every upstream is asked for: an uncompressed response. Tollgate reads usage from responses and
 * scans and restores them, and an SSE stream cannot be decoded chunk by chunk; a response compressed
 * anyway is decoded or refused when the response arrives (processing/content-encoding.ts).
 */
export const UPSTREAM_ACCEPT_ENCODING = { name: 'accept-encoding', value: 'identity' } as const;
const SET_ACCEPT_ENCODING = Object.freeze([UPSTREAM_ACCEPT_ENCODING]);

/**
 * Request headers (the Session opened the request from the sealed context first): check this is the
 * request the context was issued for, the declared size and media type, strip the caller's credentials,
 * ask the upstream for an uncompressed response, and start the credential lookup so it overlaps with
 * Envoy buffering the body. A request without a body gets its proof checked here; its credential
 * ext_authz already injected.
 */
export function onRequestHeaders(req: ProcRequest, h: HttpHeaders, headers: ReadonlyMap<string, string>): Answer | Promise<Answer> {
  if (req.position !== 'start' || !isAdmitted(req)) throw new TollgateError('protocol_violation', `request headers at position ${req.position}`);
  const ctx = req.caller.authz;
  if (headers.get(':method') !== ctx.method || headers.get(':path') !== ctx.path)
    throw new TollgateError('authz_context_invalid', 'the request line differs from the one ext_authz decided on');
  // The kill switch holds here too: this replica may see a disable that the one deciding in ext_authz had not yet.
  if (req.services.killSwitch.isDisabled(ctx.identity.tenant, ctx.identity.id)) return IDENTITY_DISABLED;
  translator(req, headers);

  const contentLength = headers.get('content-length');
  if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) throw new TollgateError('header_malformed', 'content-length');
    if (Number(contentLength) > req.policy.limits.maxRequestBodyBytes) return BODY_TOO_LARGE;
  }
  const hasBody = h.end_of_stream !== true;
  if (hasBody && !JSON_MEDIA_TYPES.has(mediaType(headers.get('content-type')) ?? '')) return CONTENT_TYPE_UNSUPPORTED;
  if (hasBody === ctx.withoutBody) throw new TollgateError('authz_context_invalid', 'ext_authz and ext_proc disagree on whether the request has a body');
  if (hasBody) return admitHeaders(req, headers, true);
  const proof = checkRequestProof(req, EMPTY_BODY);
  if (proof instanceof Promise) return proof.then((d) => d ?? admitHeaders(req, headers, false));
  return proof ?? admitHeaders(req, headers, false);
}

function admitHeaders(req: Admitted, headers: ReadonlyMap<string, string>, hasBody: boolean): Answer {
  // A request without a body had its credential injected by ext_authz (checked above).
  startCredential(req);
  req.position = hasBody ? 'request_body' : 'upstream';
  // The caller's accept-encoding is replaced, not removed: without one, an upstream may pick any coding.
  const remove = headersToStrip(req, headers).filter((n) => n !== UPSTREAM_ACCEPT_ENCODING.name);
  return requestHeadersResponse({ set: SET_ACCEPT_ENCODING, remove });
}
