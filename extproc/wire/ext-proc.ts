// The subset of envoy.service.ext_proc.v3 messages Tollgate reads and writes, in proto-loader shape.
import type { Struct } from './struct.ts';

export interface HeaderValue {
  readonly key: string;
  readonly value?: string;
  readonly raw_value?: Buffer;
}

export interface HttpHeaders {
  readonly headers?: { readonly headers?: readonly HeaderValue[] };
  readonly end_of_stream?: boolean;
}

export interface HttpBody {
  readonly body?: Buffer;
  readonly end_of_stream?: boolean;
}

export interface ProcessingRequest {
  readonly request?: 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers';
  readonly request_headers?: HttpHeaders;
  readonly response_headers?: HttpHeaders;
  readonly request_body?: HttpBody;
  readonly response_body?: HttpBody;
  readonly request_trailers?: object;
  readonly response_trailers?: object;
  readonly metadata_context?: { readonly filter_metadata?: Readonly<Record<string, Struct>> };
  readonly observability_mode?: boolean;
}

export interface HeaderValueOption {
  readonly header: { readonly key: string; readonly raw_value: Buffer };
  /** Envoy's ext_proc honours only this deprecated BoolValue; false means overwrite. */
  readonly append: { readonly value: boolean };
}

export interface HeaderMutation {
  readonly set_headers?: readonly HeaderValueOption[];
  readonly remove_headers?: readonly string[];
}

export interface CommonResponse {
  readonly status?: 'CONTINUE' | 'CONTINUE_AND_REPLACE';
  readonly header_mutation?: HeaderMutation;
  readonly body_mutation?: { readonly body: Buffer };
  readonly clear_route_cache?: boolean;
}

export interface ProcessingMode {
  readonly response_body_mode?: 'NONE' | 'STREAMED' | 'BUFFERED';
}

export interface ImmediateResponse {
  readonly status: { readonly code: number };
  readonly headers?: HeaderMutation;
  readonly body?: Buffer;
  readonly details?: string;
}

export interface ProcessingResponse {
  readonly request_headers?: { readonly response: CommonResponse };
  readonly response_headers?: { readonly response: CommonResponse };
  readonly request_body?: { readonly response: CommonResponse };
  readonly response_body?: { readonly response: CommonResponse };
  readonly request_trailers?: object;
  readonly response_trailers?: object;
  readonly immediate_response?: ImmediateResponse;
  readonly mode_override?: ProcessingMode;
  readonly response?: string;
}
