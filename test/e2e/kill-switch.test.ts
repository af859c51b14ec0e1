// The kill switch across the cluster: two Tollgate replicas on one real Redis behind one real Envoy
// (ext_authz and ext_proc round-robin on their own, so a request's Check and its ext_proc stream often
// land on different replicas) and a recording upstream. A revoke on one replica holds on the other for
// body-less and body requests alike (403, nothing upstream), survives a restart of both, and enable
// undoes it; identities are addressed by a JSON body (a SPIFFE-style id with `/` too); unknown pairs
// are 404, invalid bodies 400; the set can be listed; every call is in the audit sink, whose chain verifies.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, type Client, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { parse as parseYaml, stringify } from 'yaml';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import type { Struct } from '../../extproc/wire/struct.ts';
import {
  checkRequest, httpStatus, parseErrorBody, requestHeaders, type DecodedCheckResponse, type DecodedProcessingResponse, type SentCheckRequest, type SentProcessingRequest,
} from '../contract/helpers/messages.ts';
import { ProcStream } from '../contract/helpers/proc-stream.ts';
import { redisAvailable } from '../helpers/redis.ts';
import { startReplicas, waitForHealthyEndpoints, type ReplicaStack } from '../helpers/replicas.ts';
import { spawnTollgate, TOLLGATE_BIN } from '../helpers/stack.ts';

const TAG = randomBytes(6).toString('hex');
const killToken = randomBytes(32).toString('hex');
const slashKey = mintApiKey();
const SLASH_ID = 'spiffe://example.org/ns/agents/sa/bot';

