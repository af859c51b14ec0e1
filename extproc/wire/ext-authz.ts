// The subset of envoy.service.auth.v3 messages Tollgate reads and writes, in proto-loader shape.
import type { Struct } from './struct.ts';

export interface CheckRequest {
  readonly attributes?: {
    readonly source?: { readonly principal?: string; readonly address?: object };
    readonly request?: {
      readonly http?: {
        readonly id?: string;
        readonly method?: string;
        readonly headers?: Readonly<Record<string, string>>;
        readonly path?: string;
        readonly host?: string;
        readonly scheme?: string;
      };
    };
  };
}

export interface AuthzHeaderValueOption {
  readonly header: { readonly key: string; readonly value: string };
  readonly append?: { readonly value: boolean };
}

export interface CheckResponse {
  readonly status: { readonly code: number; readonly message?: string };
  readonly denied_response?: {
    readonly status: { readonly code: number };
    readonly headers: readonly AuthzHeaderValueOption[];
    readonly body: string;
  };
  readonly ok_response?: {
    readonly headers?: readonly AuthzHeaderValueOption[];
    readonly headers_to_remove?: readonly string[];
  };
  readonly dynamic_metadata?: Struct;
}
