import { StateUnavailableError } from './state-errors.ts';
import type { StateStore } from './state-store.ts';

/** How often each replica re-reads the disabled set from the state store. */
export const KILL_SWITCH_POLL_MS = 250;
/**
 * The staleness bound: a replica whose last successful read of the disabled set started longer ago than
 * this refuses every request (`state_unavailable`) instead of deciding on an old copy. A revoke or
 * enable answers only once this long has passed after its write, so by then every replica enforces it.
 */
export const KILL_SWITCH_MAX_STALE_MS = 1_000;

export interface DisabledIdentity {
  readonly tenant: string;
  readonly identity: string;
  /** When it was disabled (ISO 8601). */
  readonly since: string;
}

/**
 * The kill switch's disabled set, held in the state store (memory for one replica, Redis for all of
 * them, surviving restarts) and copied into each replica, re-read every KILL_SWITCH_POLL_MS.
 */
export interface KillSwitchState {
  /** Whether (tenant, identity) is disabled. Throws StateUnavailableError when this replica's copy is stale (fail closed). */
  isDisabled(tenant: string, identity: string): boolean;
  /** True when it is in this replica's copy (no staleness check; for the admin API's answers). */
  listed(tenant: string, identity: string): boolean;
  /** Adds it to the set and revokes its leases here; resolves once every replica enforces it. */
  disable(tenant: string, identity: string): Promise<{ readonly added: boolean; readonly revokedLeases: number }>;
  /** Removes it from the set; resolves once every replica has seen it. */
  enable(tenant: string, identity: string): Promise<{ readonly removed: boolean }>;
  /** The set as the state store holds it now. */
  list(): Promise<readonly DisabledIdentity[]>;
  /** Reads the set (retrying for a moment; a failure is reported, not thrown) and keeps re-reading it. */
  start(): Promise<void>;
  /** Reads the set now (what the poll does); a failure is reported, not thrown. */
  refresh(): Promise<void>;
  close(): void;
}

export interface KillSwitchOptions {
  /** An identity entered the set (on any replica): revoke the leases this replica holds for it; resolves with how many. */
  readonly onDisabled: (tenant: string, identity: string) => Promise<number>;
  readonly onEnabled: (tenant: string, identity: string) => void;
  readonly onReadFailed?: (err: unknown) => void;
  readonly pollMs?: number;
  readonly maxStaleMs?: number;
  /** How long start() keeps trying the first read. */
  readonly startWaitMs?: number;
  readonly now?: () => number;
}

/** No kill switch configured: nobody is disabled and nothing is read. */
export const KILL_SWITCH_OFF: KillSwitchState = Object.freeze({
  isDisabled: () => false,
  listed: () => false,
  disable: () => Promise.reject(new Error('the kill switch is off')),
  enable: () => Promise.reject(new Error('the kill switch is off')),
  list: () => Promise.resolve([]),
  start: () => Promise.resolve(),
  refresh: () => Promise.resolve(),
  close: () => undefined,
});

/** Tenants cannot contain a newline (config/schema.ts), so this key is unambiguous. */
const keyOf = (tenant: string, identity: string): string => `${tenant}\n${identity}`;
const memberOf = (tenant: string, identity: string): string => JSON.stringify([tenant, identity]);

function decode(member: string, value: string): DisabledIdentity | undefined {
  try {
    const m: unknown = JSON.parse(member);
    const v: unknown = JSON.parse(value);
    if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') return undefined;
    const since = typeof v === 'object' && v !== null && typeof (v as { since?: unknown }).since === 'string' ? (v as { since: string }).since : '';
    return { tenant: m[0], identity: m[1], since };
  } catch {
    return undefined;
  }
}

export function createKillSwitchState(store: StateStore, opts: KillSwitchOptions): KillSwitchState {
  const now = opts.now ?? ((): number => performance.now());
  const pollMs = opts.pollMs ?? KILL_SWITCH_POLL_MS;
  const maxStaleMs = opts.maxStaleMs ?? KILL_SWITCH_MAX_STALE_MS;
  let view = new Map<string, DisabledIdentity>();
  /** When the read behind `view` started; -Infinity until the first one succeeds. */
  let freshAt = -Infinity;
  /** When this replica last wrote the set: a read that started before then is older than `view`. */
  let wroteAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let reading = false;

  const revokeHere = (d: DisabledIdentity): Promise<number> => opts.onDisabled(d.tenant, d.identity).catch((err: unknown) => { opts.onReadFailed?.(err); return 0; });
  const apply = (next: Map<string, DisabledIdentity>): void => {
    for (const [k, d] of next) if (!view.has(k)) void revokeHere(d);
    for (const [k, d] of view) if (!next.has(k)) opts.onEnabled(d.tenant, d.identity);
    view = next;
  };
  const read = async (): Promise<readonly DisabledIdentity[]> => {
    const out: DisabledIdentity[] = [];
    for (const [m, v] of await store.listDisabled()) {
      const d = decode(m, v);
      if (d !== undefined) out.push(d);
    }
    return out;
  };
  const refresh = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    const started = now();
    try {
      const list = await read();
      if (started < wroteAt) return;
      apply(new Map(list.map((d) => [keyOf(d.tenant, d.identity), d])));
      freshAt = started;
    } catch (err) {
      opts.onReadFailed?.(err);
    } finally {
      reading = false;
    }
  };
  const settle = (): Promise<void> => new Promise((resolve) => { setTimeout(resolve, maxStaleMs); });

  return {
    isDisabled(tenant, identity) {
      if (now() - freshAt > maxStaleMs) throw new StateUnavailableError('killSwitch', 'unavailable');
      return view.size !== 0 && view.has(keyOf(tenant, identity));
    },
    listed: (tenant, identity) => view.has(keyOf(tenant, identity)),
    async disable(tenant, identity) {
      const since = new Date().toISOString();
      const added = await store.addDisabled(memberOf(tenant, identity), JSON.stringify({ since }));
      wroteAt = now();
      const k = keyOf(tenant, identity);
      const entry = view.get(k) ?? { tenant, identity, since };
      view = new Map(view).set(k, entry);
      const revokedLeases = await revokeHere(entry);
      await settle();
      return { added, revokedLeases };
    },
    async enable(tenant, identity) {
      const removed = await store.removeDisabled(memberOf(tenant, identity));
      wroteAt = now();
      const k = keyOf(tenant, identity);
      if (view.has(k)) {
        const next = new Map(view);
        next.delete(k);
        view = next;
        opts.onEnabled(tenant, identity);
      }
      await settle();
      return { removed };
    },
    list: read,
    refresh,
    async start() {
      // Before this replica says ready: a Redis connection still being set up gets a little time, so the
      // first requests are not refused for a stale copy.
      const until = now() + (opts.startWaitMs ?? 2_000);
      await refresh();
      while (freshAt === -Infinity && now() < until) {
        await new Promise((resolve) => { setTimeout(resolve, 50); });
        await refresh();
      }
      if (timer !== undefined) return;
      timer = setInterval(() => { void refresh(); }, pollMs);
      timer.unref();
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
