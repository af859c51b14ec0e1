// The per-request translator, built from a kind's spec: endpoint match, model resolution from path, query
// and body, segments, body replacement, credential application and usage.
import type { TextSegment } from '../../core/content.ts';
import type { Credential } from '../../core/credential.ts';
import { ANTHROPIC_MESSAGES } from '../formats/anthropic.ts';
import { BEDROCK_CONVERSE, BEDROCK_INVOKE, GENERIC_JSON } from '../formats/bedrock.ts';
import type { BodyFormatHandler } from '../formats/format.ts';
import { GEMINI } from '../formats/gemini.ts';
import { OPENAI_CHAT, OPENAI_COMPLETIONS, OPENAI_EMBEDDINGS, OPENAI_MODERATIONS, OPENAI_RESPONSES } from '../formats/openai.ts';
import { MCP_JSONRPC } from '../mcp/format.ts';
import { BodyMalformed, ProviderError } from '../errors.ts';
import type { HeaderEdits } from './credential-headers.ts';
import type { BodyFormat, EndpointMatch, EndpointRule, Operation } from './endpoints.ts';
import { checkModelName } from './model-name.ts';
import { walkRequest, type RequestContent } from './request-walk.ts';
import { parseStrictJsonObject, type JsonObject } from './strict-json.ts';
import { NO_OUTPUT, type OutputRequest } from './output-request.ts';
import { newUsageMeter, type UsageMeter } from './usage-meter.ts';

/** The request as Envoy's request-headers message shows it. `path` is after the "/<provider>" prefix. */
export interface RequestHead {
  readonly method: string;
  readonly path: string;
  /** The raw query string, without "?" ("" if none). */
  readonly query: string;
  readonly headers: ReadonlyMap<string, string>;
}

/** What a credential is applied to: the request exactly as it goes upstream. */
export interface FinalRequest {
  readonly method: string;
  readonly upstream: URL;
  /** Upstream base path + request path, still percent-encoded. */
  readonly upstreamPath: string;
  readonly query: string;
  readonly body: Buffer | undefined;
}

export type ApplyCredential = (credential: Credential, final: FinalRequest) => Promise<HeaderEdits> | HeaderEdits;

const FORMATS: Readonly<Record<Exclude<BodyFormat, 'opaque'>, BodyFormatHandler>> = {
  'openai-chat': OPENAI_CHAT,
  'openai-completions': OPENAI_COMPLETIONS,
  'openai-embeddings': OPENAI_EMBEDDINGS,
  'openai-responses': OPENAI_RESPONSES,
  'openai-moderations': OPENAI_MODERATIONS,
  'anthropic-messages': ANTHROPIC_MESSAGES,
  gemini: GEMINI,
  'bedrock-converse': BEDROCK_CONVERSE,
  'bedrock-invoke': BEDROCK_INVOKE,
  'generic-json': GENERIC_JSON,
  'mcp-jsonrpc': MCP_JSONRPC,
};

export function formatHandler(format: BodyFormat): BodyFormatHandler | undefined {
  return format === 'opaque' ? undefined : FORMATS[format];
}

const NO_CONTENT: RequestContent = Object.freeze({ segments: [], fetches: 0, tools: [] });

const EVENT_STREAM_OPERATIONS: ReadonlySet<Operation> = new Set(['converse_stream', 'invoke_stream']);
/** Operations that generate no output tokens: their reservation is the prompt alone. */
const NO_OUTPUT_OPERATIONS: ReadonlySet<Operation> = new Set(['embeddings', 'moderations', 'count_tokens', 'models.list', 'models.get', 'files', 'mcp', 'mcp.listen', 'mcp.end']);

export class RequestTranslator {
  readonly operation: Operation;
  readonly endpoint: EndpointRule;
  readonly upstreamPath: string;
  readonly #method: string;
  readonly #query: string;
  readonly #upstream: URL;
  readonly #apply: ApplyCredential;
  readonly #format: BodyFormatHandler | undefined;
  #model: string | undefined;
  #doc: JsonObject | undefined;
  #body: Buffer | undefined;
  #bodySeen = false;
  #content: RequestContent | undefined;

  constructor(head: RequestHead, match: EndpointMatch, queryModels: readonly string[], upstream: URL, apply: ApplyCredential) {
    this.endpoint = match.endpoint.rule;
    this.operation = this.endpoint.operation;
    this.#method = head.method;
    this.#query = head.query;
    this.#upstream = upstream;
    this.#apply = apply;
    this.#format = formatHandler(this.endpoint.format);
    this.upstreamPath = `${upstream.pathname.replace(/\/+$/, '')}${head.path}`;
    let model = match.pathModel;
    for (const q of queryModels) model = agree(model, checkModelName(q, 'query'));
    this.#model = model;
  }

  /** The model found so far: from the path and query at once, and from the body after parseBody. */
  get model(): string | undefined {
    return this.#model;
  }

