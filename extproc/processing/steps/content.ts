import type { Finding, TextSegment } from '../../core/content.ts';
import { RULES } from '../../core/decision.ts';
import { decideDlp } from '../../detectors/dlp-actions.ts';
import { ScanLimitError } from '../../detectors/scan-limits.ts';
import type { Scanner } from '../../detectors/scanner.ts';
import { TollgateError, type Denial } from '../../errors.ts';
import { asTollgateError } from '../../policy/request.ts';
import type { RequestTranslator, UsageMeter } from '../../providers/index.ts';
import { decodeUtf8Strict, DEFAULT_MAX_DEPTH, parseStrictJson, StrictJsonError, type JsonValue } from '../../providers/index.ts';
import { maskBody, maskText } from '../../redactors/mask.ts';
import { protectedFieldsFor } from '../../redactors/protected-fields.ts';
import { processLeaves } from '../../redactors/response-leaves.ts';
import { RestoreMap } from '../../redactors/restore-map.ts';
import { restoreText } from '../../redactors/restore.ts';
import { SseStream } from '../../redactors/sse-stream.ts';
import { leakMark } from '../../redactors/stream-scanner.ts';
import type { ProcRequest } from '../request.ts';

const addCounts = (into: Record<string, number>, counts: Readonly<Record<string, number>>): void => {
  for (const [type, n] of Object.entries(counts)) into[type] = (into[type] ?? 0) + n;
};

/**
 * Scans each distinct text once (a request repeats "user", "function", schema words and often whole tool
 * results; a segment's findings depend on its text alone) and gives every segment its text's findings.
 */
function scanDistinct(scanner: Scanner, segments: readonly TextSegment[]): Finding[] {
  const index = new Map<string, number>();
  const unique: TextSegment[] = [];
  const ref = new Array<number>(segments.length);
  segments.forEach((s, i) => {
    let k = index.get(s.text);
    if (k === undefined) {
      k = unique.length;
      index.set(s.text, k);
      unique.push(s);
    }
    ref[i] = k;
  });
  if (unique.length === segments.length) return scanner.scanSegments(segments);
  const found = scanner.scanSegments(unique);
  if (found.length === 0) return found;
  const byText = new Map<number, Finding[]>();
  for (const f of found) {
    const list = byText.get(f.segment ?? -1) ?? [];
    list.push(f);
    byText.set(f.segment ?? -1, list);
  }
  const out: Finding[] = [];
  ref.forEach((k, i) => { for (const f of byText.get(k) ?? []) out.push({ ...f, segment: i }); });
  return out;
}

/**
 * Content controls on the request body: refuse provider-side fetches and server tools the policy does not
 * allow, scan every text segment of the body (scan by default), decide per finding (allow, mask, block, route)
 * and, for masking, splice typed placeholders into the JSON strings. A finding to be masked in a protected
 * field (an id, a signature, signed reasoning, an object key) blocks instead. Returns a denial, the new body
 * (the translator holds it too, so credentials sign it), or undefined (unchanged). A scan over its caps fails
 * closed.
 */
