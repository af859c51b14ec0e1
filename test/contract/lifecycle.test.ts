// Contract: gRPC health, the admin endpoints and the drain on stop, against the real server.
import assert from 'node:assert/strict';
import { credentials, loadPackageDefinition, status as GrpcStatus, type Client, type MethodDefinition, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { after, before, describe, it } from 'node:test';
import { newRequestId, startHarness, type Harness } from './helpers/harness.ts';
import { checkRequest, requestBody, requestHeaders, responseBody, responseHeaders } from './helpers/messages.ts';

const SERVICES = ['', 'envoy.service.auth.v3.Authorization', 'envoy.service.ext_proc.v3.ExternalProcessor'];

interface HealthResponse {
  readonly status?: string;
}

function healthClient(port: number): { check(service: string): Promise<string>; close(): void } {
  const root = loadPackageDefinition(loadSync(HEALTH_PROTO, { keepCase: true, enums: String, defaults: true }));
  const grpcNs = root.grpc as { health: { v1: { Health: ServiceClientConstructor } } };
  const Health = grpcNs.health.v1.Health;
  const client: Client = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
  const method = Health.service.Check as MethodDefinition<{ service: string }, HealthResponse>;
  return {
    check: (service) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { service }, (err: ServiceError | null, res?: HealthResponse) => {
          if (err !== null) reject(err);
          else resolve(res?.status ?? 'UNKNOWN');
        });
      }),
    close: () => { client.close(); },
  };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('lifecycle: health, admin, drain', () => {
  let h: Harness;
  let health: ReturnType<typeof healthClient>;
  let stopped: Promise<void> | undefined;

  before(async () => {
    h = await startHarness();
    health = healthClient(h.grpcPort);
  });
  after(async () => {
    health.close();
    await (stopped ?? h.stop());
  });

  it('reports SERVING for the server and both Envoy services', async () => {
    for (const service of SERVICES) assert.equal(await health.check(service), 'SERVING', `service "${service}"`);
  });

  it('answers NOT_FOUND for a service it does not serve', async () => {
    await assert.rejects(health.check('no.such.Service'), (err: ServiceError) => err.code === GrpcStatus.NOT_FOUND);
  });

  it('serves /healthz, /readyz and /metrics with the request and decision counters', async () => {
    assert.equal((await get(h.adminPort, '/healthz')).status, 200);
    assert.equal((await get(h.adminPort, '/readyz')).status, 200);
    // One authz decision and one processed request, so the counters carry samples.
    const authz = await h.authorize(h.keys.agent);
    const s = h.stream();
    const requestId = newRequestId();
    await s.send(requestHeaders({ ':method': 'POST', ':path': '/openai/v1/chat/completions', 'content-type': 'application/json', 'x-request-id': requestId }, { authz }));
    await s.send(requestBody('{"model":"gpt-4o-mini"}'));
    await s.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
    await s.send(responseBody('{"usage":{"prompt_tokens":3,"completion_tokens":4}}'));
    await s.end();
    await h.check(checkRequest({ path: '/openai/v1/chat/completions' }));

    const metrics = await get(h.adminPort, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^tollgate_requests_total\{outcome="completed",reason="none",provider="openai",upstream_status_class="2xx"\} 1$/m);
    assert.match(metrics.body, /^tollgate_authz_decisions_total\{decision="allow",reason="none",provider="openai"\} 1$/m);
    assert.match(metrics.body, /^tollgate_authz_decisions_total\{decision="deny",reason="unauthenticated",provider="none"\} 1$/m);
    assert.match(metrics.body, /^tollgate_authz_check_seconds_count\{decision="allow"\} [1-9]/m);
    assert.match(metrics.body, /^process_cpu_seconds_total /m);
    assert.match(metrics.body, /^tollgate_tokens_total\{provider="openai",model="gpt-4o-mini",direction="output"\} 4$/m);
    assert.ok(!metrics.body.includes(h.keys.agent) && !metrics.body.includes(h.providerKey));
    assert.equal((await get(h.adminPort, '/nope')).status, 404);
  });

  it('on stop: NOT_SERVING and /readyz 503 during the drain, /healthz stays 200', async () => {
    stopped = h.stop(300);
    for (const service of SERVICES) assert.equal(await health.check(service), 'NOT_SERVING', `service "${service}"`);
    assert.equal((await get(h.adminPort, '/readyz')).status, 503);
    assert.equal((await get(h.adminPort, '/healthz')).status, 200);
    // Still answering during the drain, so traffic in flight completes.
    const res = await h.check(checkRequest({ path: '/openai/v1/chat/completions' }));
    assert.equal(res.http_response, 'denied_response');
    health.close();
    await stopped;
    await assert.rejects(get(h.adminPort, '/healthz'), 'the admin server is closed after stop');
  });
});
