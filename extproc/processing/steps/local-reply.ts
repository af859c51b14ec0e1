import { RULES } from '../../core/decision.ts';
import type { Denial } from '../../errors.ts';
import type { HttpHeaders, ProcessingResponse } from '../../wire/ext-proc.ts';
import type { Answer } from '../pipeline.ts';
import type { ProcRequest } from '../request.ts';
import { responseHeadersResponse } from '../responses.ts';

/** Envoy's buffer filter answered 413: the body was over limits.maxRequestBodyBytes. */
export const ENVOY_BODY_CAP: Denial = Object.freeze({ code: 'body_too_large', rule: RULES.envoyBufferLimit });
const ENVOY_LOCAL_REPLY: Denial = Object.freeze({ code: 'proxy_local_reply', rule: RULES.envoyLocalReply });
const PASS_ON = responseHeadersResponse({ streamBody: false });

/**
 * A response with no request before it: a local reply from a filter ahead of ext_proc passing through
 * the encoder path. Tollgate's own ext_authz denials carry x-tollgate-decision-id and are already
 * audited: pass them on. Anything else is Envoy answering by itself before Tollgate saw the request
 * (the body cap's 413, a timeout): audited as denied, as unauthenticated (nothing vouches for such a
 * stream, and a client of the gRPC port could send one), and a 413 gets Tollgate's JSON error.
 */
export function onLocalReply(req: ProcRequest, h: HttpHeaders, headers: ReadonlyMap<string, string>): Answer {
  req.position = h.end_of_stream === true ? 'done' : 'local_reply';
  if (headers.has('x-tollgate-decision-id')) {
    // ext_authz wrote this request's record: there is nothing for this stream to write.
    req.finished = true;
    return PASS_ON;
  }
  // Envoy sends no request headers or attributes with an encode-only stream, so the record has no
  // request id or path; the decision id, set on the reply and so in Envoy's access log, ties them together.
  const status = Number(headers.get(':status'));
  if (status === 413) return ENVOY_BODY_CAP;
  envoyReplied(req, status);
  return responseHeadersResponse({ streamBody: false, edits: { set: [{ name: 'x-tollgate-decision-id', value: req.decisionId }] } });
}

/**
 * Envoy answered the client itself after we saw the request headers, before the body reached us:
 * typically 413 because a body without content-length outgrew Envoy's buffer. Nothing went upstream.
 */
export function onEnvoyReplyMidRequest(req: ProcRequest, h: HttpHeaders, headers: ReadonlyMap<string, string>): ProcessingResponse {
  envoyReplied(req, Number(headers.get(':status')));
  req.position = h.end_of_stream === true ? 'done' : 'local_reply';
  return PASS_ON;
}

/** The request ends denied (the Session writes its record after this message), though the answer passes Envoy's reply on. */
function envoyReplied(req: ProcRequest, status: number): void {
  req.denial = status === 413 ? ENVOY_BODY_CAP : ENVOY_LOCAL_REPLY;
  req.response.status = Number.isInteger(status) ? status : undefined;
  req.outcome = 'denied';
}