export function inspectRequest(req: ProcRequest, t: RequestTranslator, body: Buffer): Denial | Buffer | undefined {
  const dlp = req.policy.dlp;
  const authz = req.caller?.authz;
  const provider = req.route?.provider;
  if (dlp === undefined || authz === undefined || provider === undefined || req.route === undefined) return undefined;
  const content = t.content();
  if (content.fetches > 0 && !dlp.allowProviderFetch) return { code: 'provider_fetch_denied', rule: RULES.providerFetch };
  const tools = content.tools.filter((tool) => !dlp.allowServerTools.has(tool));
  if (tools.length > 0) return { code: 'server_tool_denied', rule: RULES.serverTools, types: tools.sort() };
  const segments = content.segments;
  if (segments.length === 0) return undefined;
  let findings;
  try {
    findings = scanDistinct(dlp.scanner, segments);
  } catch (err) {
    if (err instanceof ScanLimitError) return { code: 'scan_limit_exceeded', rule: RULES.dlp };
    throw err;
  }
  if (findings.length === 0) return undefined;
  const decision = decideDlp(dlp.rules, findings, { tenant: authz.identity.tenant, identity: authz.identity.id, provider: provider.name });
  // A protected field cannot be masked: the provider would refuse it or act on a changed id. Block instead.
  const stuck = decision.mask.filter((f) => f.segment !== undefined && segments[f.segment]?.protected === true);
  const action = stuck.length > 0 ? 'block' : decision.action;
  addCounts(req.content.request, decision.counts);
  req.content.action = action;
  for (const [type, n] of Object.entries(decision.counts)) req.services.metrics.findings.inc({ type, direction: 'request', action }, n);
  if (action === 'block') return { code: 'content_blocked', rule: RULES.dlp, types: [...new Set([...decision.blockedTypes, ...stuck.map((f) => f.type)])].sort() };
  if (decision.action === 'route' && decision.route !== undefined) req.route.routeClass = decision.route;
  if (decision.mask.length === 0) return undefined;
  const masked = maskBody(body, segments, decision.mask, new RestoreMap());
  if (decision.restore) req.content.restore = masked.restore;
  try {
    return t.setBodyBytes(masked.body);
  } catch (err) {
    throw asTollgateError(err);
  }
}

/** Response restore applies only to a successful answer: an error body is the provider's text, not the model's. */
function responseRestore(req: ProcRequest): RestoreMap | undefined {
  const status = req.response.status;
  const restore = req.content.restore;
  return status !== undefined && status >= 200 && status < 300 && restore !== undefined && restore.size > 0 ? restore : undefined;
}

function countLeaks(req: ProcRequest, findings: readonly { readonly type: string }[], action: 'mask' | 'block' | 'fail_stream'): void {
  const counts = req.content.response;
  for (const f of findings) {
    counts[f.type] = (counts[f.type] ?? 0) + 1;
    req.services.metrics.findings.inc({ type: f.type, direction: 'response', action });
  }
}

const unscannable = (why: string): TollgateError => new TollgateError('response_leak', `the response could not be scanned: ${why}`);

/**
 * What an earlier step of this response already read of the buffered body (the MCP list filter), so it is not
 * read twice: the JSON document the body serializes (scanned, and masked in place), or that the body is an SSE
 * stream (it goes through the streamed answers' transform: each event's fields, as the client will parse them).
 */
export type ReadBody = { readonly json: JsonValue } | { readonly sse: true };

