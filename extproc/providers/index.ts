// The provider seam: kinds, their creation at load, and the per-request translator types.
import { ANTHROPIC } from './anthropic/index.ts';
import { AZURE_OPENAI } from './azure-openai/index.ts';
import { BEDROCK } from './bedrock/index.ts';
import { MCP_KIND } from './mcp/index.ts';
import { OPENAI } from './openai/index.ts';
import { OPENAI_COMPATIBLE } from './openai-compatible/index.ts';
import { ProviderKindModule, type KindOptions, type KindSpec } from './shared/kind.ts';
import { VERTEX_KIND } from './vertex/index.ts';

export const PROVIDER_KINDS = ['openai', 'openai-compatible', 'anthropic', 'azure-openai', 'bedrock', 'vertex', 'mcp'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Kinds whose requests share one wire format: a route class may move a request only within its group. */
export const ROUTE_KIND_GROUPS: readonly (readonly ProviderKind[])[] = [['openai', 'openai-compatible'], ['anthropic'], ['azure-openai'], ['bedrock'], ['vertex'], ['mcp']];
export const routeKindGroup = (kind: ProviderKind): number => ROUTE_KIND_GROUPS.findIndex((g) => g.includes(kind));

const SPECS: Readonly<Record<ProviderKind, KindSpec>> = Object.freeze({
  openai: OPENAI,
  'openai-compatible': OPENAI_COMPATIBLE,
  anthropic: ANTHROPIC,
  'azure-openai': AZURE_OPENAI,
  bedrock: BEDROCK,
  vertex: VERTEX_KIND,
  mcp: MCP_KIND,
});

/** Creates a kind once at load. Throws EndpointRuleError for a bad extra endpoint, Error for bad options. */
export function createProviderKind(kind: ProviderKind, options: KindOptions): ProviderKindModule {
  return new ProviderKindModule(SPECS[kind], options);
}

export { ProviderKindModule, type KindOptions } from './shared/kind.ts';
export { RequestTranslator, type RequestHead, type FinalRequest } from './shared/translator.ts';
export type { UsageMeter } from './shared/usage-meter.ts';
export { CREDENTIAL_HEADER_NAMES, headerValue, type HeaderEdits, type HeaderToSet } from './shared/credential-headers.ts';
export { BODY_FORMATS, EndpointRuleError, HTTP_METHODS, OPERATIONS, type BodyFormat, type EndpointRule, type HttpMethod, type Operation } from './shared/endpoints.ts';
export { BodyMalformed, EndpointNotAllowed, PROVIDER_ERROR_STATUS, ProviderError, type ProviderErrorCode } from './errors.ts';
export { isValidModelName, MODEL_NAME_RE } from './shared/model-name.ts';
export { decodeUtf8Strict, DEFAULT_MAX_DEPTH, parseStrictJson, parseStrictJsonObject, StrictJsonError, type JsonObject, type JsonValue } from './shared/strict-json.ts';
export { encodeEventStreamMessage } from './shared/eventstream.ts';

/** Content types of streamed responses whose usage the meter reads chunk by chunk. */
export function isStreamingContentType(contentType: string | undefined): boolean {
  const ct = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return ct === 'text/event-stream' || ct === 'application/vnd.amazon.eventstream';
}
