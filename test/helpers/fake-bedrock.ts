// A fake Amazon Bedrock runtime on 127.0.0.1: it verifies each request's SigV4 signature the way AWS
// does (method, path, query, host, the exact body received, the session token) against the AWS
// credentials a fake Vault issued, and answers a Converse call with a recorded response. A request
// that does not verify gets AWS's 403 InvalidSignatureException (or UnrecognizedClientException).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseSigV4Authorization, sigV4Problem, type Received } from './sigv4-verify.ts';

/** The recorded Converse response (test/fixtures/providers/bedrock/converse-response.json). */
export const CONVERSE_RESPONSE: string = readFileSync(fileURLToPath(new URL('../fixtures/providers/bedrock/converse-response.json', import.meta.url)), 'utf8');

export interface AwsKeyLookup {
  readonly secretAccessKey: string;
  /** When set, the request must carry and sign exactly this x-amz-security-token. */
  readonly sessionToken?: string;
}

/** One request as the fake received it, with its verdict. */
export interface BedrockRequest extends Received {
  /** Undefined when the signature verified; otherwise why it did not. */
  readonly problem: string | undefined;
  readonly accessKeyId: string | undefined;
}

export interface FakeBedrock {
  readonly url: string;
  readonly requests: BedrockRequest[];
  close(): Promise<void>;
}

export interface FakeBedrockOptions {
  readonly region: string;
  /** The credential behind an access key id, or undefined for an unknown key. */
  readonly credentials: (accessKeyId: string) => AwsKeyLookup | undefined;
  /** Allowed clock skew between x-amz-date and now. Default 5 minutes, as AWS. */
  readonly maxSkewMs?: number;
  readonly now?: () => number;
}

const amzDateMs = (v: string): number => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  return m === null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
};

/** Why AWS would refuse this request, or undefined when it would accept it. */
function problemOf(req: Received, o: FakeBedrockOptions): { problem: string | undefined; accessKeyId: string | undefined } {
  const claim = parseSigV4Authorization(req.headers.get('authorization'));
  if (claim === undefined) return { problem: 'no AWS4-HMAC-SHA256 authorization header', accessKeyId: undefined };
  const { accessKeyId } = claim;
  const known = o.credentials(accessKeyId);
  if (known === undefined) return { problem: 'unknown access key id', accessKeyId };
  if (claim.service !== 'bedrock') return { problem: `signed for service ${claim.service}`, accessKeyId };
  if (claim.region !== o.region) return { problem: `signed for region ${claim.region}`, accessKeyId };
  const skew = Math.abs((o.now ?? Date.now)() - amzDateMs(req.headers.get('x-amz-date') ?? ''));
  if (!(skew <= (o.maxSkewMs ?? 300_000))) return { problem: 'x-amz-date is missing or too far from now', accessKeyId };
  if (known.sessionToken !== undefined) {
    if (req.headers.get('x-amz-security-token') !== known.sessionToken) return { problem: 'x-amz-security-token is not the session token of this key', accessKeyId };
    if (!claim.signedHeaders.includes('x-amz-security-token')) return { problem: 'x-amz-security-token is not signed', accessKeyId };
  }
  return { problem: sigV4Problem(req, known.secretAccessKey, { normalize: true }), accessKeyId };
}

const readAll = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

const send = (res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-amzn-requestid': 'fake-bedrock', ...headers }).end(body);
};

export async function startFakeBedrock(options: FakeBedrockOptions): Promise<FakeBedrock> {
  const requests: BedrockRequest[] = [];
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readAll(req);
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const headers = new Map<string, string>();
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(',') : value);
    const received: Received = { method: req.method ?? '', path: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q + 1), headers, body };
    const verdict = problemOf(received, options);
    requests.push({ ...received, ...verdict });
    if (verdict.problem !== undefined) {
      const unknown = verdict.problem === 'unknown access key id';
      send(res, 403, JSON.stringify({ message: unknown ? 'The security token included in the request is invalid.' : 'The request signature we calculated does not match the signature you provided.' }),
        { 'x-amzn-errortype': unknown ? 'UnrecognizedClientException' : 'InvalidSignatureException' });
      return;
    }
    if (received.method !== 'POST' || !/^\/model\/[^/]+\/converse$/.test(received.path)) {
      send(res, 404, JSON.stringify({ message: 'not found' }), { 'x-amzn-errortype': 'UnknownOperationException' });
      return;
    }
    send(res, 200, CONVERSE_RESPONSE);
  };
  const server = createServer((req, res) => { handle(req, res).catch(() => { res.destroy(); }); });
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => { resolve(); });
    }),
  };
}
