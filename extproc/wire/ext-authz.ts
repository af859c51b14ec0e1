// envoy.service.auth.v3 messages as Tollgate reads and writes them, on top of the generated types.
import type { HeaderValueOption as GenHeaderValueOption } from './generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { CheckRequest__Output as GenCheckRequestOutput } from './generated/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse as GenCheckResponse } from './generated/envoy/service/auth/v3/CheckResponse.ts';
import type { DeniedHttpResponse as GenDeniedHttpResponse } from './generated/envoy/service/auth/v3/DeniedHttpResponse.ts';
import type { OkHttpResponse as GenOkHttpResponse } from './generated/envoy/service/auth/v3/OkHttpResponse.ts';
import type { HttpStatusCode, Narrow, Override, Wire } from './shape.ts';

/** What Envoy sends, as decoded: `attributes.request.http.headers` is a lower-cased name → value map. */
export type CheckRequest = Wire<GenCheckRequestOutput>;

/** ext_authz, unlike ext_proc, reads a header's `value`. */
export type AuthzHeaderValueOption = Narrow<Wire<GenHeaderValueOption>, {
  readonly header: { readonly key: string; readonly value: string };
  readonly append?: { readonly value: boolean };
}>;

export type DeniedHttpResponse = Override<Wire<GenDeniedHttpResponse>, {
  readonly status: HttpStatusCode;
  readonly headers: readonly AuthzHeaderValueOption[];
  readonly body: string;
}>;

export type OkHttpResponse = Narrow<Wire<GenOkHttpResponse>, {
  readonly headers?: readonly AuthzHeaderValueOption[];
}>;

/** `status.code` is the gRPC status: 0 allows, anything else denies. */
export type CheckResponse = Override<Wire<GenCheckResponse>, {
  readonly status: { readonly code: number; readonly message?: string };
  readonly denied_response?: DeniedHttpResponse;
  readonly ok_response?: OkHttpResponse;
}>;
