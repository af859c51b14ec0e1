// MemoryStateStore: fixed windows and claim-once, with an injected clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';
import { addToWindow, windowTotal } from '../helpers/window-counter.ts';

function withStore(start: number, fn: (store: MemoryStateStore, setNow: (t: number) => void) => Promise<void>): () => Promise<void> {
  return async () => {
    let now = start;
    const store = new MemoryStateStore({ now: () => now });
    try {
      await fn(store, (t) => { now = t; });
    } finally {
      await store.close();
    }
  };
}

describe('MemoryStateStore fixed-window counters', () => {
  it('adds up within a window and resets on the next one', withStore(10_000, async (store, setNow) => {
    const steps: readonly [number, number, number][] = [
      // [now, by, expected total]
      [10_000, 1, 1],
      [10_000, 2, 3],
      [10_500, 10, 13],
      [10_999, 1, 14],
      [11_000, 1, 1],
      [11_999, 4, 5],
      [13_500, 7, 7],
    ];
    for (const [t, by, total] of steps) {
      setNow(t);
      assert.equal(await addToWindow(store, 'rate:agent-1', by, 1_000), total, `at ${t}`);
    }
  }));

  it('keeps keys apart', withStore(0, async (store) => {
    assert.equal(await addToWindow(store, 'a', 5, 60_000), 5);
    assert.equal(await addToWindow(store, 'b', 1, 60_000), 1);
    assert.equal(await addToWindow(store, 'a', 1, 60_000), 6);
  }));

  it('aligns windows to multiples of windowMs, not to the first add', withStore(59_000, async (store, setNow) => {
    assert.equal(await addToWindow(store, 'k', 1, 60_000), 1);
    setNow(60_000);
    assert.equal(await addToWindow(store, 'k', 1, 60_000), 1);
  }));

  it('a reservation of 0 reads the current total', withStore(0, async (store) => {
    await addToWindow(store, 'k', 3, 1_000);
    assert.equal(await windowTotal(store, 'k', 1_000), 3);
  }));

  it('keeps counters of the same key with different window lengths apart', withStore(60_000, async (store) => {
    assert.equal(await addToWindow(store, 'tokens:agent-1', 100, 1_000), 100);
    assert.equal(await addToWindow(store, 'tokens:agent-1', 1, 60_000), 1);
  }));
});

describe('MemoryStateStore.claimOnce', () => {
  it('is true once, false while the claim lives, true again after ttl', withStore(1_000, async (store, setNow) => {
    const steps: readonly [number, boolean][] = [
      [1_000, true],
      [1_000, false],
      [1_500, false],
      [1_999, false],
      [2_000, true],
      [2_999, false],
      [3_000, true],
    ];
    for (const [t, expected] of steps) {
      setNow(t);
      assert.equal(await store.claimOnce('nonce-1', 1_000), expected, `at ${t}`);
    }
  }));

  it('keeps keys apart, and apart from window counters', withStore(0, async (store) => {
    assert.equal(await store.claimOnce('x', 1_000), true);
    assert.equal(await store.claimOnce('y', 1_000), true);
    assert.equal(await addToWindow(store, 'x', 1, 1_000), 1);
    assert.equal(await store.claimOnce('x', 1_000), false);
  }));

  it('forgets every claim on close', async () => {
    const store = new MemoryStateStore({ now: () => 0 });
    assert.equal(await store.claimOnce('x', 1_000), true);
    await store.close();
    assert.equal(await store.claimOnce('x', 1_000), true);
    await store.close();
  });
});
