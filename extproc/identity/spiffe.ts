import { X509Certificate } from 'node:crypto';

/**
 * SPIFFE IDs and the mTLS identity Envoy reports.
 *
 * Parsing follows the SPIFFE-ID standard strictly (no normalisation, so the string that is
 * verified is the string policy matches):
 * - exactly the lower-case prefix `spiffe://`; at most 2048 bytes in all;
 * - a trust domain of 1-255 characters from `[a-z0-9._-]` (so no upper case, port, user info,
 *   percent-encoding or IP-literal brackets);
 * - an optional path of `/`-separated segments from `[A-Za-z0-9._-]`, none empty, none `.` or `..`,
 *   and no trailing `/`;
 * - no query and no fragment.
 *
 * Where the identity comes from, in this order (the first one present decides):
 * 1. `source.principal` in the CheckRequest: Envoy's verified peer, the certificate's URI SAN (Envoy
 *    falls back to a DNS SAN or the subject, which is refused here as not a SPIFFE ID).
 * 2. `source.certificate` (URL-encoded PEM; Envoy sends it only with `include_peer_certificate: true`).
 *    It must hold exactly one URI SAN (X509-SVID §2), must not be a CA certificate, must be within
 *    its validity period, and, if the trust domain has a bundle configured, must be issued directly
 *    by one of its CAs. When both are present they must name the same ID; with `requireCertificate`
 *    the certificate must be present.
 * 3. `x-forwarded-client-cert`, only with `trustXfcc`, i.e. only when the operator states that the
 *    proxy in front sets it itself (Envoy `forward_client_cert_details: SANITIZE_SET`). Accepted
 *    format: exactly one element (one hop; several elements mean the header was forwarded or
 *    appended, which contradicts the sanitise promise, so it is refused), `;`-separated `Key=value`
 *    pairs, values optionally double-quoted with `\"` escapes; the `URI` keys (there may be several)
 *    must hold exactly one `spiffe://` URI. `By`, `Hash`, `Subject`, `DNS`, `Cert` and `Chain` are
 *    ignored. Without `trustXfcc` the header is never read.
 *
 * Every accepted ID must belong to a configured trust domain.
 */

export interface SpiffeId {
  readonly uri: string;
  readonly trustDomain: string;
  readonly path: string;
}

export type SpiffeParseFailure =
  | 'too_long' | 'bad_scheme' | 'trust_domain_missing' | 'trust_domain_invalid' | 'port_not_allowed'
  | 'userinfo_not_allowed' | 'query_not_allowed' | 'fragment_not_allowed' | 'path_invalid';

export type SpiffeParseResult = { readonly ok: true; readonly id: SpiffeId } | { readonly ok: false; readonly reason: SpiffeParseFailure };

const PREFIX = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TD = 255;
const TD_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

export function parseSpiffeId(s: string): SpiffeParseResult {
  const fail = (reason: SpiffeParseFailure): SpiffeParseResult => ({ ok: false, reason });
  if (Buffer.byteLength(s, 'utf8') > MAX_ID_BYTES) return fail('too_long');
  if (!s.startsWith(PREFIX)) return fail('bad_scheme');
  const rest = s.slice(PREFIX.length);
  if (rest.includes('#')) return fail('fragment_not_allowed');
  if (rest.includes('?')) return fail('query_not_allowed');
  const slash = rest.indexOf('/');
  const td = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (td === '') return fail('trust_domain_missing');
  if (td.includes('@')) return fail('userinfo_not_allowed');
  if (td.includes(':')) return fail('port_not_allowed');
  if (td.length > MAX_TD || !TD_RE.test(td)) return fail('trust_domain_invalid');
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const seg of segments) if (seg === '' || seg === '.' || seg === '..' || !SEGMENT_RE.test(seg)) return fail('path_invalid');
  }
  return { ok: true, id: Object.freeze({ uri: s, trustDomain: td, path }) };
}

