// Which caller headers may reach a provider. Everything else is removed: caller credentials, cookies,
// x-tollgate-*, forwarding headers (forwarded, x-forwarded-*, x-real-ip, x-envoy-*), compression
// negotiation (the caller's accept-encoding: the request-headers phase sets identity, because Tollgate reads
// usage and scans responses, so they must come uncompressed),
// and headers that choose a billing scope (openai-organization, openai-project, x-goog-user-project).
// Pseudo-headers and host are never removed (Envoy forbids it); content-length and transfer-encoding
// are framing, which Envoy owns.

export interface HeaderAllowList {
  readonly names: ReadonlySet<string>;
  readonly prefixes: readonly string[];
}

/** Every provider kind allows these. */
export const COMMON_ALLOWED_HEADERS: readonly string[] = Object.freeze([
  'content-type', 'accept', 'user-agent', 'x-request-id', 'traceparent', 'tracestate', 'idempotency-key',
]);

const NEVER_REMOVED = new Set(['host', 'content-length', 'transfer-encoding']);

export function allowList(names: readonly string[], prefixes: readonly string[] = []): HeaderAllowList {
  return { names: new Set([...COMMON_ALLOWED_HEADERS, ...names]), prefixes };
}

export function isAllowed(list: HeaderAllowList, lowerName: string): boolean {
  if (list.names.has(lowerName)) return true;
  // A loop, not prefixes.some(...): no closure per header name on every request.
  for (const p of list.prefixes) if (lowerName.startsWith(p)) return true;
  return false;
}

/** Names (lower-case) of the request's headers to remove before the request goes upstream. */
export function headersToRemove(list: HeaderAllowList, names: Iterable<string>): string[] {
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.toLowerCase();
    if (name.startsWith(':') || NEVER_REMOVED.has(name)) continue;
    if (!isAllowed(list, name)) out.push(name);
  }
  return out;
}
