// Fixed-window counters in a state store, added to and read through the store's own reserve with no limit
// (what budgets use), so a test needs no method the product does not call.
import assert from 'node:assert/strict';
import type { ReserveResult, StateStore, WindowCharge } from '../../extproc/state/state-store.ts';

type Reserve = (charges: readonly WindowCharge[]) => Promise<ReserveResult>;

/** Adds `by` to the counter for `key` in the fixed window of `windowMs` containing the store's now; the new total. */
export async function addToWindow(store: StateStore | Reserve, key: string, by: number, windowMs: number): Promise<number> {
  const charges = [{ key, windowMs, amount: by, limit: Number.MAX_SAFE_INTEGER }];
  const r = typeof store === 'function' ? await store(charges) : await store.reserve(charges);
  assert.ok(r.granted, `a reservation with no limit was refused for ${key}`);
  const used = r.windows[0]?.used;
  assert.ok(used !== undefined);
  return used;
}

/** The counter's current total (0 when absent; like any reservation of 0 it leaves an empty window behind). */
export function windowTotal(store: StateStore | Reserve, key: string, windowMs: number): Promise<number> {
  return addToWindow(store, key, 0, windowMs);
}
