// The benchmark's floor: a no-op ext_authz + ext_proc service on Tollgate's own gRPC stack (the same
// startGrpcServer, grpc-js options, vendored protos and loader options as `tollgate serve`), so that
// what Tollgate costs over it is Tollgate's own work. It allows every Check and answers every ext_proc
// message with a bare "continue"; the only edit is the provider credential, so the upstream answers 200.
//
//   node --max-semi-space-size=4 --max-old-space-size=96 test/bench/floor-service.ts --key-file F --max-message-bytes N [--metadata none|tollgate]
//
// Prints "floor ready: grpc=127.0.0.1:PORT" on stderr. Bench-only: nothing in extproc/ imports it.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createAuthzContextCodec } from '../../extproc/core/authz-context.ts';
import { CALLER_CREDENTIAL_HEADERS } from '../../extproc/core/request-context.ts';
import { startGrpcServer } from '../../extproc/server/grpc-server.ts';
import type { CheckRequest, CheckResponse } from '../../extproc/wire/ext-authz.ts';
import type { ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { stringStruct } from '../../extproc/wire/struct.ts';
import type { ProcessCall } from '../../extproc/processing/stream-handler.ts';

/** What the floor's Check answer carries besides "allow". */
export type FloorMetadata = 'none' | 'tollgate';

export interface FloorOptions {
  readonly providerKey: string;
  /** 'tollgate': the same dynamic metadata fields and headers_to_remove as Tollgate's allow, so Envoy forwards as much to ext_proc. */
  readonly metadata: FloorMetadata;
}

/** A sealed authz context of the shape and size Tollgate sends for the bench caller (built once; the values do not matter). */
function tollgateShapedMetadata(): CheckResponse['dynamic_metadata'] {
  const codec = createAuthzContextCodec(randomBytes(32), 30_000);
  return stringStruct(codec.encode({
    identity: { id: 'agent-1', tenant: 'team-a', kind: 'api_key' },
    provider: 'openai',
    decisionId: randomUUID(),
    policyRevision: 'sha256:0000000000000000',
    method: 'POST',
    path: '/v1/chat/completions',
    withoutBody: false,
    claims: '{}',
    shadow: '',
    issuedAtMs: Date.now(),
  }));
}

/** The floor's Check: allow; a request without a body gets the provider credential here, as Tollgate does. */
export function floorCheck(opts: FloorOptions): (req: CheckRequest) => CheckResponse {
  const credential = { header: { key: 'authorization', value: `Bearer ${opts.providerKey}` }, append: { value: false } };
  const metadata = opts.metadata === 'tollgate' ? tollgateShapedMetadata() : undefined;
  const remove = opts.metadata === 'tollgate' ? [...CALLER_CREDENTIAL_HEADERS] : undefined;
  return (req) => {
    const headers = req.attributes?.request?.http?.headers ?? {};
    const cl = headers['content-length'];
    const noBody = headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0');
    return {
      status: { code: 0 },
      ok_response: {
        ...(remove === undefined ? {} : { headers_to_remove: remove }),
        ...(noBody ? { headers: [credential] } : {}),
      },
      ...(metadata === undefined ? {} : { dynamic_metadata: metadata }),
    };
  };
}

/** The minimal answer to one ext_proc message; the request-headers answer sets the provider credential. */
export function floorAnswer(msg: ProcessingRequest, credential: Buffer): ProcessingResponse | undefined {
  switch (msg.request) {
    case 'request_headers':
      return { request_headers: { response: { header_mutation: { set_headers: [{ header: { key: 'authorization', raw_value: credential }, append: { value: false } }] } } } };
    case 'request_body': return { request_body: { response: {} } };
    case 'response_headers': return { response_headers: { response: {} } };
    case 'response_body': return { response_body: { response: {} } };
    case 'request_trailers': return { request_trailers: {} };
    case 'response_trailers': return { response_trailers: {} };
    default: return undefined;
  }
}

/** The floor's Process: answers each message at once, in order; an unknown message fails the stream (never a clean close). */
export function floorProcess(opts: FloorOptions): (call: ProcessCall) => void {
  const credential = Buffer.from(`Bearer ${opts.providerKey}`, 'latin1');
  return (call) => {
    // Envoy resets or half-closes the side stream when the HTTP stream ends: both are a normal end.
    call.on('error', () => undefined);
    call.on('data', (msg: ProcessingRequest) => {
      const answer = floorAnswer(msg, credential);
      if (answer === undefined) {
        call.emit('error', { code: 13, details: 'floor_unknown_message' });
        return;
      }
      if (!call.cancelled && !call.destroyed) call.write(answer);
    });
    call.on('end', () => { call.end(); });
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    strict: true,
    options: {
      'key-file': { type: 'string' },
      'max-message-bytes': { type: 'string' },
      metadata: { type: 'string', default: 'none' },
    },
  });
  const keyFile = values['key-file'];
  const maxMessageBytes = Number(values['max-message-bytes']);
  const metadata = values.metadata;
  if (keyFile === undefined || !Number.isInteger(maxMessageBytes) || maxMessageBytes <= 0 || (metadata !== 'none' && metadata !== 'tollgate')) {
    throw new Error('usage: floor-service.ts --key-file F --max-message-bytes N [--metadata none|tollgate]');
  }
  const opts: FloorOptions = { providerKey: readFileSync(keyFile, 'utf8').trim(), metadata };
  // The same per-connection stream cap serve applies by default (server.grpc.maxConcurrentStreams).
  const server = await startGrpcServer({ host: '127.0.0.1', port: 0, maxMessageBytes, maxConcurrentStreams: 1_000, check: floorCheck(opts), process: floorProcess(opts) });
  process.stderr.write(`floor ready: grpc=127.0.0.1:${server.port}\n`);
  const stop = (): void => { void server.stop(2_000).then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.main) await main();
