import { RULES } from '../../core/decision.ts';
import type { HttpHeaders, ProcessingResponse } from '../../wire/ext-proc.ts';
import { headerMap } from '../headers.ts';
import type { Denial, RequestState } from '../request-state.ts';
import { writeAudit } from '../outcome.ts';
import { responseHeadersResponse } from '../responses.ts';

/** Envoy's buffer filter answered 413: the body was over limits.maxRequestBodyBytes. */
export const ENVOY_BODY_CAP: Denial = { code: 'body_too_large', rule: RULES.envoyBufferLimit };

/**
 * A response with no request before it: a local reply from a filter ahead of ext_proc passing through
 * the encoder path. Tollgate's own ext_authz denials carry x-tollgate-decision-id and are already
 * audited: pass them on. Anything else is Envoy answering by itself before Tollgate saw the request
 * (the body cap's 413, a timeout): audit it here, as unauthenticated (nothing vouches for such a
 * stream, and a client of the gRPC port could send one), and give a 413 Tollgate's JSON error.
 */
export function onLocalReply(state: RequestState, h: HttpHeaders): ProcessingResponse | Denial {
  const headers = headerMap(h);
  state.stage = h.end_of_stream === true ? 'done' : 'local_reply';
  if (headers.has('x-tollgate-decision-id')) {
    state.auditWritten = true;
    return responseHeadersResponse({ streamBody: false });
  }
  // Envoy sends no request headers or attributes with an encode-only stream, so the record has no
  // request id or path; the decision id, set on the reply and so in Envoy's access log, ties them together.
  const status = Number(headers.get(':status'));
  if (status === 413) return ENVOY_BODY_CAP;
  auditEnvoyReply(state, status);
  return responseHeadersResponse({ streamBody: false, edits: { set: [{ name: 'x-tollgate-decision-id', value: state.decisionId }] } });
}

/**
 * Envoy answered the client itself after we saw the request headers, before the body reached us:
 * typically 413 because a body without content-length outgrew Envoy's buffer. Nothing went upstream.
 */
export function onEnvoyReplyMidRequest(state: RequestState, h: HttpHeaders): ProcessingResponse {
  auditEnvoyReply(state, Number(headerMap(h).get(':status')));
  state.stage = h.end_of_stream === true ? 'done' : 'local_reply';
  return responseHeadersResponse({ streamBody: false });
}

function auditEnvoyReply(state: RequestState, status: number): void {
  state.denial = status === 413 ? ENVOY_BODY_CAP : { code: 'proxy_local_reply', rule: RULES.envoyLocalReply };
  state.status = Number.isInteger(status) ? status : undefined;
  writeAudit(state, 'denied');
}
