import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../core/secret.ts';
import type { ReplayGuard } from './replay.ts';

/**
 * An optional signed request proof: HMAC-SHA256, with a key per identity, over
 *
 *   "tollgate-proof-v1\n" identity "\n" METHOD "\n" path-with-query "\n" t "\n" nonce "\n" hex(sha256(body))
 *
 * sent as `x-tollgate-proof: v1;t=<unix seconds>;n=<nonce>;s=<base64url signature>`.
 *
 * Why HMAC and not a DPoP-style JWT: it works the same for every identity kind (an mTLS workload
 * or an API-key caller has no access token to bind a DPoP proof to); it covers the body, which
 * RFC 9449 does not; it costs one HMAC instead of a JWS parse and an asymmetric verify per
 * request; and it is the scheme clients already know from AWS SigV4 and webhook signatures. The
 * price is a shared secret per identity, read from env or a file like provider credentials.
 *
 * - Window: |now - t| <= windowSeconds (default 300 s, the AWS/Stripe tolerance).
 * - Nonce: 16-128 characters of base64url; claimed once per identity for twice the window (the span
 *   in which a timestamp stays acceptable), only after the signature verified.
 * - Comparison is constant-time; the key never leaves its Secret except into the HMAC.
 * - The host is not signed: Envoy rewrites it per provider, and the provider prefix in the path
 *   already names the destination.
 * - Needs the body hash, so it is checked where the body is: the ext_proc request-body phase (or
 *   ext_authz with `with_request_body`).
 */

export type ProofFailure = 'proof_missing' | 'proof_malformed' | 'proof_no_key' | 'proof_stale' | 'proof_invalid' | 'proof_replayed' | 'replay_store_unavailable';
export type ProofResult = { readonly ok: true } | { readonly ok: false; readonly reason: ProofFailure; readonly detail: string };

export interface ProofInput {
  readonly identity: string;
  readonly method: string;
  /** The request path including the query string, as the client sent it. */
  readonly path: string;
  readonly bodySha256Hex: string;
}

const HEADER_RE = /^v1;t=(\d{1,12});n=([A-Za-z0-9_-]{16,128});s=([A-Za-z0-9_-]{43})$/;
const SHA256_HEX_RE = /^[0-9a-f]{64}$/;

export const EMPTY_BODY_SHA256 = createHash('sha256').digest('hex');

export function canonicalProofString(input: ProofInput, t: number, nonce: string): string {
  return ['tollgate-proof-v1', input.identity, input.method.toUpperCase(), input.path, String(t), nonce, input.bodySha256Hex].join('\n');
}

/** Builds the header value a client sends (used by tests and client tooling). */
export function signRequestProof(key: Secret, input: ProofInput, t: number, nonce: string): string {
  const sig = createHmac('sha256', key.reveal()).update(canonicalProofString(input, t, nonce)).digest('base64url');
  return `v1;t=${t};n=${nonce};s=${sig}`;
}

export interface RequestProofVerifierOptions {
  readonly keys: ReadonlyMap<string, Secret>;
  readonly windowSeconds: number;
  readonly replay: ReplayGuard;
  readonly now?: () => number;
}

export class RequestProofVerifier {
  readonly #opts: RequestProofVerifierOptions;
  readonly #now: () => number;

  constructor(opts: RequestProofVerifierOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  async verify(input: ProofInput, header: string | undefined): Promise<ProofResult> {
    if (header === undefined || header === '') return no('proof_missing', 'no request proof was sent');
    const m = HEADER_RE.exec(header.trim());
    if (m === null || !SHA256_HEX_RE.test(input.bodySha256Hex)) return no('proof_malformed', 'the request proof is not v1;t=..;n=..;s=..');
    const [, tText, nonce, sig] = m as unknown as [string, string, string, string];
    const key = this.#opts.keys.get(input.identity);
    if (key === undefined) return no('proof_no_key', 'no proof key is configured for this identity');
    const t = Number(tText);
    const skew = Math.abs(this.#now() / 1000 - t);
    if (skew > this.#opts.windowSeconds) return no('proof_stale', `the proof timestamp is ${Math.round(skew)} s away from now`);
    const want = createHmac('sha256', key.reveal()).update(canonicalProofString(input, t, nonce)).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return no('proof_invalid', 'the proof signature does not match this request');
    const outcome = await this.#opts.replay.claim('nonce', input.identity, nonce, 2 * this.#opts.windowSeconds * 1000);
    if (outcome === 'replayed') return no('proof_replayed', 'this nonce was already used');
    if (outcome === 'store_unavailable') return no('replay_store_unavailable', 'the replay store failed');
    return { ok: true };
  }
}

const no = (reason: ProofFailure, detail: string): ProofResult => ({ ok: false, reason, detail });
