// mTLS on Tollgate's gRPC port (server.grpc.tls): Envoy, holding a client certificate from the
// configured CA, gets through; a plaintext client, a TLS client without a certificate, and a client
// with a certificate from another CA cannot even reach Check.
import assert from 'node:assert/strict';
import { credentials, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { makeCa, makeLeaf, pem, type Pem } from '../helpers/certs.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

describe('mTLS between Envoy and Tollgate', () => {
  let dir: string;
  let ca: Pem;
  let envoyClient: Pem;
  let rogueClient: Pem;
  let stack: Stack;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-mtls-'));
    ca = makeCa(dir, 'ca');
    const server = makeLeaf(dir, 'tollgate', ca, 'IP:127.0.0.1', 'serverAuth');
    envoyClient = makeLeaf(dir, 'envoy', ca, 'URI:spiffe://tollgate.test/envoy', 'clientAuth');
    const rogueCa = makeCa(dir, 'rogue-ca');
    rogueClient = makeLeaf(dir, 'rogue', rogueCa, 'URI:spiffe://elsewhere/agent', 'clientAuth');
    stack = await startStack({
      tweak: (c) => ({ ...c, server: { ...c.server, grpc: { host: '127.0.0.1', port: 0, tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.certFile } } } }),
      tollgateTls: { certFile: envoyClient.certFile, keyFile: envoyClient.keyFile, caFile: ca.certFile },
    });
  });
  after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Envoy, with its client certificate, reaches Tollgate and the request goes through', async () => {
    const r = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }),
    });
    assert.equal(r.status, 200, await r.text());
    assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${stack.providerKey}`);
  });

  const check = (creds: ChannelCredentials): Promise<ServiceError | null> =>
    new Promise((resolve) => {
      const client: Client = new (envoyServices().AuthorizationClient)(`127.0.0.1:${stack.tollgate.grpcPort}`, creds);
      client.makeUnaryRequest('/envoy.service.auth.v3.Authorization/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + 3_000 }, (err: ServiceError | null) => {
        client.close();
        resolve(err);
      });
    });

  it('a client with a certificate from the configured CA can call Check (the control case)', async () => {
    const err = await check(credentials.createSsl(pem(ca.certFile), pem(envoyClient.keyFile), pem(envoyClient.certFile)));
    assert.equal(err, null);
  });

  const refused: { name: string; creds: () => ChannelCredentials }[] = [
    { name: 'a plaintext client', creds: () => credentials.createInsecure() },
    { name: 'a TLS client without a certificate', creds: () => credentials.createSsl(pem(ca.certFile)) },
    { name: 'a client with a certificate from another CA', creds: () => credentials.createSsl(pem(ca.certFile), pem(rogueClient.keyFile), pem(rogueClient.certFile)) },
  ];
  for (const r of refused) {
    it(`${r.name} cannot call Check`, async () => {
      const err = await check(r.creds());
      assert.ok(err !== null, 'the call failed');
      assert.equal(err.code, 14, `UNAVAILABLE (handshake refused), got ${err.code}: ${err.details}`);
    });
  }
});
