// Builders for the messages Envoy sends, and the shapes Tollgate's answers decode to, typed with the
// generated wire types (extproc/wire/generated/, made with the server's own LOADER_OPTIONS: keepCase,
// enums as names, no defaults, oneof names).
import { readFileSync } from 'node:fs';
import { loadSync, type EnumTypeDefinition } from '@grpc/proto-loader';
import { AUTHZ_METADATA_NAMESPACE } from '../../../extproc/core/authz-context.ts';
import { EXT_PROC_PROTO, LOADER_OPTIONS } from '../../../extproc/wire/proto.ts';
import type { HeaderValue__Output } from '../../../extproc/wire/generated/envoy/config/core/v3/HeaderValue.ts';
import type { HeaderValueOption__Output } from '../../../extproc/wire/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { CheckRequest } from '../../../extproc/wire/generated/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse__Output } from '../../../extproc/wire/generated/envoy/service/auth/v3/CheckResponse.ts';
import type { CommonResponse__Output } from '../../../extproc/wire/generated/envoy/service/ext_proc/v3/CommonResponse.ts';
import type { HeaderMutation__Output } from '../../../extproc/wire/generated/envoy/service/ext_proc/v3/HeaderMutation.ts';
import type { HttpHeaders } from '../../../extproc/wire/generated/envoy/service/ext_proc/v3/HttpHeaders.ts';
import type { ProcessingRequest } from '../../../extproc/wire/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse__Output } from '../../../extproc/wire/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { HttpStatus__Output } from '../../../extproc/wire/generated/envoy/type/v3/HttpStatus.ts';
import type { Narrow, Wire } from '../../../extproc/wire/shape.ts';
import type { Struct } from '../../../extproc/wire/struct.ts';

export const FIXTURES = new URL('../../fixtures/', import.meta.url);

export function fixture(path: string): Buffer {
  return readFileSync(new URL(path, FIXTURES));
}

// ---- what Tollgate answers, as the test client decodes it (generated `__Output` types) -------------

export type DecodedHeaderValue = Wire<HeaderValue__Output>;

/** `append` is a google.protobuf.BoolValue; `false` is the proto3 default, so it decodes as `{}`. */
export type DecodedHeaderValueOption = Wire<HeaderValueOption__Output>;

export type DecodedHeaderMutation = Wire<HeaderMutation__Output>;

export type DecodedCommonResponse = Wire<CommonResponse__Output>;

/** envoy.type.v3.HttpStatus: the code decodes as an enum name ("Forbidden"); see httpStatus(). */
export type DecodedHttpStatus = Wire<HttpStatus__Output>;

/** `response` names the oneof member that is set. */
export type DecodedProcessingResponse = Wire<ProcessingResponse__Output>;

/** `http_response` names the oneof member that is set: "ok_response" or "denied_response". */
export type DecodedCheckResponse = Wire<CheckResponse__Output>;

let statusCodes: ReadonlyMap<string, number> | undefined;

/** The numeric HTTP status of an envoy.type.v3.HttpStatus, whose code decodes as an enum name. */
export function httpStatus(s: { readonly code?: string | number } | undefined): number | undefined {
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
  const found = options?.find((o) => o.header?.key?.toLowerCase() === name);
  return found?.header?.raw_value?.toString('latin1');
}

export function findHeader(options: readonly DecodedHeaderValueOption[] | undefined, name: string): DecodedHeaderValueOption | undefined {
  return options?.find((o) => o.header?.key?.toLowerCase() === name);
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

/** Envoy's HeaderMap as Envoy fills it: every value in raw_value. */
export type SentHttpHeaders = Narrow<Wire<HttpHeaders>, {
  readonly headers: { readonly headers: readonly { readonly key: string; readonly raw_value: Buffer }[] };
  readonly end_of_stream: boolean;
}>;

/** Envoy's HeaderMap: values in raw_value only, as Envoy sends them. */
export function httpHeaders(pairs: HeaderPairs, endOfStream = false): SentHttpHeaders {
  const list = Array.isArray(pairs) ? (pairs as readonly (readonly [string, string])[]) : Object.entries(pairs as Readonly<Record<string, string>>);
  return { headers: { headers: list.map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })) }, end_of_stream: endOfStream };
}

/** Any ProcessingRequest a client may send; the builders below fill it as Envoy does. */
export type SentProcessingRequest = Wire<ProcessingRequest>;

export function requestHeaders(pairs: HeaderPairs, opts: { endOfStream?: boolean; authz?: Struct } = {}): SentProcessingRequest {
  return {
    request_headers: httpHeaders(pairs, opts.endOfStream ?? false),
    ...(opts.authz === undefined ? {} : { metadata_context: { filter_metadata: { [AUTHZ_METADATA_NAMESPACE]: opts.authz } } }),
  };
}

/** A request body message; `authz` attaches ext_authz metadata, as Envoy does when it skips the request headers. */
export function requestBody(body: Buffer | string, opts: boolean | { readonly endOfStream?: boolean; readonly authz?: Struct } = true): SentProcessingRequest {
  const o = typeof opts === 'boolean' ? { endOfStream: opts } : opts;
  return {
    request_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), end_of_stream: o.endOfStream ?? true },
    ...(o.authz === undefined ? {} : { metadata_context: { filter_metadata: { [AUTHZ_METADATA_NAMESPACE]: o.authz } } }),
  };
}

export function responseHeaders(pairs: HeaderPairs, endOfStream = false): SentProcessingRequest {
  return { response_headers: httpHeaders(pairs, endOfStream) };
}

export function responseBody(body: Buffer | string, endOfStream = true): SentProcessingRequest {
  return { response_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), end_of_stream: endOfStream } };
}

/** Any CheckRequest a client may send; checkRequest() fills it as Envoy does. */
export type SentCheckRequest = Wire<CheckRequest>;

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
            // Envoy's buffer filter runs first and sets content-length on any request with a body.
            ...(method === 'POST' || method === 'PUT' || method === 'PATCH' ? { 'content-length': '64' } : {}),
            ...(opts.requestId === undefined ? {} : { 'x-request-id': opts.requestId }),
            ...opts.headers,
          },
        },
      },
    },
  };
}
