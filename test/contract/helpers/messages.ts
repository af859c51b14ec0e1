// Builders for the messages Envoy sends, and the shapes Tollgate's answers decode to, in proto-loader
// form with the server's own LOADER_OPTIONS (keepCase, enums as names, no defaults, oneof names).
import { readFileSync } from 'node:fs';
import { loadSync, type EnumTypeDefinition } from '@grpc/proto-loader';
import { AUTHZ_METADATA_NAMESPACE } from '../../../extproc/core/request-context.ts';
import { EXT_PROC_PROTO, LOADER_OPTIONS } from '../../../extproc/wire/proto.ts';
import type { Struct } from '../../../extproc/wire/struct.ts';

export const FIXTURES = new URL('../../fixtures/', import.meta.url);

export function fixture(path: string): Buffer {
  return readFileSync(new URL(path, FIXTURES));
}

// ---- what Tollgate answers, as the test client decodes it --------------------------------------

export interface DecodedHeaderValue {
  readonly key: string;
  readonly value?: string;
  readonly raw_value?: Buffer;
}

export interface DecodedHeaderValueOption {
  readonly header?: DecodedHeaderValue;
  /** google.protobuf.BoolValue; `false` is the proto3 default, so it decodes as `{}`. */
  readonly append?: { readonly value?: boolean };
  readonly append_action?: string;
}

export interface DecodedHeaderMutation {
  readonly set_headers?: readonly DecodedHeaderValueOption[];
  readonly remove_headers?: readonly string[];
}

export interface DecodedCommonResponse {
  readonly status?: string;
  readonly header_mutation?: DecodedHeaderMutation;
  readonly body_mutation?: { readonly body?: Buffer; readonly mutation?: string };
  readonly trailers?: object;
  readonly clear_route_cache?: boolean;
}

/** envoy.type.v3.HttpStatus: the code decodes as an enum name ("Forbidden"); see httpStatus(). */
export interface DecodedHttpStatus {
  readonly code?: string | number;
}

export interface DecodedProcessingResponse {
  /** The oneof member that is set. */
  readonly response?: string;
  readonly request_headers?: { readonly response?: DecodedCommonResponse };
  readonly response_headers?: { readonly response?: DecodedCommonResponse };
  readonly request_body?: { readonly response?: DecodedCommonResponse };
  readonly response_body?: { readonly response?: DecodedCommonResponse };
  readonly request_trailers?: object;
  readonly response_trailers?: object;
  readonly immediate_response?: {
    readonly status?: DecodedHttpStatus;
    readonly headers?: DecodedHeaderMutation;
    readonly body?: Buffer;
    readonly details?: string;
  };
  readonly mode_override?: { readonly request_body_mode?: string; readonly response_body_mode?: string };
  readonly dynamic_metadata?: Struct;
}

export interface DecodedCheckResponse {
  readonly status?: { readonly code?: number; readonly message?: string };
  /** The oneof member that is set: "ok_response" or "denied_response". */
  readonly http_response?: string;
  readonly denied_response?: {
    readonly status?: DecodedHttpStatus;
    readonly headers?: readonly DecodedHeaderValueOption[];
    readonly body?: string;
  };
  readonly ok_response?: {
    readonly headers?: readonly DecodedHeaderValueOption[];
    readonly headers_to_remove?: readonly string[];
  };
  readonly dynamic_metadata?: Struct;
}

let statusCodes: ReadonlyMap<string, number> | undefined;

/** The numeric HTTP status of an envoy.type.v3.HttpStatus, whose code decodes as an enum name. */
export function httpStatus(s: DecodedHttpStatus | undefined): number | undefined {
  const code = s?.code;
  if (code === undefined || typeof code === 'number') return code;
  if (statusCodes === undefined) {
    const def = loadSync(EXT_PROC_PROTO, LOADER_OPTIONS)['envoy.type.v3.StatusCode'] as EnumTypeDefinition;
    const values = (def.type as { value: { name: string; number: number }[] }).value;
    statusCodes = new Map(values.map((v) => [v.name, v.number]));
  }
  return statusCodes.get(code);
}

