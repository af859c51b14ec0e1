// Header edits that carry a credential upstream. Secret values stay wrapped until the wire layer reveals them.
import type { Credential } from '../../core/credential.ts';
import { Secret } from '../../core/secret.ts';
import { ProviderError } from '../errors.ts';

export interface HeaderToSet {
  readonly name: string;
  /** A Secret for credential values; a plain string otherwise. */
  readonly value: string | Secret;
}

export interface HeaderEdits {
  readonly set: readonly HeaderToSet[];
  readonly remove: readonly string[];
}

/** Every header any kind uses for a credential; a kind removes the ones it does not set. */
export const CREDENTIAL_HEADER_NAMES: readonly string[] = Object.freeze([
  'authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'proxy-authorization', 'cookie',
]);

export function headerValue(h: HeaderToSet): string {
  return typeof h.value === 'string' ? h.value : h.value.reveal();
}

/** The edits for a set of headers, removing every other credential header. */
export function credentialEdits(set: readonly HeaderToSet[]): HeaderEdits {
  const names = new Set(set.map((h) => h.name));
  return { set, remove: CREDENTIAL_HEADER_NAMES.filter((n) => !names.has(n)) };
}

export const bearer = (secret: Secret): HeaderToSet => ({ name: 'authorization', value: new Secret(`Bearer ${secret.reveal()}`) });

export function mismatch(kind: string, credential: Credential): never {
  throw new ProviderError('credential_mismatch', `a credential of kind ${credential.kind} cannot be used with provider kind ${kind}`);
}
