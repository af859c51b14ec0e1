// The shipped Kubernetes wiring between Envoy and Tollgate, through a real Envoy: Tollgate with the
// server.grpc.tls.allowedClients of deploy/kubernetes/tollgate.yaml, Envoy rendered with a client
// certificate carrying the URI SAN that deploy/kubernetes/certificates.yaml issues for it (signed by the
// CA Tollgate trusts). Its requests go through; an Envoy whose certificate comes from the same CA but
// names another identity gets nothing upstream.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { makeCa, makeLeaf, type Pem } from '../helpers/certs.ts';
import { PROJECT_ROOT, startStack, type Stack } from '../helpers/stack.ts';

const K8S = join(PROJECT_ROOT, 'deploy', 'kubernetes');
const allowedClients = ((parseYaml(readFileSync(join(K8S, 'tollgate.yaml'), 'utf8')) as { server: { grpc: { tls: { allowedClients: string[] } } } }).server.grpc.tls.allowedClients);
const envoyUri = (): string => {
  const certs = parseAllDocuments(readFileSync(join(K8S, 'certificates.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec: { secretName?: string; uris?: string[] } });
  const uri = certs.find((c) => c.kind === 'Certificate' && c.spec.secretName === 'tollgate-envoy-client-tls')?.spec.uris?.[0];
  assert.ok(uri, 'certificates.yaml issues Envoy a URI SAN');
  return uri;
};

async function chat(stack: Stack): Promise<number> {
  const r = await fetch(`${stack.url}/openai/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.text();
  return r.status;
}

describe('deploy/kubernetes: Envoy\'s certificate and Tollgate\'s allowedClients, through a real Envoy', () => {
  let dir = '';
  let ca: Pem;
  let server: Pem;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-k8s-mtls-'));
    ca = makeCa(dir, 'tollgate-ca');
    server = makeLeaf(dir, 'tollgate', ca, 'IP:127.0.0.1', 'serverAuth');
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const stackWith = (client: Pem): Promise<Stack> => startStack({
    tweak: (c) => ({ ...c, server: { ...c.server, grpc: { host: '127.0.0.1', port: 0, tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.certFile, allowedClients } } } }),
    tollgateTls: { certFile: client.certFile, keyFile: client.keyFile, caFile: ca.certFile },
  });

  it('the shipped Envoy identity is allowed: the request reaches the upstream with the provider key', async () => {
    const stack = await stackWith(makeLeaf(dir, 'envoy', ca, `URI:${envoyUri()}`, 'clientAuth'));
    try {
      assert.equal(await chat(stack), 200);
      assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${stack.providerKey}`);
    } finally { await stack.stop(); }
  });

  it('another identity from the same CA is refused: fail closed, nothing upstream', async () => {
    const stack = await stackWith(makeLeaf(dir, 'other', ca, 'URI:spiffe://cluster.local/ns/tollgate/sa/not-envoy', 'clientAuth'));
    try {
      assert.notEqual(await chat(stack), 200);
      assert.equal(stack.upstream.requests.length, 0);
    } finally { await stack.stop(); }
  });
});