/** Text whose first character after JSON whitespace can begin a JSON value (an SSE field name cannot). */
const MAY_BE_JSON = /^[ \t\n\r]*[-[{"0-9tfn]/;

/**
 * A buffered response of any status, JSON or not. JSON: every string leaf is scanned; leaks are masked (never
 * restorable) and then, in a 2xx answer, the request's placeholders are restored, both outside protected fields;
 * a leak in a protected field refuses the response. UTF-8 text that is not JSON (file content, error pages) is
 * scanned and restored as one text. A body that is neither (binary, invalid UTF-8, duplicate JSON keys) cannot be
 * scanned and is refused while response scanning is on. Returns the new body, or undefined when nothing changed.
 * `read`: what an earlier step already read of `body` (see ReadBody).
 */
export function inspectBufferedResponse(req: ProcRequest, body: Buffer, meter?: UsageMeter, read?: ReadBody): Buffer | undefined {
  const dlp = req.policy.dlp;
  const scanner = dlp?.response.scan === true ? dlp.scanner : undefined;
  const restore = responseRestore(req);
  if ((scanner === undefined && restore === undefined) || body.length === 0) {
    meter?.onBody(body);
    return undefined;
  }
  let doc: JsonValue | undefined;
  let text: string | undefined;
  let sse = false;
  try {
    if (read === undefined) doc = parseStrictJson(body, DEFAULT_MAX_DEPTH, 'allow');
    else if ('json' in read) doc = read.json;
    else {
      // An SSE stream goes through the streamed answers' transform (each event's fields scanned as the client's
      // JSON parse will read them, escapes included); a body that only came labelled as SSE is read as JSON.
      text = decodeUtf8Strict(body);
      if (MAY_BE_JSON.test(text)) doc = parseStrictJson(text, DEFAULT_MAX_DEPTH, 'allow');
      else sse = true;
    }
  } catch (err) {
    // Not strict JSON: usage is read as the provider meant it (a lenient parse), whatever happens to the body.
    meter?.onBody(body);
    if (!(err instanceof StrictJsonError) || err.reason === 'utf8') {
      if (scanner === undefined) return undefined;
      throw unscannable('it is not UTF-8 text');
    }
    if (err.reason !== 'syntax') {
      if (scanner === undefined) return undefined;
      throw unscannable(`JSON ${err.reason}`);
    }
  }
  if (sse) {
    meter?.onBody(body);
    return inspectBufferedSse(req, body);
  }
  // Usage from the same parse, before masking or restoring edits strings (usage is numbers).
  if (doc !== undefined) meter?.onDocument(doc);
  try {
    if (doc === undefined) return inspectBufferedText(req, text ?? body.toString('utf8'), scanner, restore);
    const r = processLeaves(doc, { scanner, restore, isProtected: protectedFieldsFor(req.route?.provider.config.kind), tokenLists: true });
    if (r.blocked !== undefined) {
      countLeaks(req, [r.blocked], 'block');
      throw new TollgateError('response_leak', 'a protected response field carries a finding');
    }
    countLeaks(req, r.masked, 'mask');
    return r.changed ? Buffer.from(JSON.stringify(doc), 'utf8') : undefined;
  } catch (err) {
    if (err instanceof ScanLimitError) throw unscannable('over the scan limits');
    throw err;
  }
}

/** A whole SSE answer as one last chunk of a stream: the new body, or undefined when no event changed. */
function inspectBufferedSse(req: ProcRequest, body: Buffer): Buffer | undefined {
  const sse = sseTransformFor(req, 'sse');
  if (sse === undefined) return undefined;
  const out = transformSseChunk(req, sse, body, true);
  return out.equals(body) ? undefined : out;
}

function inspectBufferedText(req: ProcRequest, text: string, scanner: Scanner | undefined, restore: RestoreMap | undefined): Buffer | undefined {
  let out = text;
  if (scanner !== undefined) {
    const found = scanner.scan(text);
    countLeaks(req, found, 'mask');
    if (found.length > 0) out = maskText(text, found, new RestoreMap(), leakMark);
  }
  if (restore !== undefined) out = restoreText(out, restore).text;
  return out === text ? undefined : Buffer.from(out, 'utf8');
}

/**
 * The per-response stream transform (SSE or AWS event-stream: leak masking with hold-back, placeholder restore,
 * every string leaf of every event scanned), or undefined if neither scanning nor restore applies.
 */
export function sseTransformFor(req: ProcRequest, framing: 'sse' | 'aws-event-stream'): SseStream | undefined {
  const dlp = req.policy.dlp;
  const scan = dlp?.response.scan === true;
  const restore = responseRestore(req);
  if (dlp === undefined || (!scan && restore === undefined)) return undefined;
  return new SseStream({
    ...(scan ? { scanner: dlp.scanner } : {}),
    ...(restore === undefined ? {} : { restore }),
    holdBack: dlp.response.holdBack,
    maxHoldBack: dlp.response.maxHoldBack,
    isProtected: protectedFieldsFor(req.route?.provider.config.kind),
    framing,
  });
}

/** One stream chunk through the transform; a leak that could not be masked in time (or a protected field's) fails the stream closed. */
export function transformSseChunk(req: ProcRequest, sse: SseStream, chunk: Buffer, end: boolean): Buffer {
  const r = sse.push(chunk, end);
  countLeaks(req, r.findings, r.failed ? 'fail_stream' : 'mask');
  if (r.failed) throw new TollgateError('response_leak', 'a secret in the stream could not be masked before release');
  return r.output;
}
