// Endpoint rules: method + path pattern → operation, body and model expectations, body format.
// A request path is matched segment by segment against the raw (still percent-encoded) path, so an
// encoded literal ("/v1/%63hat/completions") matches nothing and is denied.
import { ProviderError } from '../errors.ts';
import { checkModelName } from './model-name.ts';

export const OPERATIONS = [
  'chat', 'completions', 'embeddings', 'responses', 'messages', 'moderations', 'models.list', 'models.get', 'files',
  'converse', 'converse_stream', 'invoke', 'invoke_stream', 'generate_content', 'stream_generate_content', 'count_tokens', 'custom',
  'responses.get', 'batches', 'fine_tuning', 'assistants',
  // MCP servers (kind mcp): a JSON-RPC POST, the long-lived GET stream, and DELETE ending a session.
  'mcp', 'mcp.listen', 'mcp.end',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** How a body is read for segments and usage. "opaque": not JSON, not inspected (operators only). */
export const BODY_FORMATS = [
  'openai-chat', 'openai-completions', 'openai-embeddings', 'openai-responses', 'openai-moderations', 'anthropic-messages',
  'gemini', 'bedrock-converse', 'bedrock-invoke', 'generic-json', 'mcp-jsonrpc', 'opaque',
] as const;
export type BodyFormat = (typeof BODY_FORMATS)[number];

export const HTTP_METHODS = ['GET', 'POST', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface EndpointRule {
  readonly method: HttpMethod;
  /**
   * Segments separated by "/": a literal; "*" (any one segment); "{model}" optionally followed by a literal
   * suffix such as "{model}:generateContent"; "{project}" / "{location}" (any one segment, captured).
   */
  readonly path: string;
  readonly operation: Operation;
  /** "required": a non-empty body must come; "none": a body is refused. */
  readonly body: 'required' | 'optional' | 'none';
  /** "required": a model must be found (path, query or body) or the request is refused. */
  readonly model: 'required' | 'optional';
  readonly format: BodyFormat;
  /** Whether the response streams: always, never, or when the JSON body has "stream": true. */
  readonly stream: 'always' | 'never' | 'body-flag';
}

type SegmentMatcher =
  | { readonly t: 'lit'; readonly v: string }
  | { readonly t: 'any' }
  | { readonly t: 'cap'; readonly name: 'model' | 'project' | 'location'; readonly suffix: string };

export interface CompiledEndpoint {
  readonly rule: EndpointRule;
  readonly segments: readonly SegmentMatcher[];
}

const CAPTURE = /^\{(model|project|location)\}(.*)$/;
const LITERAL = /^[A-Za-z0-9._~:@!$&'()+,;=-]+$/;

export class EndpointRuleError extends Error {
  constructor(index: number, what: string) {
    super(`endpoint rule ${index}: ${what}`);
    this.name = 'EndpointRuleError';
  }
}

/** Validates and compiles rules (built-in or operator-supplied). Throws EndpointRuleError naming the rule. */
export function compileEndpoints(rules: readonly EndpointRule[]): CompiledEndpoint[] {
  return rules.map((rule, index) => {
    if (!(HTTP_METHODS as readonly string[]).includes(rule.method)) throw new EndpointRuleError(index, 'method must be GET, POST or DELETE');
    if (!(OPERATIONS as readonly string[]).includes(rule.operation)) throw new EndpointRuleError(index, 'unknown operation');
    if (!(BODY_FORMATS as readonly string[]).includes(rule.format)) throw new EndpointRuleError(index, 'unknown body format');
    if (rule.method !== 'POST' && rule.body !== 'none') throw new EndpointRuleError(index, `${rule.method} endpoints take no body`);
    if (rule.format === 'opaque' && rule.model === 'required' && !rule.path.includes('{model}')) throw new EndpointRuleError(index, 'an opaque body cannot carry the required model');
    if (!rule.path.startsWith('/') || rule.path.length > 512) throw new EndpointRuleError(index, 'path must start with "/" (at most 512 characters)');
    let models = 0;
    const segments = rule.path.slice(1).split('/').map((seg): SegmentMatcher => {
      if (seg === '*') return { t: 'any' };
      const cap = CAPTURE.exec(seg);
      if (cap !== null) {
        const suffix = cap[2] ?? '';
        if (suffix !== '' && !LITERAL.test(suffix)) throw new EndpointRuleError(index, 'bad suffix after a capture');
        if (cap[1] === 'model') models++;
        return { t: 'cap', name: cap[1] as 'model' | 'project' | 'location', suffix };
      }
      if (!LITERAL.test(seg) || seg === '.' || seg === '..') throw new EndpointRuleError(index, 'path segments are literals, "*" or "{model}"');
      return { t: 'lit', v: seg };
    });
    if (models > 1) throw new EndpointRuleError(index, 'at most one {model} per path');
    return { rule, segments };
  });
}

export interface EndpointMatch {
  readonly endpoint: CompiledEndpoint;
  /** The decoded, validated model from the path, if the pattern captures one. */
  readonly pathModel: string | undefined;
  readonly project: string | undefined;
  readonly location: string | undefined;
}

export interface PathPolicy {
  /** Bedrock: a path model may hold an encoded "/" when it is an ARN (the SDKs encode ARNs that way). */
  readonly arnModelsMayHoldSlash: boolean;
}

// RFC 3986 pchar, raw. Anything else (spaces, backslashes, non-ASCII, "#", controls) is malformed.
const RAW_SEGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*$/;

/** Splits and checks a request path. Throws path_malformed for anything a second parser might read differently. */
export function splitPath(path: string): string[] {
  if (!path.startsWith('/') || path.length > 4096) throw new ProviderError('path_malformed', 'the path must start with "/" and be at most 4096 characters');
  const segs = path.slice(1).split('/');
  for (const seg of segs) {
    if (!RAW_SEGMENT.test(seg)) throw new ProviderError('path_malformed', 'the path holds a character outside RFC 3986');
    if (seg === '' && segs.length > 1) throw new ProviderError('path_malformed', 'the path holds an empty segment');
    const decoded = seg.includes('%') ? decodeSegment(seg) : seg;
    if (decoded === '.' || decoded === '..') throw new ProviderError('path_malformed', 'the path holds a dot segment');
  }
  return segs;
}

function decodeSegment(seg: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(seg);
  } catch {
    throw new ProviderError('path_malformed', 'the path holds invalid percent-encoding');
  }
  // A literal "%" after one decoding means double encoding; controls are never legitimate.
  // eslint-disable-next-line no-control-regex
  if (decoded.includes('%') || /[\u0000-\u001f\u007f]/.test(decoded)) throw new ProviderError('path_malformed', 'the path holds double or control percent-encoding');
  return decoded;
}

/** The first rule whose method and path match, or undefined. */
export function matchEndpoint(endpoints: readonly CompiledEndpoint[], method: string, segs: readonly string[], policy: PathPolicy): EndpointMatch | undefined {
  outer: for (const endpoint of endpoints) {
    if (endpoint.rule.method !== method || endpoint.segments.length !== segs.length) continue;
    const caps: Partial<Record<'model' | 'project' | 'location', string>> = {};
    for (let k = 0; k < segs.length; k++) {
      const m = endpoint.segments[k];
      const raw = segs[k];
      if (m === undefined || raw === undefined) continue outer;
      if (m.t === 'lit') {
        if (raw !== m.v) continue outer;
      } else if (m.t === 'any') {
        if (raw === '') continue outer;
      } else {
        if (!raw.endsWith(m.suffix) || raw.length === m.suffix.length) continue outer;
        caps[m.name] = raw.slice(0, raw.length - m.suffix.length);
      }
    }
    const rawModel = caps.model;
    return {
      endpoint,
      pathModel: rawModel === undefined ? undefined : pathModel(rawModel, policy),
      project: caps.project === undefined ? undefined : decodeSegmentText(caps.project),
      location: caps.location === undefined ? undefined : decodeSegmentText(caps.location),
    };
  }
  return undefined;
}

function decodeSegmentText(raw: string): string {
  const decoded = raw.includes('%') ? decodeSegment(raw) : raw;
  if (decoded.includes('/') || decoded.includes('\\')) throw new ProviderError('path_malformed', 'a path parameter holds an encoded slash');
  return decoded;
}

function pathModel(raw: string, policy: PathPolicy): string {
  const decoded = raw.includes('%') ? decodeSegment(raw) : raw;
  if (decoded.includes('\\')) throw new ProviderError('path_malformed', 'the model segment holds an encoded backslash');
  if (decoded.includes('/') && !(policy.arnModelsMayHoldSlash && decoded.startsWith('arn:'))) {
    throw new ProviderError('path_malformed', 'the model segment holds an encoded slash');
  }
  return checkModelName(decoded, 'path');
}

/** Query parameters, decoded once (form rules: "+" is a space). Throws path_malformed on bad encoding. */
export function parseQuery(query: string): [string, string][] {
  if (query === '') return [];
  if (query.length > 4096) throw new ProviderError('path_malformed', 'the query is longer than 4096 characters');
  return query.split('&').filter((p) => p !== '').map((pair): [string, string] => {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    try {
      return [decodeURIComponent(k.replaceAll('+', ' ')), decodeURIComponent(v.replaceAll('+', ' '))];
    } catch {
      throw new ProviderError('path_malformed', 'the query holds invalid percent-encoding');
    }
  });
}
