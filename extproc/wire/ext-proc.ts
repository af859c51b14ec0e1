// envoy.service.ext_proc.v3 messages as Tollgate reads and writes them, on top of the generated types.
// Read side (what grpc-js decodes): the generated `__Output` types, deeply readonly. Write side: the
// generated input types, narrowed to what Envoy honours (the wire rules are listed in processing/responses.ts).
import type { HeaderValue__Output as GenHeaderValueOutput } from './generated/envoy/config/core/v3/HeaderValue.ts';
import type { HeaderValueOption as GenHeaderValueOption } from './generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ProcessingMode as GenProcessingMode } from './generated/envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.ts';
import type { BodyMutation as GenBodyMutation } from './generated/envoy/service/ext_proc/v3/BodyMutation.ts';
import type { CommonResponse as GenCommonResponse } from './generated/envoy/service/ext_proc/v3/CommonResponse.ts';
import type { HeaderMutation as GenHeaderMutation } from './generated/envoy/service/ext_proc/v3/HeaderMutation.ts';
import type { HttpBody__Output as GenHttpBodyOutput } from './generated/envoy/service/ext_proc/v3/HttpBody.ts';
import type { HttpHeaders__Output as GenHttpHeadersOutput } from './generated/envoy/service/ext_proc/v3/HttpHeaders.ts';
import type { ImmediateResponse as GenImmediateResponse } from './generated/envoy/service/ext_proc/v3/ImmediateResponse.ts';
import type { ProcessingRequest__Output as GenProcessingRequestOutput } from './generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse as GenProcessingResponse } from './generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { HttpStatusCode, Narrow, Override, Wire } from './shape.ts';

// ---- read side: what Envoy sends, as decoded ----------------------------------------------------

/** One header of Envoy's HeaderMap. Envoy sends `raw_value`; `key` is absent if a sender left it empty. */
export type HeaderValue = Wire<GenHeaderValueOutput>;

export type HttpHeaders = Wire<GenHttpHeadersOutput>;

export type HttpBody = Wire<GenHttpBodyOutput>;

/** `request` names the oneof member that is set. */
export type ProcessingRequest = Wire<GenProcessingRequestOutput>;

// ---- write side: what Tollgate answers ----------------------------------------------------------

/**
 * A header to set. Envoy reads `raw_value` only (`value` alone yields an empty header, both can give a
 * 500), and honours only the deprecated `append` BoolValue, false meaning overwrite; `append_action`
 * is ignored, so it cannot be set here.
 */
export type HeaderValueOption = Narrow<Wire<GenHeaderValueOption>, {
  readonly header: { readonly key: string; readonly raw_value: Buffer; readonly value?: never };
  readonly append: { readonly value: boolean };
  readonly append_action?: never;
}>;

export type HeaderMutation = Narrow<Wire<GenHeaderMutation>, {
  readonly set_headers?: readonly HeaderValueOption[];
}>;

export type BodyMutation = Wire<GenBodyMutation>;

export type CommonResponse = Narrow<Wire<GenCommonResponse>, {
  readonly header_mutation?: HeaderMutation;
}>;

export type ProcessingMode = Wire<GenProcessingMode>;

/** A local reply. `status` overrides the generated enum type: see HttpStatusCode. */
export type ImmediateResponse = Override<Wire<GenImmediateResponse>, {
  readonly status: HttpStatusCode;
  readonly headers?: HeaderMutation;
}>;

interface PhaseResponse {
  readonly response: CommonResponse;
}

/** Exactly one of the phase answers or immediate_response should be set; `response` is not sent. */
export type ProcessingResponse = Override<Wire<GenProcessingResponse>, {
  readonly request_headers?: PhaseResponse;
  readonly response_headers?: PhaseResponse;
  readonly request_body?: PhaseResponse;
  readonly response_body?: PhaseResponse;
  readonly immediate_response?: ImmediateResponse;
}>;