/** The raw_value of a header in a mutation or option list, as a string (undefined if absent). */
export function headerRaw(options: readonly DecodedHeaderValueOption[] | undefined, name: string): string | undefined {
  const found = options?.find((o) => o.header?.key.toLowerCase() === name);
  return found?.header?.raw_value?.toString('latin1');
}

export function findHeader(options: readonly DecodedHeaderValueOption[] | undefined, name: string): DecodedHeaderValueOption | undefined {
  return options?.find((o) => o.header?.key.toLowerCase() === name);
}

export interface ErrorBody {
  readonly error: { readonly type: string; readonly code: string; readonly message: string; readonly request_id?: string };
}

export function parseErrorBody(body: Buffer | string | undefined): ErrorBody {
  assertDefined(body, 'error body');
  return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as ErrorBody;
}

export function assertDefined<T>(v: T | undefined, what: string): asserts v is T {
  if (v === undefined) throw new Error(`${what} is undefined`);
}

// ---- what Envoy sends -------------------------------------------------------------------------

export type HeaderPairs = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

export interface SentHttpHeaders {
  readonly headers: { readonly headers: readonly { readonly key: string; readonly raw_value: Buffer }[] };
  readonly end_of_stream: boolean;
}

/** Envoy's HeaderMap: values in raw_value only, as Envoy sends them. */
export function httpHeaders(pairs: HeaderPairs, endOfStream = false): SentHttpHeaders {
  const list = Array.isArray(pairs) ? (pairs as readonly (readonly [string, string])[]) : Object.entries(pairs as Readonly<Record<string, string>>);
  return { headers: { headers: list.map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })) }, end_of_stream: endOfStream };
}

export interface SentProcessingRequest {
  readonly request_headers?: SentHttpHeaders;
  readonly response_headers?: SentHttpHeaders;
  readonly request_body?: { readonly body: Buffer; readonly end_of_stream: boolean };
  readonly response_body?: { readonly body: Buffer; readonly end_of_stream: boolean };
  readonly request_trailers?: object;
  readonly response_trailers?: object;
  readonly metadata_context?: { readonly filter_metadata: Readonly<Record<string, Struct>> };
}

export function requestHeaders(pairs: HeaderPairs, opts: { endOfStream?: boolean; authz?: Struct } = {}): SentProcessingRequest {
  return {
    request_headers: httpHeaders(pairs, opts.endOfStream ?? false),
    ...(opts.authz === undefined ? {} : { metadata_context: { filter_metadata: { [AUTHZ_METADATA_NAMESPACE]: opts.authz } } }),
  };
}

export function requestBody(body: Buffer | string, endOfStream = true): SentProcessingRequest {
  return { request_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), end_of_stream: endOfStream } };
}

export function responseHeaders(pairs: HeaderPairs, endOfStream = false): SentProcessingRequest {
  return { response_headers: httpHeaders(pairs, endOfStream) };
}

export function responseBody(body: Buffer | string, endOfStream = true): SentProcessingRequest {
  return { response_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), end_of_stream: endOfStream } };
}

export interface SentCheckRequest {
  readonly attributes?: {
    readonly source?: { readonly principal?: string };
    readonly request?: {
      readonly http?: {
        readonly id?: string;
        readonly method?: string;
        readonly path?: string;
        readonly host?: string;
        readonly scheme?: string;
        readonly protocol?: string;
        readonly headers?: Readonly<Record<string, string>>;
      };
    };
  };
}

/** A CheckRequest as Envoy builds it: pseudo-headers and lower-cased headers in a map. */
export function checkRequest(opts: { path: string; method?: string; headers?: Readonly<Record<string, string>>; requestId?: string }): SentCheckRequest {
  const method = opts.method ?? 'POST';
  return {
    attributes: {
      request: {
        http: {
          id: '1234567890',
          method,
          path: opts.path,
          host: 'tollgate.test',
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: {
            ':authority': 'tollgate.test',
            ':method': method,
            ':path': opts.path,
            ':scheme': 'http',
            ...(opts.requestId === undefined ? {} : { 'x-request-id': opts.requestId }),
            ...opts.headers,
          },
        },
      },
    },
  };
}
