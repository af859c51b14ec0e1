// HTTP/1.x over a raw TCP socket, for requests that fetch() refuses to send (HTTP/1.0, conflicting
// framing headers, header names with underscores) and for seeing exactly what came back, if anything.
import { connect } from 'node:net';

export interface RawResponse {
  /** The status code from the status line, or undefined if nothing (or no status line) came back. */
  readonly status: number | undefined;
  readonly statusLine: string | undefined;
  /** Response headers, names lower-cased; a repeated header keeps its last value. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
  /** Every byte the server sent. */
  readonly bytes: number;
  /** How the exchange ended: a complete response, the server closing, or our deadline. */
  readonly ended: 'complete' | 'closed' | 'timeout';
}

const HEAD_END = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

function parse(raw: Buffer, ended: RawResponse['ended']): RawResponse {
  const headEnd = raw.indexOf(HEAD_END);
  const head = (headEnd === -1 ? raw : raw.subarray(0, headEnd)).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine ?? '');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return {
    status: m?.[1] === undefined ? undefined : Number(m[1]),
    statusLine: m === null ? undefined : statusLine,
    headers,
    body: headEnd === -1 ? Buffer.alloc(0) : raw.subarray(headEnd + HEAD_END.length),
    bytes: raw.length,
    ended,
  };
}

/** True once `raw` holds a whole response: headers and a body framed by content-length or chunking. */
function complete(raw: Buffer): boolean {
  const headEnd = raw.indexOf(HEAD_END);
  if (headEnd === -1) return false;
  const r = parse(raw, 'complete');
  const bodyBytes = raw.length - headEnd - HEAD_END.length;
  const length = r.headers.get('content-length');
  if (length !== undefined) return bodyBytes >= Number(length);
  if (r.headers.get('transfer-encoding')?.toLowerCase() === 'chunked') return raw.subarray(-LAST_CHUNK.length).equals(LAST_CHUNK);
  return false; // framed by connection close
}

/**
 * Writes `request` as is to 127.0.0.1:`port` and collects the reply until it is complete, the server
 * closes the connection, or `timeoutMs` passes. Never rejects for a server that says nothing.
 */
export function rawRequest(port: number, request: string | Buffer, opts: { timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port });
    let settled = false;
    const finish = (ended: RawResponse['ended']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks), ended));
    };
    const timer = setTimeout(() => { finish('timeout'); }, opts.timeoutMs ?? 5_000);
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      if (complete(Buffer.concat(chunks))) finish('complete');
    });
    socket.on('close', () => { finish('closed'); });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after (or instead of) a reply is an ending, not a failure; a refused connection is.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish('closed');
      else if (!settled) { settled = true; clearTimeout(timer); reject(err); }
    });
    socket.on('connect', () => { socket.write(request); });
  });
}