export type SpiffeFailure =
  | 'principal_invalid' | 'trust_domain_untrusted' | 'certificate_invalid' | 'certificate_mismatch'
  | 'certificate_required' | 'certificate_untrusted' | 'xfcc_invalid';

export type MtlsOutcome =
  | { readonly kind: 'absent' }
  | { readonly kind: 'ok'; readonly id: SpiffeId; readonly source: 'principal' | 'certificate' | 'xfcc' }
  | { readonly kind: 'fail'; readonly reason: SpiffeFailure; readonly detail: string };

export interface MtlsInput {
  /** CheckRequest attributes.source.principal. */
  readonly principal?: string | undefined;
  /** CheckRequest attributes.source.certificate (URL-encoded PEM). */
  readonly certificate?: string | undefined;
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface SpiffeResolverOptions {
  /** Trust domain → CA certificates that must have issued a forwarded peer certificate (optional). */
  readonly trustDomains: ReadonlyMap<string, readonly X509Certificate[] | undefined>;
  readonly requireCertificate: boolean;
  readonly trustXfcc: boolean;
  readonly now?: () => number;
}

export const XFCC_HEADER = 'x-forwarded-client-cert';
const MAX_XFCC_BYTES = 16 * 1024;
const MAX_CERT_BYTES = 32 * 1024;

export class SpiffeResolver {
  readonly #opts: SpiffeResolverOptions;
  readonly #now: () => number;

  constructor(opts: SpiffeResolverOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  resolve(input: MtlsInput): MtlsOutcome {
    const principal = input.principal ?? '';
    const certificate = input.certificate ?? '';
    if (principal === '' && certificate === '') {
      if (this.#opts.trustXfcc) {
        const xfcc = input.headers[XFCC_HEADER];
        if (xfcc !== undefined) return this.#fromXfcc(xfcc);
      }
      return { kind: 'absent' };
    }
    let fromPrincipal: SpiffeId | undefined;
    if (principal !== '') {
      const parsed = parseSpiffeId(principal);
      if (!parsed.ok) return fail('principal_invalid', `source.principal is not a SPIFFE ID (${parsed.reason})`);
      fromPrincipal = parsed.id;
    }
    let fromCert: SpiffeId | undefined;
    if (certificate !== '') {
      const r = this.#fromCertificate(certificate);
      if (r.kind !== 'ok') return r;
      fromCert = r.id;
    } else if (this.#opts.requireCertificate) {
      return fail('certificate_required', 'source.certificate is missing (enable include_peer_certificate in Envoy)');
    }
    if (fromPrincipal !== undefined && fromCert !== undefined && fromPrincipal.uri !== fromCert.uri)
      return fail('certificate_mismatch', 'source.principal and the peer certificate name different SPIFFE IDs');
    const id = fromPrincipal ?? fromCert;
    if (id === undefined) return { kind: 'absent' };
    if (!this.#opts.trustDomains.has(id.trustDomain)) return fail('trust_domain_untrusted', `trust domain "${id.trustDomain}" is not configured`);
    return { kind: 'ok', id, source: fromPrincipal !== undefined ? 'principal' : 'certificate' };
  }

  #fromCertificate(encoded: string): MtlsOutcome {
    if (encoded.length > MAX_CERT_BYTES * 3) return fail('certificate_invalid', 'source.certificate is too large');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(decodeURIComponent(encoded));
    } catch {
      return fail('certificate_invalid', 'source.certificate is not a URL-encoded PEM certificate');
    }
    if (cert.ca) return fail('certificate_invalid', 'the peer certificate is a CA certificate');
    const now = this.#now();
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return fail('certificate_invalid', 'the peer certificate is outside its validity period');
    const uris = uriSans(cert.subjectAltName);
    if (uris.length !== 1) return fail('certificate_invalid', `the peer certificate has ${uris.length} URI SANs; an X509-SVID has exactly one`);
    const parsed = parseSpiffeId(uris[0] ?? '');
    if (!parsed.ok) return fail('certificate_invalid', `the peer certificate's URI SAN is not a SPIFFE ID (${parsed.reason})`);
    const td = parsed.id.trustDomain;
    if (!this.#opts.trustDomains.has(td)) return fail('trust_domain_untrusted', `trust domain "${td}" is not configured`);
    const bundle = this.#opts.trustDomains.get(td);
    if (bundle !== undefined && !bundle.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)))
      return fail('certificate_untrusted', `the peer certificate was not issued by a CA of trust domain "${td}"`);
    return { kind: 'ok', id: parsed.id, source: 'certificate' };
  }

