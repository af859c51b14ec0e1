// The kill switch's admin API on a real loopback admin server, over the memory store: the answers the
// two-replica end-to-end test does not reach (a state store that fails, an oversized body, an unknown
// sub-path), and one audited call per request.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { startAdminServer, type AdminServer } from '../../extproc/server/admin-http.ts';
import { killSwitchAuditRecord, type KillSwitchCall } from '../../extproc/server/kill-switch-http.ts';
import { createKillSwitchState } from '../../extproc/state/kill-switch.ts';
import { StateUnavailableError } from '../../extproc/state/state-errors.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';
import { auditRecordSchema } from '../../extproc/telemetry/audit-record.ts';

class FailingStore extends MemoryStateStore {
  down = false;
  override addDisabled(member: string, value: string): Promise<boolean> {
    return this.down ? Promise.reject(new StateUnavailableError('addDisabled', 'timeout')) : super.addDisabled(member, value);
  }
}

describe('kill switch admin API', () => {
  const token = randomBytes(32).toString('hex');
  const store = new FailingStore();
  const calls: KillSwitchCall[] = [];
  const state = createKillSwitchState(store, { onDisabled: () => Promise.resolve(0), onEnabled: () => undefined, maxStaleMs: 10 });
  let server: AdminServer;
  const post = async (path: string, body: string): Promise<{ status: number; code: string | undefined }> => {
    const r = await fetch(`http://127.0.0.1:${server.port}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    const json = (await r.json()) as { error?: { code: string } };
    return { status: r.status, code: json.error?.code };
  };

  before(async () => {
    await state.start();
    server = await startAdminServer({
      host: '127.0.0.1', port: 0, registry: new Registry(), ready: () => true,
      killSwitch: { token: Buffer.from(token), state, known: (t, i) => t === 'team-a' && i === 'agent-1', onCall: (c) => { calls.push(c); } },
    });
  });
  after(async () => { state.close(); await server.close(); await store.close(); });

  it('a state store that fails answers 503 state_unavailable, and nothing is disabled', async () => {
    store.down = true;
    assert.deepEqual(await post('/admin/kill-switch/revoke', '{"tenant":"team-a","identity":"agent-1"}'), { status: 503, code: 'state_unavailable' });
    store.down = false;
    assert.equal(state.listed('team-a', 'agent-1'), false);
    assert.deepEqual(await post('/admin/kill-switch/revoke', '{"tenant":"team-a","identity":"agent-1"}'), { status: 200, code: undefined });
    assert.equal(state.listed('team-a', 'agent-1'), true);
  });

  it('a body over 4 KiB is 400 body_malformed; an unknown sub-path is 404; other admin paths are untouched', async () => {
    assert.deepEqual(await post('/admin/kill-switch/revoke', JSON.stringify({ tenant: 'team-a', identity: 'agent-1', pad: 'x'.repeat(5000) })), { status: 400, code: 'body_malformed' });
    assert.deepEqual(await post('/admin/kill-switch/revoke-all', '{}'), { status: 404, code: 'endpoint_not_allowed' });
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
  });

  it('every call was reported once, and each makes a valid audit record that holds no token', () => {
    assert.deepEqual(calls.map((c) => c.status), [503, 200, 400, 404]);
    for (const c of calls) {
      const record = killSwitchAuditRecord(c, 'rev');
      assert.doesNotThrow(() => auditRecordSchema.parse(record));
      assert.equal(record.stage, 'admin');
      assert.ok(!JSON.stringify(record).includes(token));
    }
    assert.equal(killSwitchAuditRecord(calls[0] as KillSwitchCall, 'rev').decision, 'error', 'a state failure is an error, not a denial');
  });
});
