import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuthzContext } from './request-context.ts';

/**
 * Seals the context ext_authz hands to ext_proc, so that ext_proc trusts only what Tollgate's own
 * ext_authz decided: a client of the gRPC port cannot forge an identity to obtain a provider
 * credential. The seal is an HMAC-SHA256 over every field plus the time it was issued.
 */
export interface AuthzSealer {
  seal(ctx: AuthzContext, issuedAtMs: number): string;
  /** True if `seal` was made by this key over exactly these fields. Constant-time. */
  verify(ctx: AuthzContext, issuedAtMs: number, seal: string): boolean;
}

export function createAuthzSealer(key: Buffer): AuthzSealer {
  if (key.length < 32) throw new Error('the authz context key must be at least 32 bytes');
  const mac = (ctx: AuthzContext, issuedAtMs: number): Buffer =>
    createHmac('sha256', key)
      .update(JSON.stringify(['tollgate.authz.v1', ctx.identity.id, ctx.identity.tenant, ctx.provider, ctx.decisionId, ctx.policyRevision, issuedAtMs]))
      .digest();
  return {
    seal: (ctx, issuedAtMs) => mac(ctx, issuedAtMs).toString('base64url'),
    verify: (ctx, issuedAtMs, seal) => {
      const presented = Buffer.from(seal, 'base64url');
      const expected = mac(ctx, issuedAtMs);
      return presented.length === expected.length && timingSafeEqual(presented, expected);
    },
  };
}
