import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../core/digest.ts';
import type { Policy } from '../policy/policy.ts';
import type { ApiKeyLookup } from './precedence.ts';

const KEY_PREFIX = 'tg_';
const BEARER_RE = /^Bearer[ \t]+([!-~]+)$/i;

/** A Tollgate API key: "tg_" + 32 random bytes, base64url. High entropy, so a plain SHA-256 is a safe stored form. */
export function mintApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return 'sha256:' + sha256Hex(key);
}

export type PresentedKey =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'key'; readonly key: string };

/**
 * Finds the API key a caller presented, in `authorization: Bearer …`, `x-api-key` or `api-key`
 * (the headers OpenAI, Anthropic and Azure SDKs send). Two different keys, or one header sent
 * twice (Envoy joins repeats with ","), is ambiguous and denied rather than guessed at.
 */
export function presentedApiKey(headers: Readonly<Record<string, string>>): PresentedKey {
  const found = new Set<string>();
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    if (authorization.includes(',')) return { kind: 'ambiguous' };
    const m = BEARER_RE.exec(authorization.trim());
    if (m?.[1] === undefined) return { kind: 'malformed' };
    found.add(m[1]);
  }
  for (const name of ['x-api-key', 'api-key']) {
    const v = headers[name]?.trim();
    if (v === undefined) continue;
    if (v === '' || !/^[!-~]+$/.test(v)) return { kind: 'malformed' };
    found.add(v);
  }
  if (found.size === 0) return { kind: 'none' };
  const [key] = found;
  if (found.size > 1 || key === undefined || key.includes(',')) return { kind: 'ambiguous' };
  return { kind: 'key', key };
}

/** The API-key lookup the identity resolver uses: the presented key's hash, against the policy in force. */
export function apiKeyLookup(policy: () => Policy): ApiKeyLookup {
  return (headers) => {
    const presented = presentedApiKey(headers);
    if (presented.kind === 'none') return { kind: 'none' };
    if (presented.kind === 'ambiguous') return { kind: 'fail', reason: 'credentials_ambiguous', detail: 'more than one key' };
    if (presented.kind === 'malformed') return { kind: 'fail', reason: 'unauthenticated', detail: 'malformed key' };
    const found = policy().identitiesByKeyHash.get(hashApiKey(presented.key));
    return found === undefined ? { kind: 'fail', reason: 'unauthenticated', detail: 'unknown key' } : { kind: 'ok', subject: found.id, tenant: found.tenant };
  };
}
