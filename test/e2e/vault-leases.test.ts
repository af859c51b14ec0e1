// Leased secrets end to end: a real OpenBao dev server with leased KV, Tollgate as a child process
// logged in by AppRole under a least-privilege policy, and a real Envoy. Requests keep succeeding
// across lease renewals; SIGTERM revokes the lease; with Vault stopped mid-run, the cached lease serves
// until its hard expiry minus the margin, then requests get 503 credential_unavailable and nothing
// reaches the provider.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setupAppRole, startOpenBao, type OpenBao } from '../helpers/openbao.ts';
import { chat, metricSum } from '../helpers/stack.ts';
import { LEASED_CREDENTIAL, LEASED_POLICY, liveLeaseIds, startVaultStack, type VaultStack } from '../helpers/vault-stack.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MARGIN_MS = 1_000;

interface LeaseLookup { issue_time: string; expire_time: string; last_renewal: string | null; ttl: number }
async function lookup(bao: OpenBao, leaseId: string): Promise<{ status: number; data: LeaseLookup | undefined; errors: string[] }> {
  const r = await bao.raw('PUT', 'sys/leases/lookup', { lease_id: leaseId });
  const body = r.body as { data?: LeaseLookup; errors?: string[] };
  return { status: r.status, data: body.data, errors: body.errors ?? [] };
}

/** A leased OpenBao, an AppRole under LEASED_POLICY, and a stack whose "openai" provider reads a leased secret. */
async function leasedStack(ttl: string, key: string): Promise<{ bao: OpenBao; stack: VaultStack }> {
  const bao = await startOpenBao({ env: process.env, leasedKv: true });
  await bao.api('POST', 'secret/tollgate/team-a/openai', { api_key: key, ttl });
  const role = await setupAppRole(bao, LEASED_POLICY);
  const stack = await startVaultStack({
    key,
    files: { 'secret-id': role.secretId },
    vault: (file) => ({ address: bao.address, auth: { method: 'approle', roleId: role.roleId, secretIdFile: file('secret-id') }, expiryMarginMs: MARGIN_MS }),
    credential: LEASED_CREDENTIAL,
  });
  return { bao, stack };
}

describe('a leased secret is renewed while requests flow, and revoked when Tollgate stops', () => {
  const key = `sk-leased-${randomBytes(12).toString('hex')}`;
  let bao: OpenBao;
  let stack: VaultStack;

  before(async () => { ({ bao, stack } = await leasedStack('3s', key)); });
  after(async () => {
    await stack.stop();
    await bao.stop();
  });

  it('requests keep succeeding across renewals of one lease (TTL 3 s, 8 s of traffic)', async () => {
    const statuses: number[] = [];
    const end = Date.now() + 8_000;
    while (Date.now() < end) {
      statuses.push((await chat(stack)).status);
      await sleep(200);
    }
    assert.ok(statuses.length >= 25, `${statuses.length} requests`);
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
    assert.ok(stack.upstream.requests.every((r) => r.headers.authorization === `Bearer ${key}`));
    const ids = await liveLeaseIds(bao, 'secret/tollgate/team-a/openai');
    assert.equal(ids.length, 1, 'one lease, renewed, not re-fetched');
    const l = await lookup(bao, ids[0]!);
    assert.equal(l.status, 200);
    assert.ok(l.data?.last_renewal !== null && l.data?.last_renewal !== undefined, 'renewed');
    assert.ok(Date.now() - Date.parse(l.data.issue_time) > 7_000, 'the lease has lived well past its 3 s TTL');
    assert.ok(await metricSum(stack, 'tollgate_credential_lease_events_total', 'kind="renewed"') >= 2);
    const rec = stack.audit().filter((a) => a.http_status === 200).at(-1);
    assert.match(rec?.credential?.lease_id_hash ?? '', /^[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(stack.audit()).includes(ids[0]!.split('/').at(-1)!), 'the lease id is not in the audit log');
  });

  it('SIGTERM revokes the lease under a policy that may revoke only leases below secret/tollgate/', async () => {
    const [id] = await liveLeaseIds(bao, 'secret/tollgate/team-a/openai');
    assert.ok(id !== undefined);
    assert.equal(await stack.tollgate.stop(), 0);
    const l = await lookup(bao, id);
    assert.equal(l.status, 400);
    assert.deepEqual(l.errors, ['invalid lease']);
    assert.deepEqual(await liveLeaseIds(bao, 'secret/tollgate/team-a/openai'), []);
    const out = stack.tollgate.output();
    for (const s of [key, id.split('/').at(-1)!]) assert.ok(!out.includes(s), 'a secret or lease id was printed');
  });
});

describe('Vault stopped mid-run: the cached lease serves until hard expiry minus the margin, then 503', () => {
  const key = `sk-leased-${randomBytes(12).toString('hex')}`;
  const TTL_S = 6;
  let bao: OpenBao;
  let stack: VaultStack;

  before(async () => { ({ bao, stack } = await leasedStack(`${TTL_S}s`, key)); });
  after(async () => {
    await stack.stop();
    await bao.stop();
  });

  it('serves from the cache, then fails closed with credential_unavailable and sends nothing upstream', async () => {
    assert.equal((await chat(stack)).status, 200);
    const [id] = await liveLeaseIds(bao, 'secret/tollgate/team-a/openai');
    assert.ok(id !== undefined);
    const l = await lookup(bao, id);
    const lookedUpAt = Date.now();
    const expireAt = Date.parse(l.data?.expire_time ?? '');
    assert.ok(Number.isFinite(expireAt));
    await bao.stop();
    // At most one renewal can land between the lookup and the stop: it ends no later than lookup + TTL.
    const latestEnd = lookedUpAt + TTL_S * 1000 - MARGIN_MS;
    const earliestEnd = expireAt - MARGIN_MS;
    const results: { at: number; status: number; body: string; upstream: number }[] = [];
    const deadline = latestEnd + 4_000;
    while (Date.now() < deadline) {
      const before = stack.upstream.requests.length;
      const r = await chat(stack);
      results.push({ at: Date.now(), status: r.status, body: r.body, upstream: stack.upstream.requests.length - before });
      if (results.filter((x) => x.status !== 200).length >= 5) break;
      await sleep(100);
    }
    const firstFail = results.findIndex((x) => x.status !== 200);
    assert.ok(firstFail > 0, `some requests succeeded after Vault stopped, then one failed: ${JSON.stringify(results.map((x) => x.status))}`);
    const served = results.slice(0, firstFail);
    const failed = results.slice(firstFail);
    assert.ok(served.every((x) => x.status === 200 && x.upstream === 1));
    assert.ok(served.at(-1)!.at >= earliestEnd - 400, `the cache stopped serving ${earliestEnd - served.at(-1)!.at} ms before expiry minus margin`);
    assert.ok(failed[0]!.at <= latestEnd + 1_000, `still served ${failed[0]!.at - latestEnd} ms after expiry minus margin`);
    for (const f of failed) {
      assert.equal(f.status, 503, f.body);
      assert.equal((JSON.parse(f.body) as { error: { code: string } }).error.code, 'credential_unavailable');
      assert.equal(f.upstream, 0, 'nothing reached the provider');
    }
    assert.ok(failed.length >= 5);
    const audits = stack.audit().filter((a) => a.http_status === 503);
    assert.ok(audits.length >= 5);
    assert.ok(audits.every((a) => a.reason === 'credential_unavailable'), JSON.stringify(audits.map((a) => a.reason)));
    const out = stack.tollgate.output() + readFileSync(stack.auditPath, 'utf8');
    assert.ok(!out.includes(key));
  });
});
