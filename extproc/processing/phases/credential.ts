import { CALLER_CREDENTIAL_HEADERS } from '../../core/request-context.ts';
import { TollgateError } from '../../errors.ts';
import { asTollgateError, translatorFor } from '../../policy/request.ts';
import { CREDENTIAL_HEADER_NAMES, headerValue, type RequestTranslator } from '../../providers/index.ts';
import type { HeaderEdits } from '../responses.ts';
import type { RequestState } from '../request-state.ts';

/** Starts the credential lookup for this request's scope; a warm cache answers at once. */
export function startCredential(state: RequestState): void {
  const { authz, provider } = state;
  if (authz === undefined || provider === undefined || authz.withoutBody || state.credential !== undefined) return;
  const credential = state.services.credentials.get({ tenant: authz.identity.tenant, identity: authz.identity.id, provider: provider.name });
  credential.catch(() => undefined); // awaited later; avoid an unhandled rejection if the request ends first
  state.credential = credential;
}

/** The provider's translator for the authorized request line (built once per request). */
export function translator(state: RequestState, headers: ReadonlyMap<string, string> = new Map()): RequestTranslator {
  if (state.translator !== undefined) return state.translator;
  const { authz, provider } = state;
  if (authz === undefined || provider === undefined) throw new TollgateError('protocol_violation', 'a request phase before the request was authorized');
  state.translator = translatorFor(provider, authz.method, authz.path, headers);
  return state.translator;
}

/**
 * Headers that never travel upstream: the caller's credentials and whatever the provider kind does not
 * allow. When ext_authz already swapped the credential (a request without a body), the credential
 * headers now hold the provider's credential: ext_authz removed the caller's, so they stay.
 */
export function headersToStrip(state: RequestState, names: Iterable<string>): string[] {
  const kind = state.provider?.kind;
  const strip = new Set([...CALLER_CREDENTIAL_HEADERS, ...(kind === undefined ? [] : kind.headersToRemove(names))]);
  // No provider credential is ever a cookie or proxy-authorization: those always go.
  if (state.authz?.withoutBody === true) for (const name of CREDENTIAL_HEADER_NAMES) if (name !== 'cookie' && name !== 'proxy-authorization') strip.delete(name);
  // Envoy refuses ext_proc mutations of x-envoy-* headers (the request would fail); ext_authz removed them.
  return [...strip].filter((n) => !n.startsWith('x-envoy-'));
}

/**
 * The credential edits for the upstream request: applied last, to the final body, so a signature
 * (SigV4) covers exactly what is sent.
 */
export async function applyCredential(state: RequestState, body: Buffer | undefined): Promise<HeaderEdits> {
  if (state.authz?.withoutBody === true) return {};
  if (state.credential === undefined) throw new TollgateError('protocol_violation', 'credential requested before the request was authorized');
  const credential = await state.credential;
  try {
    const edits = await translator(state).applyCredential(credential, { body });
    if (credential.kind !== 'none') state.credentialMeta = credential.meta;
    return { set: edits.set.map((h) => ({ name: h.name, value: headerValue(h) })), remove: edits.remove };
  } catch (err) {
    throw asTollgateError(err);
  }
}
