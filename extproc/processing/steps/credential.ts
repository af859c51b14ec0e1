import { CALLER_CREDENTIAL_HEADERS } from '../../core/request-context.ts';
import { TollgateError } from '../../errors.ts';
import { asTollgateError, translatorFor } from '../../policy/request.ts';
import { CREDENTIAL_HEADER_NAMES, headerValue, type RequestTranslator } from '../../providers/index.ts';
import type { HeaderEdits } from '../responses.ts';
import type { ProcRequest } from '../request.ts';

const NO_EDITS: HeaderEdits = Object.freeze({});

/** Starts the credential lookup for this request's scope; a warm cache answers at once (no Promise). */
export function startCredential(req: ProcRequest): void {
  const authz = req.caller?.authz;
  const provider = req.route?.provider;
  if (authz === undefined || provider === undefined || authz.withoutBody || req.credential.pending !== undefined) return;
  lookUpCredential(req, provider.name);
}

/** Looks the credential up for (tenant, identity, `provider`), replacing any earlier lookup (a rerouted request). */
export function lookUpCredential(req: ProcRequest, provider: string): void {
  const authz = req.caller?.authz;
  if (authz === undefined) return;
  const credential = req.services.credentials.lookup({ tenant: authz.identity.tenant, identity: authz.identity.id, provider });
  if (credential instanceof Promise) credential.catch(() => undefined); // awaited later; avoid an unhandled rejection if the request ends first
  req.credential.pending = credential;
}

/** The provider's translator for the authorized request line (built once per request). */
export function translator(req: ProcRequest, headers: ReadonlyMap<string, string> = req.headers): RequestTranslator {
  const route = req.route;
  const authz = req.caller?.authz;
  if (route === undefined || authz === undefined) throw new TollgateError('protocol_violation', 'a request step before the request was authorized');
  if (route.translator !== undefined) return route.translator;
  route.translator = translatorFor(route.provider, authz.method, authz.path, headers);
  return route.translator;
}

/**
 * Headers of this request-headers message that never travel upstream: the caller's credentials and whatever the
 * provider kind does not allow. Only names the message carries are listed: Envoy applies Check's answer (which
 * removes every caller credential header) before it sends the headers here, and removing an absent header
 * changes nothing. When ext_authz already swapped the credential (a request without a body), the credential
 * headers now hold the provider's credential: ext_authz removed the caller's, so they stay.
 */
export function headersToStrip(req: ProcRequest, headers: ReadonlyMap<string, string>): string[] {
  const kind = req.route?.provider.kind;
  const withoutBody = req.caller?.authz.withoutBody === true;
  // The caller's credential headers, in order, then the kind's refusals not already listed (one array, no sets).
  const strip = (withoutBody ? STRIP_WITHOUT_BODY : STRIP_WITH_BODY).filter((name) => headers.has(name));
  for (const name of kind === undefined ? [] : kind.headersToRemove(headers.keys())) {
    if (strip.includes(name) || (withoutBody && KEPT_WITHOUT_BODY.has(name)) || name.startsWith('x-envoy-')) continue;
    strip.push(name);
  }
  return strip;
}

// No provider credential is ever a cookie or proxy-authorization: those always go.
const KEPT_WITHOUT_BODY: ReadonlySet<string> = new Set(CREDENTIAL_HEADER_NAMES.filter((n) => n !== 'cookie' && n !== 'proxy-authorization'));
// Envoy refuses ext_proc mutations of x-envoy-* headers (the request would fail); ext_authz removed them.
const STRIP_WITH_BODY: readonly string[] = Object.freeze([...new Set(CALLER_CREDENTIAL_HEADERS)].filter((n) => !n.startsWith('x-envoy-')));
const STRIP_WITHOUT_BODY: readonly string[] = Object.freeze(STRIP_WITH_BODY.filter((n) => !KEPT_WITHOUT_BODY.has(n)));

/**
 * The credential edits for the upstream request: applied last, to the final body, so a signature
 * (SigV4) covers exactly what is sent. Waits only for a credential that is not cached yet, and for a
 * translator whose application is asynchronous.
 */
export function applyCredential(req: ProcRequest, body: Buffer | undefined): HeaderEdits | Promise<HeaderEdits> {
  if (req.caller?.authz.withoutBody === true) return NO_EDITS;
  const pending = req.credential.pending;
  if (pending === undefined) throw new TollgateError('protocol_violation', 'credential requested before the request was authorized');
  return pending instanceof Promise ? pending.then((c) => applyWith(req, c, body)) : applyWith(req, pending, body);
}

function applyWith(req: ProcRequest, credential: Parameters<RequestTranslator['applyCredential']>[0], body: Buffer | undefined): Promise<HeaderEdits> {
  let applied;
  try {
    applied = translator(req).applyCredential(credential, { body });
  } catch (err) {
    throw asTollgateError(err);
  }
  return applied.then((edits) => {
    if (credential.kind !== 'none') req.credential.meta = credential.meta;
    return { set: edits.set.map((h) => ({ name: h.name, value: headerValue(h) })), remove: edits.remove };
  }, (err: unknown) => {
    throw asTollgateError(err);
  });
}
