// Contract: a Check's claim about the caller's certificate (source.principal, source.certificate,
// x-forwarded-client-cert) names an identity only when the Check came from Envoy's authenticated
// connection (mTLS, server.grpc.tls.allowedClients), or with the logged trustUnauthenticatedPeers opt-out.
// From any other client of the gRPC port the claim is ignored: no credential, 401, nothing handed out.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status, type Client, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { contextValue } from '../helpers/authz-context.ts';
import { makeCa, makeLeaf, pem, type Pem } from '../helpers/certs.ts';
import { makeSpiffePki, urlEncodedPem, type SpiffePki } from '../helpers/spiffe-certs.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { checkRequest, findHeader, httpStatus, parseErrorBody, type DecodedCheckResponse, type SentCheckRequest } from './helpers/messages.ts';

const TD = 'prod.test';
const WORKLOAD = `spiffe://${TD}/ns/ml/sa/agent`;
const ENVOY_ID = 'spiffe://mesh.test/envoy';

/** SPIFFE callers configured, and a workload identity allowed on "openai". */
const withSpiffe = (grpc: Record<string, unknown>) => (c: ConfigInput): ConfigInput => ({
  ...c,
  server: { ...c.server, grpc: { host: '127.0.0.1', port: 0, ...grpc } },
  identity: { mtls: { trustDomains: [{ name: TD }], trustXfcc: true } },
  identities: [...c.identities, { id: 'svc-agent', tenant: 'team-s', spiffeIds: [WORKLOAD], allow: [{ provider: 'openai' }] }],
});

/** A body-less request: an allowed Check carries the provider credential itself. */
const claimCheck = (source: { principal?: string; certificate?: string }, headers: Record<string, string> = {}): SentCheckRequest => {
  const req = checkRequest({ path: '/openai/v1/models', method: 'GET', headers });
  return { ...req, attributes: { ...req.attributes, source: { address: { socket_address: { address: '127.0.0.1', port_value: 40000 } }, ...source } } };
};

const assertNothingHandedOut = (res: DecodedCheckResponse, h: Harness): void => {
  assert.equal(res.http_response, 'denied_response', JSON.stringify(res));
  assert.equal(httpStatus(res.denied_response?.status), 401);
  assert.equal(parseErrorBody(res.denied_response?.body).error.code, 'unauthenticated');
  assert.equal(res.dynamic_metadata, undefined, 'no sealed context');
  assert.ok(!JSON.stringify(res).includes(h.providerKey), 'the provider credential is not in the answer');
};

describe('a Check claiming a certificate over a plaintext port', () => {
  let h: Harness;
  let pki: SpiffePki;
  before(async () => {
    pki = makeSpiffePki([TD]);
    h = await startHarness({ tweak: withSpiffe({}) });
  });
  after(async () => {
    await h.stop();
    pki.cleanup();
  });

  it('logs at start that SPIFFE identities in Check requests are ignored', () => {
    assert.ok(h.logs.some((l) => l.includes('SPIFFE identities in Check requests are ignored') && l.includes('server.grpc.tls')));
  });

  it('source.principal with no credential: 401, no credential, no context', async () => {
    assertNothingHandedOut(await h.check(claimCheck({ principal: WORKLOAD })), h);
  });

  it('source.certificate (the workload\'s public certificate) with no credential: 401', async () => {
    const cert = pki.leaf('agent', TD, `URI:${WORKLOAD}`);
    assertNothingHandedOut(await h.check(claimCheck({ principal: WORKLOAD, certificate: urlEncodedPem(cert) })), h);
    assertNothingHandedOut(await h.check(claimCheck({ certificate: urlEncodedPem(cert) })), h);
  });

  it('x-forwarded-client-cert (trustXfcc) with no credential: 401', async () => {
    assertNothingHandedOut(await h.check(claimCheck({}, { 'x-forwarded-client-cert': `URI=${WORKLOAD}` })), h);
  });

  it('the claim is ignored, not believed: an API key beside it decides the identity', async () => {
    const res = await h.check(claimCheck({ principal: WORKLOAD }, { authorization: `Bearer ${h.keys.agent}` }));
    assert.equal(res.http_response, 'ok_response', JSON.stringify(res));
    assert.equal(contextValue(res.dynamic_metadata, 'identity'), 'agent-1', 'the key\'s identity, not the claimed workload');
  });
});

describe('a Check claiming a certificate with trustUnauthenticatedPeers', () => {
  let h: Harness;
  before(async () => { h = await startHarness({ tweak: withSpiffe({ trustUnauthenticatedPeers: true }) }); });
  after(async () => { await h.stop(); });

  it('logs a loud warning at start', () => {
    assert.ok(h.logs.some((l) => l.includes('"level":"warn"') && l.includes('server.grpc.trustUnauthenticatedPeers') && l.includes('ANY client')));
  });

  it('believes the principal (the opt-out\'s documented risk)', async () => {
    const res = await h.check(claimCheck({ principal: WORKLOAD }));
    assert.equal(res.http_response, 'ok_response', JSON.stringify(res));
    assert.equal(findHeader(res.ok_response?.headers, 'authorization')?.header?.value, `Bearer ${h.providerKey}`);
  });
});

describe('a Check claiming a certificate over mTLS with allowedClients', () => {
  let h: Harness;
  let dir: string;
  let ca: Pem;
  let envoy: Pem;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-peer-trust-'));
    ca = makeCa(dir, 'grpc-ca');
    const server = makeLeaf(dir, 'tollgate', ca, 'IP:127.0.0.1', 'serverAuth');
    envoy = makeLeaf(dir, 'envoy', ca, `URI:${ENVOY_ID}`, 'clientAuth');
    h = await startHarness({ tweak: withSpiffe({ tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.certFile, allowedClients: [ENVOY_ID] } }) });
  });
  after(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsCheck = (client: Pem, req: SentCheckRequest): Promise<DecodedCheckResponse> => {
    const services = envoyServices();
    const c: Client = new services.AuthorizationClient(`127.0.0.1:${h.grpcPort}`, credentials.createSsl(pem(ca.certFile), pem(client.keyFile), pem(client.certFile)));
    const m = services.AuthorizationClient.service.Check as MethodDefinition<SentCheckRequest, DecodedCheckResponse>;
    return new Promise<DecodedCheckResponse>((resolve, reject) => {
      c.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, (err: ServiceError | null, res?: DecodedCheckResponse) => {
        c.close();
        if (err !== null) reject(err);
        else if (res === undefined) reject(new Error('empty CheckResponse'));
        else resolve(res);
      });
    });
  };

  it('from Envoy\'s certificate: the principal identifies the caller', async () => {
    const res = await tlsCheck(envoy, claimCheck({ principal: WORKLOAD }));
    assert.equal(res.http_response, 'ok_response', JSON.stringify(res));
    assert.equal(findHeader(res.ok_response?.headers, 'authorization')?.header?.value, `Bearer ${h.providerKey}`);
  });

  it('from another certificate of the same CA: PERMISSION_DENIED, no answer at all', async () => {
    const stranger = makeLeaf(dir, 'stranger', ca, `URI:${WORKLOAD}`, 'clientAuth');
    await assert.rejects(tlsCheck(stranger, claimCheck({ principal: WORKLOAD })), (err: ServiceError) => err.code === status.PERMISSION_DENIED);
  });
});