describe('the kill switch on two replicas sharing Redis, through one Envoy', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  let stack: ReplicaStack;
  const secretDir = mkdtempSync(join(tmpdir(), 'tollgate-ks-'));
  const killFile = join(secretDir, 'kill-token');
  /** Output of replicas that were restarted, for the leak check. */
  const earlierOutput: string[] = [];
  const upstreamSeen = (): number => stack.upstream.requests.length;
  const adminUrl = (i: number, path: string): string => `http://127.0.0.1:${stack.replicas[i]?.adminPort ?? 0}${path}`;
  const call = async (i: number, action: 'revoke' | 'enable', body: unknown, token = killToken): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await fetch(adminUrl(i, `/admin/kill-switch/${action}`), {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: r.status, body: JSON.parse(await r.text()) as Record<string, unknown> };
  };
  const listed = async (i: number): Promise<{ tenant: string; identity: string }[]> => {
    const r = await fetch(adminUrl(i, '/admin/kill-switch'), { headers: { authorization: `Bearer ${killToken}` } });
    assert.equal(r.status, 200);
    return ((await r.json()) as { disabled: { tenant: string; identity: string }[] }).disabled.map((d) => ({ tenant: d.tenant, identity: d.identity }));
  };
  const get = async (key: string): Promise<{ status: number; code: string | undefined }> => {
    const r = await fetch(`${stack.url}/openai/models`, { headers: { authorization: `Bearer ${key}` } });
    const text = await r.text();
    return { status: r.status, code: r.status === 200 ? undefined : parseErrorBody(text).error.code };
  };
  const post = async (key: string): Promise<{ status: number; code: string | undefined }> => {
    const r = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `ks-${TAG}` }] }),
    });
    const text = await r.text();
    return { status: r.status, code: r.status === 200 ? undefined : parseErrorBody(text).error.code };
  };
  /** 10 body-less GETs and 10 POSTs, alternating, as `key`. */
  const traffic = async (key: string): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < 10; i++) for (const r of [await get(key), await post(key)]) out.push(`${r.status} ${r.code ?? ''}`.trim());
    return out;
  };

  before(async () => {
    stack = await startReplicas({
      tweak: (c, i) => {
        writeFileSync(killFile, killToken, { mode: 0o600 });
        return {
          ...c,
          server: { ...c.server, admin: { host: '127.0.0.1', port: 0, killSwitchToken: { source: 'file', path: killFile } } },
          audit: { ...c.audit, chain: { enabled: true, replica: `ks-${i}` } },
          identities: [...c.identities, { id: SLASH_ID, tenant: 'team-s', apiKeyHashes: [hashApiKey(slashKey)], allow: [{ provider: 'openai' }] }],
        };
      },
    });
  });
  after(async () => { await stack.stop(); rmSync(secretDir, { recursive: true, force: true }); });

  it('before any revoke, the identity is served on both replicas (control)', async () => {
    assert.deepEqual(await traffic(stack.keys.agent), Array(20).fill('200'));
    assert.deepEqual(await listed(0), []);
  });

  it('a revoke on replica A: body-less GETs and POSTs through Envoy (decided on both replicas) are 403 identity_disabled, nothing upstream', async () => {
    const revoked = await call(0, 'revoke', { tenant: 'team-a', identity: 'agent-1' });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body['disabled'], true);
    assert.equal(revoked.body['already_disabled'], false);
    const seen = upstreamSeen();
    const started = stack.audit().length;
    assert.deepEqual(await traffic(stack.keys.agent), Array(20).fill('403 identity_disabled'));
    assert.equal(upstreamSeen(), seen, 'nothing reached the upstream');
    const denials = stack.auditByReplica().map((rs) => rs.filter((r) => r.reason === 'identity_disabled').length);
    assert.ok(denials.every((n) => n > 0), `identity_disabled decided on each replica: ${denials.join(',')}`);
    assert.ok(stack.audit().length > started);
    assert.deepEqual(await traffic(stack.keys.restricted), Array(20).fill('200'), 'other identities are unaffected');
    assert.deepEqual(await listed(1), [{ tenant: 'team-a', identity: 'agent-1' }], 'replica B lists it');
  });

  it('a context ext_authz issued before the revoke is refused by ext_proc on the other replica with 403, not a retryable 503', async () => {
    const svc = envoyServices();
    const clients: Client[] = [];
    const [a, b] = stack.replicas;
    assert.ok(a !== undefined && b !== undefined);
    try {
      const checkMethod = svc.AuthorizationClient.service.Check as MethodDefinition<SentCheckRequest, DecodedCheckResponse>;
      const c: Client = new svc.AuthorizationClient(`127.0.0.1:${a.grpcPort}`, credentials.createInsecure());
      clients.push(c);
      const check = (req: SentCheckRequest): Promise<DecodedCheckResponse> => new Promise((resolve, reject) => {
        c.makeUnaryRequest(checkMethod.path, checkMethod.requestSerialize, checkMethod.responseDeserialize, req, (err: ServiceError | null, res?: DecodedCheckResponse) => {
          if (err !== null || res === undefined) reject(err ?? new Error('empty CheckResponse'));
          else resolve(res);
        });
      });
      const allowed = await check(checkRequest({ path: '/openai/chat/completions', headers: { authorization: `Bearer ${slashKey}`, 'content-length': '64' } }));
      assert.equal(allowed.http_response, 'ok_response');
      const ctx: Struct | undefined = allowed.dynamic_metadata;
      assert.ok(ctx !== undefined);
      assert.equal((await call(0, 'revoke', { tenant: 'team-s', identity: SLASH_ID })).status, 200);
      const processMethod = svc.ExternalProcessorClient.service.Process as MethodDefinition<SentProcessingRequest, DecodedProcessingResponse>;
      const p: Client = new svc.ExternalProcessorClient(`127.0.0.1:${b.grpcPort}`, credentials.createInsecure());
      clients.push(p);
      const s = new ProcStream(p.makeBidiStreamRequest(processMethod.path, processMethod.requestSerialize, processMethod.responseDeserialize));
      const res = await s.send(requestHeaders({
        ':authority': 'tollgate.test', ':method': 'POST', ':path': '/openai/chat/completions', ':scheme': 'http',
        'content-type': 'application/json', 'content-length': '64', 'x-request-id': randomUUID(),
      }, { authz: ctx }));
      s.cancel();
      assert.ok(res.immediate_response !== undefined, JSON.stringify(res));
      assert.equal(`${httpStatus(res.immediate_response.status)} ${parseErrorBody(res.immediate_response.body).error.code}`, '403 identity_disabled');
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('an identity whose id contains `/` is addressed by the JSON body: disabled via Envoy, listed, enabled', async () => {
    // Disabled by the previous test, through replica A.
    assert.deepEqual(await traffic(slashKey), Array(20).fill('403 identity_disabled'));
    assert.deepEqual((await listed(0)).map((d) => d.identity).sort(), ['agent-1', SLASH_ID].sort());
    const enabled = await call(1, 'enable', { tenant: 'team-s', identity: SLASH_ID });
    assert.deepEqual(enabled, { status: 200, body: { tenant: 'team-s', identity: SLASH_ID, disabled: false, was_disabled: true } });
    assert.deepEqual(await traffic(slashKey), Array(20).fill('200'));
  });

  it('unknown pairs are 404, invalid bodies 400, a wrong token 401, a wrong method 405: nothing changes', async () => {
    assert.equal((await call(0, 'revoke', { tenant: 'team-b', identity: 'agent-1' })).status, 404, 'an identity in another tenant');
    assert.equal((await call(0, 'revoke', { tenant: 'team-a', identity: 'agent-2' })).status, 404, 'a mistyped identity');
    assert.equal((await call(1, 'enable', { tenant: 'team-x', identity: 'agent-1' })).status, 404, 'enable of a pair neither in the policy nor disabled');
    for (const bad of ['', 'not json', '[]', '{"tenant":"team-a"}', '{"tenant":"team-a","identity":"agent-1","extra":1}', '{"tenant":"Team A","identity":"agent-1"}', '{"tenant":"team-a","identity":"a b"}', '{"tenant":"team-a","identity":7}']) {
      const r = await call(0, 'revoke', bad);
      assert.equal(r.status, 400, `body ${bad}`);
      assert.equal((r.body['error'] as { code: string }).code, 'body_malformed');
    }
    assert.equal((await call(0, 'revoke', { tenant: 'team-b', identity: 'restricted-1' }, 'wrong-token')).status, 401);
    const wrongMethod = await fetch(adminUrl(0, '/admin/kill-switch/revoke'), { headers: { authorization: `Bearer ${killToken}` } });
    assert.equal(wrongMethod.status, 405);
    assert.deepEqual(await listed(1), [{ tenant: 'team-a', identity: 'agent-1' }]);
    assert.deepEqual(await traffic(stack.keys.restricted), Array(20).fill('200'));
  });

  it('a restart of both replicas keeps the identity disabled; enable on replica B restores it', async () => {
    for (let i = 0; i < stack.replicas.length; i++) {
      const r = stack.replicas[i];
      assert.ok(r !== undefined);
      const path = join(stack.dir, `tollgate-${i}.yaml`);
      const cfg = parseYaml(readFileSync(path, 'utf8')) as { server: { grpc: { port: number } } };
      cfg.server.grpc.port = r.grpcPort;
      writeFileSync(path, stringify(cfg), { mode: 0o600 });
      assert.equal(await r.stop(), 0);
      earlierOutput.push(r.output());
      (stack.replicas as unknown as Record<number, typeof r>)[i] = await spawnTollgate(path);
    }
    await waitForHealthyEndpoints(stack.envoy.adminUrl, 2);
    const seen = upstreamSeen();
    assert.deepEqual(await traffic(stack.keys.agent), Array(20).fill('403 identity_disabled'));
    assert.equal(upstreamSeen(), seen);
    const enabled = await call(1, 'enable', { tenant: 'team-a', identity: 'agent-1' });
    assert.equal(enabled.status, 200);
    assert.equal(enabled.body['was_disabled'], true);
    assert.deepEqual(await traffic(stack.keys.agent), Array(20).fill('200'));
    assert.deepEqual(await listed(0), []);
  });

  it('every kill-switch call is in the audit sink (stage admin, never the token), and each replica\'s chain verifies', () => {
    const admin = stack.audit().filter((r: AuditRecord) => r.stage === 'admin');
    const line = (r: AuditRecord): string => `${r.method ?? ''} ${r.path ?? ''} ${r.http_status ?? 0} ${r.tenant ?? '-'}/${r.identity ?? '-'} ${r.authenticated}`;
    const lines = admin.map(line);
    for (const want of [
      'POST /admin/kill-switch/revoke 200 team-a/agent-1 true',
      `POST /admin/kill-switch/revoke 200 team-s/${SLASH_ID} true`,
      `POST /admin/kill-switch/enable 200 team-s/${SLASH_ID} true`,
      'POST /admin/kill-switch/revoke 404 team-b/agent-1 true',
      'POST /admin/kill-switch/revoke 400 -/- true',
      'POST /admin/kill-switch/revoke 401 -/- false',
      'GET /admin/kill-switch/revoke 405 -/- true',
      'GET /admin/kill-switch 200 -/- true',
      'POST /admin/kill-switch/enable 200 team-a/agent-1 true',
    ]) assert.ok(lines.includes(want), `audited: ${want}\n${lines.join('\n')}`);
    assert.equal(admin.filter((r) => r.http_status === 400).length, 8);
    assert.ok(admin.every((r) => r.rule === 'admin.kill_switch'));
    assert.equal(admin.filter((r) => r.http_status === 200 && r.method === 'POST').every((r) => r.decision === 'allow' && r.outcome === 'completed'), true);
    assert.equal(admin.filter((r) => r.http_status === 404).every((r) => r.decision === 'deny' && r.reason === 'identity_unknown'), true);
    const everything = earlierOutput.join('') + stack.replicas.map((r) => r.output()).join('') + JSON.stringify(stack.audit());
    assert.ok(!everything.includes(killToken), 'the kill-switch token leaked');
    const verify = spawnSync(process.execPath, [TOLLGATE_BIN, 'audit', 'verify', ...stack.auditPaths], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });
});
