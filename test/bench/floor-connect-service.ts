// The benchmark's floor on another gRPC stack: the same no-op ext_authz + ext_proc service as
// floor-service.ts, served by @connectrpc/connect-node (gRPC protocol only) on a node:http2 server, with
// @bufbuild/protobuf messages built at start from the same vendored protos and loader. It answers exactly as
// the grpc-js floor: allow every Check (a request without a body gets the provider credential there), a
// bare "continue" to every ext_proc message, the provider credential on the request-headers answer. Used by
// the `floor-connect` set-up to compare the two stacks (docs/adr/0007-grpc-stack.md).
//
//   node --max-semi-space-size=4 --max-old-space-size=96 test/bench/floor-connect-service.ts --key-file F --max-message-bytes N
//
// Prints "floor ready: grpc=127.0.0.1:PORT" on stderr. Bench-only: nothing in extproc/ imports it.
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { create, createFileRegistry, fromBinary, type DescMessage, type DescMethod, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { loadSync } from '@grpc/proto-loader';
import { EXT_AUTHZ_PROTO, EXT_PROC_PROTO, LOADER_OPTIONS } from '../../extproc/wire/proto.ts';

/** The reset budget Tollgate's server sets (extproc/server/stream-reset-budget.ts): Envoy resets every ext_proc stream (ADR 0006). */
const STREAM_RESET_BUDGET = 20_000;

/**
 * A @bufbuild/protobuf registry of the two services and their messages, from the descriptors
 * @grpc/proto-loader builds out of the vendored protos. protobufjs groups them by package, names types
 * relative to their scope, lists no imports and folds option extensions into the option messages; this
 * makes every type name absolute, derives the imports from the types used, drops the option extensions
 * (they never reach the wire) and orders the files so that each follows what it imports.
 */
export function envoyRegistry(): FileRegistry {
  const def = loadSync([EXT_PROC_PROTO, EXT_AUTHZ_PROTO], LOADER_OPTIONS) as Record<string, { fileDescriptorProtos?: Buffer[] }>;
  const files = new Map<string, FileDescriptorProto>();
  for (const entry of Object.values(def)) {
    for (const b of entry.fileDescriptorProtos ?? []) {
      const f = fromBinary(FileDescriptorProtoSchema, b);
      if (!files.has(f.name)) files.set(f.name, f);
    }
  }
  const definedIn = new Map<string, string>();
  const scopeOf = (f: FileDescriptorProto): string => (f.package === '' ? '' : `.${f.package}`);
  const eachMessage = (f: FileDescriptorProto, visit: (m: DescriptorProto, name: string) => void): void => {
    const walk = (m: DescriptorProto, scope: string): void => {
      const name = `${scope}.${m.name}`;
      visit(m, name);
      for (const n of m.nestedType) walk(n, name);
    };
    for (const m of f.messageType) walk(m, scopeOf(f));
  };
  for (const f of files.values()) {
    f.extension = [];
    for (const e of f.enumType) definedIn.set(`${scopeOf(f)}.${e.name}`, f.name);
    eachMessage(f, (m, name) => {
      definedIn.set(name, f.name);
      for (const e of m.enumType) definedIn.set(`${name}.${e.name}`, f.name);
      m.extension = [];
      m.field = m.field.filter((x) => !x.name.startsWith('.'));
    });
  }
  const absolute = (typeName: string, scope: string): string => {
    if (typeName.startsWith('.')) return typeName;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      if (definedIn.has(`${s}.${typeName}`)) return `${s}.${typeName}`;
      if (s === '') throw new Error(`envoyRegistry: type ${typeName} not found from ${scope}`);
    }
  };
  for (const f of files.values()) {
    const imports = new Set<string>();
    const use = (typeName: string, scope: string): string => {
      const full = absolute(typeName, scope);
      const file = definedIn.get(full);
      if (file !== undefined && file !== f.name) imports.add(file);
      return full;
    };
    eachMessage(f, (m, name) => {
      for (const x of m.field) if (x.typeName !== '') x.typeName = use(x.typeName, name);
    });
    for (const s of f.service) {
      for (const m of s.method) {
        m.inputType = use(m.inputType, scopeOf(f));
        m.outputType = use(m.outputType, scopeOf(f));
      }
    }
    f.dependency = [...imports];
  }
  const ordered: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const place = (name: string, path: readonly string[]): void => {
    if (placed.has(name)) return;
    if (path.includes(name)) throw new Error(`envoyRegistry: import cycle ${[...path, name].join(' -> ')}`);
    const f = files.get(name);
    if (f === undefined) throw new Error(`envoyRegistry: no file ${name}`);
    for (const d of f.dependency) place(d, [...path, name]);
    placed.add(name);
    ordered.push(f);
  };
  for (const name of files.keys()) place(name, []);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

function method(registry: FileRegistry, service: string, name: string): DescMethod {
  const m = registry.getService(service)?.methods.find((x) => x.name === name);
  if (m === undefined) throw new Error(`${service}/${name} not found in the vendored protos`);
  return m;
}

/** The fields of the dynamic messages the floor reads (protobuf-es shapes: camelCase, oneofs as { case, value }). */
interface CheckIn { readonly attributes?: { readonly request?: { readonly http?: { readonly headers: Readonly<Record<string, string>> } } } }
interface ProcessingIn { readonly request: { readonly case: string | undefined } }
type Init = Record<string, unknown>;

/** The floor's Check on this stack: the same answers as floorCheck in floor-service.ts with metadata 'none'. */
export function connectFloorCheck(providerKey: string): (req: CheckIn) => Init {
  const withCredential: Init = { status: { code: 0 }, httpResponse: { case: 'okResponse', value: { headers: [{ header: { key: 'authorization', value: `Bearer ${providerKey}` }, append: false }] } } };
  const bare: Init = { status: { code: 0 }, httpResponse: { case: 'okResponse', value: {} } };
  return (req) => {
    const headers = req.attributes?.request?.http?.headers ?? {};
    const cl = headers['content-length'];
    const noBody = headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0');
    return noBody ? withCredential : bare;
  };
}

/** The minimal answer to one ext_proc message, as floorAnswer in floor-service.ts; undefined for an unknown one. */
export function connectFloorAnswer(msg: ProcessingIn, credential: Uint8Array): Init | undefined {
  switch (msg.request.case) {
    case 'requestHeaders':
      return { response: { case: 'requestHeaders', value: { response: { headerMutation: { setHeaders: [{ header: { key: 'authorization', rawValue: credential }, append: false }] } } } } };
    case 'requestBody': return { response: { case: 'requestBody', value: { response: {} } } };
    case 'responseHeaders': return { response: { case: 'responseHeaders', value: { response: {} } } };
    case 'responseBody': return { response: { case: 'responseBody', value: { response: {} } } };
    case 'requestTrailers': return { response: { case: 'requestTrailers', value: {} } };
    case 'responseTrailers': return { response: { case: 'responseTrailers', value: {} } };
    default: return undefined;
  }
}

export interface ConnectFloor {
  readonly port: number;
  readonly server: Http2Server;
  stop(): Promise<void>;
}

/** Starts the connect floor on 127.0.0.1 (port 0 = any free port). */
export async function startConnectFloor(opts: { readonly providerKey: string; readonly maxMessageBytes: number; readonly port?: number }): Promise<ConnectFloor> {
  const registry = envoyRegistry();
  const check = method(registry, 'envoy.service.auth.v3.Authorization', 'Check');
  const processMethod = method(registry, 'envoy.service.ext_proc.v3.ExternalProcessor', 'Process');
  const answerCheck = connectFloorCheck(opts.providerKey);
  const credential = Buffer.from(`Bearer ${opts.providerKey}`, 'latin1');
  const routes = (router: ConnectRouter): void => {
    router.rpc(check as DescMethod & { methodKind: 'unary'; input: DescMessage; output: DescMessage }, (req) => answerCheck(req as unknown as CheckIn));
    router.rpc(processMethod as DescMethod & { methodKind: 'bidi_streaming'; input: DescMessage; output: DescMessage }, async function* process(requests) {
      for await (const msg of requests) {
        const answer = connectFloorAnswer(msg as unknown as ProcessingIn, credential);
        if (answer === undefined) throw new ConnectError('floor_unknown_message', Code.Internal);
        yield answer;
      }
    });
  };
  const handler = connectNodeAdapter({ routes, grpc: true, grpcWeb: false, connect: false, readMaxBytes: opts.maxMessageBytes, writeMaxBytes: opts.maxMessageBytes });
  // node:http2's own options are public here: the reset budget and the per-connection stream cap serve sets.
  const server = createServer({ streamResetBurst: STREAM_RESET_BUDGET, streamResetRate: STREAM_RESET_BUDGET, settings: { maxConcurrentStreams: 1_000 } }, handler);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => { sessions.add(s); s.once('close', () => sessions.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('connect floor: no TCP address');
  return {
    port: address.port,
    server,
    stop: () => new Promise<void>((resolve) => {
      for (const s of sessions) s.close();
      server.close(() => { resolve(); });
    }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ strict: true, options: { 'key-file': { type: 'string' }, 'max-message-bytes': { type: 'string' } } });
  const keyFile = values['key-file'];
  const maxMessageBytes = Number(values['max-message-bytes']);
  if (keyFile === undefined || !Number.isInteger(maxMessageBytes) || maxMessageBytes <= 0) {
    throw new Error('usage: floor-connect-service.ts --key-file F --max-message-bytes N');
  }
  const floor = await startConnectFloor({ providerKey: readFileSync(keyFile, 'utf8').trim(), maxMessageBytes });
  process.stderr.write(`floor ready: grpc=127.0.0.1:${floor.port}\n`);
  const stop = (): void => { void floor.stop().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.main) await main();
