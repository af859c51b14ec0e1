// The real server, in-process on 127.0.0.1:0, with gRPC clients built from the same vendored protos.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type Client, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { createApp, type App } from '../../../extproc/app.ts';
import type { ConfigInput } from '../../../extproc/config/schema.ts';
import { MemoryAuditSink, type AuditRecord } from '../../../extproc/telemetry/audit.ts';
import { createLogger } from '../../../extproc/telemetry/logger.ts';
import { envoyServices } from '../../../extproc/wire/proto.ts';
import type { Struct } from '../../../extproc/wire/struct.ts';
import { baseConfigInput, mintTestKeys, testConfig, type TestKeys } from '../../helpers/config.ts';
import { checkRequest, type DecodedCheckResponse, type DecodedProcessingResponse, type SentCheckRequest, type SentProcessingRequest } from './messages.ts';
import { ProcStream } from './proc-stream.ts';

/** Never contacted: ext_proc only decides, Envoy would proxy. Loopback and the discard port anyway. */
const UNUSED_UPSTREAM = 'http://127.0.0.1:9';

export interface Harness {
  readonly app: App;
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly dir: string;
  readonly keys: TestKeys;
  /** The provider credential in the credential file. */
  readonly providerKey: string;
  readonly credentialFile: string;
  readonly audit: MemoryAuditSink;
  /** Every log line the server wrote (debug level), raw JSON. */
  readonly logs: string[];
  check(req: SentCheckRequest): Promise<DecodedCheckResponse>;
  /**
   * Runs a real Check for `key` and returns the dynamic metadata Envoy would forward to ext_proc. As
   * behind Envoy's buffer filter, a request with a body (the default) carries a content-length.
   */
  authorize(key: string, path?: string, opts?: { readonly method?: string; readonly body?: boolean }): Promise<Struct>;
  stream(): ProcStream;
  recordsFor(requestId: string): AuditRecord[];
  /** Polls until `requestId` has `count` audit records (or the deadline passes) and returns them. */
  waitForRecords(requestId: string, count?: number, deadlineMs?: number): Promise<AuditRecord[]>;
  stop(drainMs?: number): Promise<void>;
}

export function newRequestId(): string {
  return randomUUID();
}

/** `logLevel` is the server's (default debug, every line kept in `logs`); a profile run passes a quieter one. */
export async function startHarness(opts: { tweak?: (c: ConfigInput) => ConfigInput; logLevel?: string } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-contract-'));
  const keys = mintTestKeys();
  const providerKey = `sk-contract-${randomBytes(18).toString('hex')}`;
  const credentialFile = join(dir, 'openai-key');
  writeFileSync(credentialFile, providerKey + '\n', { mode: 0o600 });
  let input = baseConfigInput(keys, UNUSED_UPSTREAM, credentialFile);
  if (opts.tweak !== undefined) input = opts.tweak(input);
  const logs: string[] = [];
  const logger = createLogger(opts.logLevel ?? 'debug', { write: (line: string) => { logs.push(line); } });
  const audit = new MemoryAuditSink();
  const app = createApp(testConfig(input), { env: {}, audit, logger });
  const listening = await app.start();

  const services = envoyServices();
  const target = `127.0.0.1:${listening.grpc.port}`;
  const authzClient: Client = new services.AuthorizationClient(target, credentials.createInsecure());
  const procClient: Client = new services.ExternalProcessorClient(target, credentials.createInsecure());
  const checkMethod = services.AuthorizationClient.service.Check as MethodDefinition<SentCheckRequest, DecodedCheckResponse>;
  const processMethod = services.ExternalProcessorClient.service.Process as MethodDefinition<SentProcessingRequest, DecodedProcessingResponse>;

  const check = (req: SentCheckRequest): Promise<DecodedCheckResponse> =>
    new Promise((resolve, reject) => {
      authzClient.makeUnaryRequest(checkMethod.path, checkMethod.requestSerialize, checkMethod.responseDeserialize, req, (err: ServiceError | null, res?: DecodedCheckResponse) => {
        if (err !== null) reject(err);
        else if (res === undefined) reject(new Error('empty CheckResponse'));
        else resolve(res);
      });
    });

  const recordsFor = (requestId: string): AuditRecord[] => audit.records.filter((r) => r.request_id === requestId);

  return {
    app,
    grpcPort: listening.grpc.port,
    adminPort: listening.admin.port,
    dir,
    keys,
    providerKey,
    credentialFile,
    audit,
    logs,
    check,
    async authorize(key, path = '/openai/v1/chat/completions', opts = {}) {
      const method = opts.method ?? (opts.body === false ? 'GET' : 'POST');
      const headers = { authorization: `Bearer ${key}`, ...(opts.body === false ? {} : { 'content-length': '64' }) };
      const res = await check(checkRequest({ path, headers, method }));
      if (res.http_response !== 'ok_response' || res.dynamic_metadata === undefined) throw new Error(`Check did not allow: ${JSON.stringify(res)}`);
      return res.dynamic_metadata;
    },
    stream: () => new ProcStream(procClient.makeBidiStreamRequest(processMethod.path, processMethod.requestSerialize, processMethod.responseDeserialize)),
    recordsFor,
    async waitForRecords(requestId, count = 1, deadlineMs = 2_000) {
      const end = Date.now() + deadlineMs;
      while (recordsFor(requestId).length < count && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      // A little longer, so a duplicate record written late is caught too.
      await new Promise((r) => setTimeout(r, 20));
      return recordsFor(requestId);
    },
    async stop(drainMs = 0) {
      // The clients stay usable during the drain, as Envoy's connections do.
      await app.stop({ drainMs });
      authzClient.close();
      procClient.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
