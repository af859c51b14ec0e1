// mTLS on Tollgate's gRPC port (server.grpc.tls): Envoy, holding a client certificate from the
// configured CA, gets through; a plaintext client, a TLS client without a certificate, and a client
// with a certificate from another CA cannot even reach Check.
import assert from 'node:assert/strict';
import { credentials, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { pem, type Pem } from '../helpers/certs.ts';
import { startMtlsStack, type MtlsStack } from '../helpers/mtls-stack.ts';
import { chat } from '../helpers/stack.ts';

describe('mTLS between Envoy and Tollgate', () => {
  let stack: MtlsStack;
  let ca: Pem;
  let envoyClient: Pem;
  let rogueClient: Pem;

  before(async () => {
    stack = await startMtlsStack('spiffe://tollgate.test/envoy');
    ({ ca, envoyClient } = stack);
    rogueClient = stack.client('rogue', 'spiffe://elsewhere/agent', true);
  });
  after(async () => {
    await stack.stop();
  });

  it('Envoy, with its client certificate, reaches Tollgate and the request goes through', async () => {
    const r = await chat(stack);
    assert.equal(r.status, 200, r.body);
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
