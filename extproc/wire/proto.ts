import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { encodeCheckOk, encodeProcessingAnswer, isFixedAnswer } from './answer-encoding.ts';
import type { CheckResponse } from './ext-authz.ts';
import type { ProcessingRequest } from './ext-proc.ts';
import { splitField } from './proto-split.ts';

/** Envoy's protos, vendored and pinned (proto/VERSIONS). */
export const PROTO_ROOT = fileURLToPath(new URL('../../proto/vendor', import.meta.url));

/**
 * Loader options shared by the server and the tests. keepCase: fields keep their proto names
 * (raw_value, end_of_stream). oneofs: a virtual field names the set member of each oneof.
 * defaults: false, so an absent field is undefined rather than a zero value.
 */
export const LOADER_OPTIONS: Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
});

export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';
export const EXT_AUTHZ_PROTO = 'envoy/service/auth/v3/external_auth.proto';

export interface EnvoyServices {
  readonly externalProcessor: ServiceDefinition;
  readonly authorization: ServiceDefinition;
  readonly ExternalProcessorClient: ServiceClientConstructor;
  readonly AuthorizationClient: ServiceClientConstructor;
}

let cached: EnvoyServices | undefined;

function lookup(root: GrpcObject, path: string): ServiceClientConstructor {
  let node: unknown = root;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`service ${path} not found in the vendored protos`);
  return node as ServiceClientConstructor;
}

/** Loads the vendored protos once per process. */
export function envoyServices(): EnvoyServices {
  if (cached !== undefined) return cached;
  const root = loadPackageDefinition(loadSync([EXT_PROC_PROTO, EXT_AUTHZ_PROTO], LOADER_OPTIONS));
  const ExternalProcessorClient = lookup(root, 'envoy.service.ext_proc.v3.ExternalProcessor');
  const AuthorizationClient = lookup(root, 'envoy.service.auth.v3.Authorization');
  // The answers Tollgate sends most are encoded directly, installed on the shared definitions so that whatever
  // wraps their serializers (the bench probe) sees every answer; any other answer is encoded generically.
  encodeWith(AuthorizationClient.service, 'Check', (answer, generic) => encodeCheckOk(answer as CheckResponse) ?? generic(answer));
  encodeWith(ExternalProcessorClient.service, 'Process', prebuiltEncoder(isFixedAnswer, encodeProcessingAnswer));
  decodeMetadataLazily(ExternalProcessorClient.service);
  cached = Object.freeze({
    externalProcessor: ExternalProcessorClient.service,
    authorization: AuthorizationClient.service,
    ExternalProcessorClient,
    AuthorizationClient,
  });
  return cached;
}

/** Encodes one answer of a method; `generic` is the proto-loader encoding, for the answers it does not handle itself. */
type ResponseEncoder = (answer: unknown, generic: (answer: unknown) => Buffer) => Buffer;

/** Sets `method`'s response serializer to `encode`, over the generic one. grpc-js takes it from the registered definition. */
function encodeWith(service: ServiceDefinition, method: string, encode: ResponseEncoder): void {
  const def = service[method];
  if (def === undefined) throw new Error(`method ${method} not in the service`);
  const generic = def.responseSerialize;
  (def as { responseSerialize: (answer: unknown) => Buffer }).responseSerialize = (answer: unknown) => encode(answer, generic);
}

/** ProcessingRequest's `metadata_context` (envoy.config.core.v3.Metadata). */
const METADATA_CONTEXT_FIELD = 8;

/**
 * Envoy copies the forwarded dynamic metadata (the sealed authz context) into every ext_proc message, and only a
 * stream's first message reads it (processing/open.ts). Process requests are decoded without it; `metadata_context`
 * is a getter that decodes it on first access, with the same decoder and options as the rest. A malformed
 * metadata record fails there, on the message that reads it (the session denies the request); on a later message
 * it is never decoded, as protobuf leaves a field nobody reads.
 */
function decodeMetadataLazily(service: ServiceDefinition): void {
  const def = service['Process'];
  if (def === undefined) throw new Error('method Process not in the service');
  const generic = def.requestDeserialize as (buf: Buffer) => ProcessingRequest;
  // One getter for every message (no closure per message): the record's bytes wait under RAW_METADATA.
  const lazy: PropertyDescriptor = Object.freeze({
    enumerable: true,
    configurable: true,
    get(this: LazyMetadata): ProcessingRequest['metadata_context'] {
      const raw = this[RAW_METADATA];
      if (raw === undefined) return undefined;
      const metadata = generic(raw).metadata_context;
      Object.defineProperty(this, 'metadata_context', { value: metadata, enumerable: true });
      this[RAW_METADATA] = undefined;
      return metadata;
    },
  });
  (def as { requestDeserialize: (buf: Buffer) => ProcessingRequest }).requestDeserialize = (buf) => {
    const split = splitField(buf, METADATA_CONTEXT_FIELD);
    if (split === undefined) return generic(buf);
    const msg = generic(split.rest) as LazyMetadata;
    msg[RAW_METADATA] = split.taken;
    Object.defineProperty(msg, 'metadata_context', lazy);
    return msg;
  };
}

const RAW_METADATA = Symbol('raw metadata_context');
type LazyMetadata = ProcessingRequest & { [RAW_METADATA]?: Buffer | undefined };

/**
 * An encoder for answers that never change (`isFixed`, recognised by identity, so they must be frozen): each
 * is encoded once and its bytes are passed through after. Every other answer goes to `direct`, and to the
 * generic encoding if `direct` does not handle it (returns undefined).
 */
function prebuiltEncoder(isFixed: (answer: object) => boolean, direct: (answer: never) => Buffer | undefined = () => undefined): ResponseEncoder {
  const bytes = new WeakMap<object, Buffer>();
  return (answer, generic) => {
    if (typeof answer !== 'object' || answer === null) return generic(answer);
    if (!isFixed(answer)) return direct(answer as never) ?? generic(answer);
    let b = bytes.get(answer);
    if (b === undefined) bytes.set(answer, (b = generic(answer)));
    return b;
  };
}
