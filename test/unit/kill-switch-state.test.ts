// The kill switch's per-replica copy of the disabled set: replicas see each other's changes through the
// store on their next read, revoke their own leases when an identity enters the set, and refuse to
// decide (state_unavailable) once their copy is older than the staleness bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKillSwitchState, type KillSwitchState } from '../../extproc/state/kill-switch.ts';
import { StateUnavailableError } from '../../extproc/state/state-errors.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';

/** A store that can be made to fail, as a Redis that is down. */
class FlakyStore extends MemoryStateStore {
  down = false;
  override listDisabled(): Promise<ReadonlyMap<string, string>> {
    return this.down ? Promise.reject(new StateUnavailableError('listDisabled', 'unavailable')) : super.listDisabled();
  }
}

function replica(store: MemoryStateStore, clock: { now: number }): { ks: KillSwitchState; events: string[] } {
  const events: string[] = [];
  const ks = createKillSwitchState(store, {
    onDisabled: (t, i) => { events.push(`disabled ${t}/${i}`); return Promise.resolve(1); },
    onEnabled: (t, i) => { events.push(`enabled ${t}/${i}`); },
    // Long poll: the test drives reads through start() only, on its own clock.
    pollMs: 3_600_000,
    maxStaleMs: 0,
    startWaitMs: 0,
    now: () => clock.now,
  });
  return { ks, events };
}

/** A store whose reads take the set at once and answer only when released. */
class SlowStore extends MemoryStateStore {
  release: (() => void) | undefined;
  override async listDisabled(): Promise<ReadonlyMap<string, string>> {
    const snapshot = await super.listDisabled();
    await new Promise<void>((r) => { this.release = r; });
    return snapshot;
  }
}

describe('kill switch state', () => {
  it('a disable on one replica reaches the other on its next read, which revokes its own leases; enable likewise', async () => {
    const store = new MemoryStateStore();
    const clock = { now: 0 };
    const a = replica(store, clock);
    const b = replica(store, clock);
    await a.ks.start();
    await b.ks.start();
    assert.equal(b.ks.isDisabled('team-a', 'spiffe://x.org/a'), false);
    assert.deepEqual(await a.ks.disable('team-a', 'spiffe://x.org/a'), { added: true, revokedLeases: 1 });
    assert.equal(a.ks.isDisabled('team-a', 'spiffe://x.org/a'), true, 'at once on the replica that was called');
    await b.ks.refresh();
    assert.equal(b.ks.isDisabled('team-a', 'spiffe://x.org/a'), true);
    assert.equal(b.ks.isDisabled('team-b', 'spiffe://x.org/a'), false, 'the same id in another tenant');
    assert.deepEqual(b.events, ['disabled team-a/spiffe://x.org/a']);
    assert.deepEqual((await b.ks.list()).map((d) => [d.tenant, d.identity]), [['team-a', 'spiffe://x.org/a']]);
    assert.deepEqual(await a.ks.disable('team-a', 'spiffe://x.org/a'), { added: false, revokedLeases: 1 });
    assert.deepEqual(await b.ks.enable('team-a', 'spiffe://x.org/a'), { removed: true });
    await a.ks.refresh();
    assert.equal(a.ks.isDisabled('team-a', 'spiffe://x.org/a'), false);
    assert.deepEqual(a.events, ['disabled team-a/spiffe://x.org/a', 'disabled team-a/spiffe://x.org/a', 'enabled team-a/spiffe://x.org/a']);
    a.ks.close();
    b.ks.close();
  });

  it('fails closed: before its first read, and once its copy is older than the bound, it throws state_unavailable', async () => {
    const store = new FlakyStore();
    const clock = { now: 0 };
    const ks = createKillSwitchState(store, { onDisabled: () => Promise.resolve(0), onEnabled: () => undefined, pollMs: 3_600_000, maxStaleMs: 1_000, startWaitMs: 0, now: () => clock.now });
    store.down = true;
    await ks.start();
    assert.throws(() => ks.isDisabled('t', 'i'), StateUnavailableError);
    store.down = false;
    await ks.refresh();
    clock.now = 1_000;
    assert.equal(ks.isDisabled('t', 'i'), false, 'within the bound');
    store.down = true;
    await ks.refresh();
    clock.now = 1_001;
    assert.throws(() => ks.isDisabled('t', 'i'), StateUnavailableError, 'a failed read does not refresh the copy');
    ks.close();
  });

  it('a read that started before this replica\'s own write does not undo it', async () => {
    const slow = new SlowStore();
    const clock = { now: 0 };
    const events: string[] = [];
    const ks = createKillSwitchState(slow, { onDisabled: () => { events.push('disabled'); return Promise.resolve(0); }, onEnabled: () => { events.push('enabled'); }, pollMs: 3_600_000, maxStaleMs: 0, startWaitMs: 0, now: () => clock.now });
    const reading = ks.start();
    await new Promise((r) => setImmediate(r));
    clock.now = 1;
    await ks.disable('t', 'i');
    slow.release?.();
    await reading;
    assert.equal(ks.listed('t', 'i'), true);
    assert.deepEqual(events, ['disabled'], 'no enable from the older read');
    ks.close();
  });
});