  #fromXfcc(header: string): MtlsOutcome {
    if (header.length > MAX_XFCC_BYTES) return fail('xfcc_invalid', 'x-forwarded-client-cert is too large');
    const elements = parseXfcc(header);
    if (elements === undefined) return fail('xfcc_invalid', 'x-forwarded-client-cert is malformed');
    if (elements.length !== 1) return fail('xfcc_invalid', `x-forwarded-client-cert has ${elements.length} elements; a sanitising proxy sets exactly one`);
    const spiffe = (elements[0] ?? []).filter(([k, v]) => k.toLowerCase() === 'uri' && v.startsWith(PREFIX)).map(([, v]) => v);
    if (spiffe.length !== 1) return fail('xfcc_invalid', `x-forwarded-client-cert has ${spiffe.length} spiffe URIs; exactly one is required`);
    const parsed = parseSpiffeId(spiffe[0] ?? '');
    if (!parsed.ok) return fail('xfcc_invalid', `x-forwarded-client-cert URI is not a SPIFFE ID (${parsed.reason})`);
    if (!this.#opts.trustDomains.has(parsed.id.trustDomain)) return fail('trust_domain_untrusted', `trust domain "${parsed.id.trustDomain}" is not configured`);
    return { kind: 'ok', id: parsed.id, source: 'xfcc' };
  }
}

const fail = (reason: SpiffeFailure, detail: string): MtlsOutcome => ({ kind: 'fail', reason, detail });

/** URI entries of Node's subjectAltName string ("DNS:a, URI:spiffe://td/x"; values with special characters are JSON-quoted). */
function uriSans(san: string | undefined): string[] {
  if (san === undefined) return [];
  const out: string[] = [];
  for (const part of san.split(', ')) {
    if (!part.startsWith('URI:')) continue;
    let v = part.slice(4);
    if (v.startsWith('"')) {
      try { v = JSON.parse(v) as string; } catch { v = ''; }
    }
    out.push(v);
  }
  return out;
}

/**
 * Parses x-forwarded-client-cert into elements of [key, value] pairs. Elements are separated by
 * ",", pairs by ";", key and value by "="; a value may be double-quoted, with `\"` and `\\`
 * escapes, and then may contain , ; =. Returns undefined if malformed.
 */
export function parseXfcc(header: string): Array<Array<[string, string]>> | undefined {
  const elements: Array<Array<[string, string]>> = [];
  let pairs: Array<[string, string]> = [];
  let i = 0;
  const n = header.length;
  for (;;) {
    while (i < n && header[i] === ' ') i++;
    const eq = header.indexOf('=', i);
    if (eq === -1) return undefined;
    const key = header.slice(i, eq).trim();
    if (!/^[A-Za-z]+$/.test(key)) return undefined;
    i = eq + 1;
    let value = '';
    if (header[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return undefined;
        const c = header[i];
        if (c === '\\' && i + 1 < n) { value += header[i + 1] ?? ''; i += 2; continue; }
        if (c === '"') { i++; break; }
        value += header.charAt(i);
        i++;
      }
    } else {
      let j = i;
      while (j < n && header[j] !== ';' && header[j] !== ',') j++;
      value = header.slice(i, j).trim();
      i = j;
    }
    pairs.push([key, value]);
    while (i < n && header[i] === ' ') i++;
    if (i >= n) { elements.push(pairs); return elements; }
    if (header[i] === ';') { i++; continue; }
    if (header[i] === ',') { elements.push(pairs); pairs = []; i++; continue; }
    return undefined;
  }
}
