// A stack whose Envoy reaches Tollgate's gRPC port over mTLS (server.grpc.tls): one CA, Tollgate's server
// certificate for 127.0.0.1, and Envoy's client certificate naming `envoyId`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, makeLeaf, type Pem } from './certs.ts';
import { startStack, type Stack } from './stack.ts';

export interface MtlsStack extends Stack {
  readonly ca: Pem;
  /** The client certificate Envoy presents. */
  readonly envoyClient: Pem;
  /** Issues a client certificate for `uri` from the stack's CA, or from a CA of its own with `otherCa`. */
  client(name: string, uri: string, otherCa?: boolean): Pem;
}

/** `allowedClients` goes to server.grpc.tls.allowedClients when given. stop() also removes the certificates. */
export async function startMtlsStack(envoyId: string, allowedClients?: readonly string[]): Promise<MtlsStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-mtls-'));
  try {
    const ca = makeCa(dir, 'ca');
    const server = makeLeaf(dir, 'tollgate', ca, 'IP:127.0.0.1', 'serverAuth');
    const envoyClient = makeLeaf(dir, 'envoy', ca, `URI:${envoyId}`, 'clientAuth');
    const tls = { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.certFile, ...(allowedClients === undefined ? {} : { allowedClients: [...allowedClients] }) };
    const stack = await startStack({
      tweak: (c) => ({ ...c, server: { ...c.server, grpc: { host: '127.0.0.1', port: 0, tls } } }),
      tollgateTls: { certFile: envoyClient.certFile, keyFile: envoyClient.keyFile, caFile: ca.certFile },
    });
    return {
      ...stack,
      ca,
      envoyClient,
      client: (name, uri, otherCa = false) => makeLeaf(dir, name, otherCa ? makeCa(dir, `${name}-ca`) : ca, `URI:${uri}`, 'clientAuth'),
      stop: async () => {
        await stack.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
