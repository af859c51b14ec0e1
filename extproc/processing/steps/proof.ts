import { createHash } from 'node:crypto';
import { RULES } from '../../core/decision.ts';
import type { Denial } from '../../errors.ts';
import type { ProcRequest } from '../request.ts';

/**
 * The signed request proof (identity.requestProof): an HMAC over the identity, method, path with
 * query, a timestamp, a nonce and the body's SHA-256, checked here because it covers the body. With
 * mode "required" a request without a valid proof is refused; with "optional" only a presented proof
 * is checked. The nonce is single use through the state store. Synchronous when no proof is checked.
 */
export function checkRequestProof(req: ProcRequest, body: Buffer): Denial | undefined | Promise<Denial | undefined> {
  const identity = req.services.identity;
  const proof = identity.proof;
  const authz = req.caller?.authz;
  if (proof === undefined || authz === undefined || identity.proofMode === 'off') return undefined;
  const header = req.headers.get(identity.proofHeader);
  if (header === undefined && identity.proofMode === 'optional') return undefined;
  return proof.verify({ identity: authz.identity.id, method: authz.method, path: authz.path, bodySha256Hex: createHash('sha256').update(body).digest('hex') }, header).then((r): Denial | undefined => {
    if (r.ok) return undefined;
    if (r.reason === 'replay_store_unavailable') return { code: 'state_unavailable', rule: RULES.requestProof };
    return { code: 'request_proof_invalid', rule: RULES.requestProof };
  });
}
