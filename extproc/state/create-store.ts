import type { StateSectionConfig } from '../config/state-schema.ts';
import type { Secret } from '../core/secret.ts';
import { RedisStateStore, type ConnectionChange, type RedisStateStoreOptions, type StateObserver } from './redis-store.ts';
import { MemoryStateStore, type StateStore } from './state-store.ts';

export interface StateStoreDeps {
  /** The resolved `state.password` source (read by config/, never logged). */
  readonly password?: Secret;
  /** The contents of `state.tls.caFile`, read at load. */
  readonly ca?: Buffer;
  readonly now?: () => number;
  readonly onConnectionError?: (err: Error) => void;
  /** The connection lost (with its cause) and back: one call each. */
  readonly onConnectionChange?: (change: ConnectionChange) => void;
  /** Every Redis call's operation, duration and failure (for tollgate_state_call_seconds / tollgate_state_errors_total). */
  readonly observer?: StateObserver;
}

/** Where to connect, from `url` or `host`/`port`/`db`; `rediss://` or a `tls` block turns TLS on. */
export function redisOptions(cfg: Extract<StateSectionConfig, { backend: 'redis' }>, deps: StateStoreDeps): RedisStateStoreOptions {
  let host = cfg.host ?? '127.0.0.1';
  let port = cfg.port ?? 6379;
  let db = cfg.db ?? 0;
  let tls = cfg.tls !== undefined;
  if (cfg.url !== undefined) {
    const u = new URL(cfg.url);
    host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    port = u.port === '' ? 6379 : Number(u.port);
    db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
    tls ||= u.protocol === 'rediss:';
  }
  return {
    host, port, db,
    keyPrefix: cfg.keyPrefix,
    timeoutMs: cfg.timeoutMs,
    connectTimeoutMs: cfg.connectTimeoutMs,
    ...(cfg.username === undefined ? {} : { username: cfg.username }),
    ...(deps.password === undefined ? {} : { password: deps.password }),
    ...(tls ? { tls: { ...(deps.ca === undefined ? {} : { ca: deps.ca }), servername: cfg.tls?.serverName ?? host } } : {}),
    ...(deps.now === undefined ? {} : { now: deps.now }),
    ...(deps.onConnectionError === undefined ? {} : { onConnectionError: deps.onConnectionError }),
    ...(deps.onConnectionChange === undefined ? {} : { onConnectionChange: deps.onConnectionChange }),
    ...(deps.observer === undefined ? {} : { observer: deps.observer }),
  };
}

export function createStateStore(cfg: StateSectionConfig, deps: StateStoreDeps = {}): StateStore {
  if (cfg.backend === 'memory') return new MemoryStateStore(deps.now === undefined ? {} : { now: deps.now });
  return new RedisStateStore(redisOptions(cfg, deps));
}
