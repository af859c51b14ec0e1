import { hmacSha256 } from './core/digest.ts';
import type { AuthzContextCodec } from './core/authz-context.ts';
import type { CredentialBroker } from './credentials/broker.ts';
import type { IdentityRuntime } from './identity/build.ts';
import type { Policy } from './policy/policy.ts';
import type { UsageGuards } from './state/guards.ts';
import type { KillSwitchState } from './state/kill-switch.ts';
import type { StateStore } from './state/state-store.ts';
import type { AuditSink } from './telemetry/audit.ts';
import type { Logger } from './telemetry/logger.ts';
import type { Metrics } from './telemetry/metrics.ts';

/**
 * Process-lifetime services, built once at start and never swapped: a policy reload must not orphan
 * Vault leases or forget replay claims. The current Policy is read through `policy()` once per request,
 * so a request finishes on the revision it started with.
 */
export interface Services {
  policy(): Policy;
  /** The usage controls (rate limits, budgets, anomaly) of the policy in force, over `state`. */
  guards(): UsageGuards;
  readonly credentials: CredentialBroker;
  /** The kill switch's disabled set (every replica's, through the state store); KILL_SWITCH_OFF without a token. */
  readonly killSwitch: KillSwitchState;
  /** Verifies callers: mTLS/SPIFFE, JWT (JWKS cache, jti replay), API keys; request proofs. */
  readonly identity: IdentityRuntime;
  readonly authzContext: AuthzContextCodec;
  /** How long a sealed context stays valid; replay claims live a little longer. */
  readonly authzContextMaxAgeMs: number;
  /** Keyed hash of request bodies for audit (correlation without a brute-forceable plain hash). */
  readonly bodyHmac: (body: Buffer) => string;
  /** Single-use claims on authz decisions (replay protection), counters. */
  readonly state: StateStore;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** A body HMAC keyed by a key derived from `secret` (the authz context key), so replicas agree. */
export function bodyHmacFrom(secret: Buffer): (body: Buffer) => string {
  const mac = hmacSha256(hmacSha256(secret)('tollgate.audit.body-hmac.v1'));
  return (body) => mac(body).toString('hex');
}