  /** Whether the response will stream (SSE, or AWS event-stream for Bedrock's *_stream operations). */
  get stream(): boolean {
    if (this.endpoint.stream === 'always') return true;
    if (this.endpoint.stream === 'never') return false;
    return this.#doc?.stream === true;
  }

  /** How a streamed response is framed. */
  get streamFraming(): 'sse' | 'aws-event-stream' {
    return EVENT_STREAM_OPERATIONS.has(this.operation) ? 'aws-event-stream' : 'sse';
  }

  /**
   * Reads the request body (undefined or empty: no body). Strict JSON for every format but "opaque";
   * resolves the model across path, query and body, and enforces the endpoint's body and model rules.
   * Returns the parsed document (undefined without a body or for opaque formats).
   */
  parseBody(body: Buffer | undefined): JsonObject | undefined {
    if (this.#bodySeen) throw new Error('parseBody called twice');
    this.#bodySeen = true;
    const empty = body === undefined || body.length === 0;
    if (empty && this.endpoint.body === 'required') throw new ProviderError('body_missing', `the ${this.operation} endpoint needs a body`);
    if (!empty && this.endpoint.body === 'none') throw new ProviderError('body_malformed', `the ${this.operation} endpoint takes no body`);
    if (!empty && this.#format !== undefined) {
      let doc: JsonObject;
      try {
        doc = parseStrictJsonObject(body);
      } catch (err) {
        throw BodyMalformed.from(err);
      }
      this.#doc = doc;
    this.#content = undefined;
      this.#body = body;
      if (this.#format.bodyModel && doc.model !== undefined) {
        if (typeof doc.model !== 'string') throw new ProviderError('model_invalid', 'the body "model" is not a string');
        this.#model = agree(this.#model, checkModelName(doc.model, 'body'));
      }
    } else if (!empty) this.#body = body;
    if (this.#model === undefined && this.endpoint.model === 'required') throw new ProviderError('model_missing', `the ${this.operation} endpoint needs a model`);
    return this.#doc;
  }

  /**
   * The output the request asks for at most (after parseBody): none for operations that generate no
   * output; no cap known for an opaque body or a JSON body that sets none.
   */
  outputRequest(): OutputRequest {
    if (NO_OUTPUT_OPERATIONS.has(this.operation)) return NO_OUTPUT;
    if (this.#doc === undefined || this.#format === undefined) return { maxTokens: undefined, choices: 1 };
    return this.#format.outputRequest(this.#doc);
  }

  /**
   * What the request body holds (none without a JSON body): every string leaf and key as a text segment with its
   * exact JSON path (protected where it must not change), the provider-side fetches and server tools it asks for.
   * Computed once per body.
   */
  content(): RequestContent {
    if (this.#content !== undefined) return this.#content;
    const c = this.#doc === undefined || this.#format === undefined ? NO_CONTENT : walkRequest(this.#doc, this.#format.requestRules(this.#doc), this.#format.bodyModel);
    this.#content = c;
    return c;
  }

  /** Text segments of the request body, with exact JSON paths (empty without a JSON body). */
  segments(): TextSegment[] {
    return this.content().segments;
  }

  /**
   * Replaces the body with bytes a redactor produced by splicing strings into the original (every other
   * byte unchanged). They are parsed with the same strict rules; the model may not change.
   */
  setBodyBytes(bytes: Buffer): Buffer {
    if (this.#format === undefined) throw new Error('an opaque body cannot be replaced');
    let doc: JsonObject;
    try {
      doc = parseStrictJsonObject(bytes);
    } catch (err) {
      throw BodyMalformed.from(err);
    }
    const before = this.#format.bodyModel ? this.#doc?.model : undefined;
    const after = this.#format.bodyModel ? doc.model : undefined;
    if (before !== after) throw new ProviderError('model_conflict', 'the replaced body changes the model');
    this.#doc = doc;
    this.#content = undefined;
    this.#body = bytes;
    return bytes;
  }

  /** The body bytes to send (the original, or the last setBodyBytes result). */
  get body(): Buffer | undefined {
    return this.#body;
  }

  /** Header edits that put the credential on the final request (set list, plus names to remove). Call last. */
  async applyCredential(credential: Credential, final: { readonly body: Buffer | undefined }): Promise<HeaderEdits> {
    return this.#apply(credential, { method: this.#method, upstream: this.#upstream, upstreamPath: this.upstreamPath, query: this.#query, body: final.body });
  }

  /** A stateful reader of the response's usage, for a buffered body or stream chunks as they pass. */
  usageMeter(): UsageMeter {
    return newUsageMeter(this.#format, this.streamFraming);
  }
}

function agree(current: string | undefined, next: string): string {
  if (current !== undefined && current !== next) throw new ProviderError('model_conflict', 'the request names two different models');
  return next;
}
