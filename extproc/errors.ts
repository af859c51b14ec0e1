import { status as GrpcStatus } from '@grpc/grpc-js';
import { RULES, type RuleId } from './core/decision.ts';

/**
 * The error catalogue. Every denial or failure Tollgate reports carries one of these codes; the code
 * is also the `reason` label in metrics and the `reason` field in audit records.
 * `userFacing: false` means the client sees only the generic message, never internal detail.
 */
export interface CatalogueEntry {
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatus;
  readonly userFacing: boolean;
  readonly message: string;
}

const entry = (httpStatus: number, grpcStatus: GrpcStatus, userFacing: boolean, message: string): CatalogueEntry =>
  Object.freeze({ httpStatus, grpcStatus, userFacing, message });

export const ERROR_CATALOGUE = Object.freeze({
  unauthenticated: entry(401, GrpcStatus.UNAUTHENTICATED, true, 'A valid Tollgate API key is required.'),
  credentials_ambiguous: entry(401, GrpcStatus.UNAUTHENTICATED, true, 'More than one caller credential was sent; send exactly one.'),
  provider_unknown: entry(404, GrpcStatus.NOT_FOUND, true, 'No provider is configured at this path.'),
  identity_invalid: entry(401, GrpcStatus.UNAUTHENTICATED, true, "The caller's credential could not be verified."),
  token_expired: entry(401, GrpcStatus.UNAUTHENTICATED, true, 'The token has expired or is not yet valid.'),
  token_replayed: entry(401, GrpcStatus.UNAUTHENTICATED, true, 'This token was already used; send a fresh one.'),
  request_proof_invalid: entry(401, GrpcStatus.UNAUTHENTICATED, true, 'The request proof is missing, stale, replayed or does not match the request.'),
  peer_untrusted: entry(403, GrpcStatus.PERMISSION_DENIED, true, "The client certificate's trust domain is not accepted."),
  identity_unknown: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This workload has no entry in the policy.'),
  identity_unavailable: entry(503, GrpcStatus.UNAVAILABLE, false, 'Identity verification is temporarily unavailable.'),
  operation_forbidden: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This identity may not use this operation.'),
  condition_failed: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'The request was denied by policy.'),
  policy_condition_error: entry(403, GrpcStatus.PERMISSION_DENIED, false, 'The request was denied by policy.'),
  rate_limited: entry(429, GrpcStatus.RESOURCE_EXHAUSTED, true, 'Too many requests; retry later.'),
  model_unpriced: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This model has no price in the catalog, so a cost budget cannot be applied to it.'),
  budget_exceeded: entry(429, GrpcStatus.RESOURCE_EXHAUSTED, true, 'This request would exceed a usage budget.'),
  output_cap_required: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'This request must set its maximum output tokens (e.g. max_tokens): a usage budget or token limit applies and the model has no known maximum.'),
  group_missing: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'A usage budget or limit is scoped by a token claim this request does not carry.'),
  anomaly_blocked: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This request is far outside the usual pattern for this identity.'),
  state_unavailable: entry(503, GrpcStatus.UNAVAILABLE, false, 'Shared state is unavailable.'),
  content_blocked: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'The request contains content this policy does not allow.'),
  provider_fetch_denied: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'The request asks the provider to fetch a URL, which this policy does not allow.'),
  server_tool_denied: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'The request enables a provider-side tool this policy does not allow.'),
  scan_limit_exceeded: entry(413, GrpcStatus.RESOURCE_EXHAUSTED, true, 'The request content could not be fully inspected within the configured limits.'),
  response_leak: entry(502, GrpcStatus.ABORTED, false, 'The response was stopped: it carried content that could not be masked in time.'),
  route_unavailable: entry(403, GrpcStatus.PERMISSION_DENIED, true, "This request's data classification has no allowed destination for this provider."),
  identity_disabled: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This identity is disabled.'),
  provider_forbidden: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This identity may not use this provider.'),
  model_forbidden: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This identity may not use this model.'),
  endpoint_not_allowed: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This endpoint is not allowed through Tollgate.'),
  path_malformed: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The request path or query is malformed.'),
  body_missing: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'This endpoint needs a request body.'),
  model_conflict: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The request names more than one model.'),
  model_invalid: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The model name is not valid.'),
  model_missing: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The request body must be a JSON object with a string "model" field.'),
  body_malformed: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The request body is not valid JSON.'),
  content_type_unsupported: entry(415, GrpcStatus.INVALID_ARGUMENT, true, 'The request body must be application/json.'),
  body_too_large: entry(413, GrpcStatus.RESOURCE_EXHAUSTED, true, 'The request body is larger than the configured limit.'),
  header_malformed: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'A request header is malformed.'),
  credential_unavailable: entry(503, GrpcStatus.UNAVAILABLE, false, 'The provider credential is unavailable.'),
  authz_context_missing: entry(500, GrpcStatus.FAILED_PRECONDITION, false, 'The request was not authorized by Tollgate.'),
  authz_context_invalid: entry(500, GrpcStatus.FAILED_PRECONDITION, false, 'The request was not authorized by Tollgate.'),
  protocol_violation: entry(500, GrpcStatus.INVALID_ARGUMENT, false, 'The proxy sent an unexpected message.'),
  response_encoding_unsupported: entry(502, GrpcStatus.ABORTED, true, "The provider's response used a content-encoding Tollgate cannot inspect."),
  response_decode_failed: entry(502, GrpcStatus.ABORTED, true, "The provider's compressed response could not be decoded within the limits."),
  response_incomplete: entry(502, GrpcStatus.ABORTED, false, 'The response did not complete.'),
  proxy_local_reply: entry(502, GrpcStatus.ABORTED, false, 'The proxy ended the request before it was processed.'),
  internal: entry(500, GrpcStatus.INTERNAL, false, 'Internal error.'),
  jsonrpc_malformed: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The body is not a valid MCP JSON-RPC 2.0 message.'),
  jsonrpc_batch_refused: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'JSON-RPC batches are not part of the MCP versions Tollgate speaks; send one message per request.'),
  mcp_protocol_version_unsupported: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'This MCP protocol version is not supported.'),
  mcp_header_mismatch: entry(400, GrpcStatus.INVALID_ARGUMENT, true, 'The Mcp-Method, Mcp-Name or Mcp-Param-* headers are missing or do not match the request body.'),
  mcp_method_forbidden: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This identity may not use this MCP method on this server.'),
  mcp_name_forbidden: entry(403, GrpcStatus.PERMISSION_DENIED, true, 'This identity may not use this tool, prompt or resource.'),
  tool_definition_changed: entry(403, GrpcStatus.PERMISSION_DENIED, true, "This tool's definition changed since it was pinned; it is unavailable until the change is reviewed."),
});

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const GENERIC_CLIENT_MESSAGE = 'The request could not be processed.';

/** An error with a catalogue code. `detail` is for logs only and must never hold secrets. */
export class TollgateError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail === undefined ? code : `${code}: ${detail}`, options);
    this.name = 'TollgateError';
    this.code = code;
    this.detail = detail;
  }

  get entry(): CatalogueEntry {
    return ERROR_CATALOGUE[this.code];
  }
}

export function toTollgateError(err: unknown): TollgateError {
  return err instanceof TollgateError ? err : new TollgateError('internal', undefined, { cause: err });
}

/** The JSON body a client receives for a denial. OpenAI-shaped, so SDKs surface the message. */
export function clientErrorBody(code: ErrorCode, requestId: string | undefined, blockedTypes?: readonly string[]): string {
  const e = ERROR_CATALOGUE[code];
  return JSON.stringify({
    error: {
      type: 'tollgate_error',
      code,
      message: e.userFacing ? e.message : GENERIC_CLIENT_MESSAGE,
      ...(requestId === undefined ? {} : { request_id: requestId }),
      ...(blockedTypes === undefined || blockedTypes.length === 0 ? {} : { blocked_types: blockedTypes }),
    },
  });
}

/**
 * The longest wait a denial advertises in `retry-after`. SDKs sleep on any retry-after they get (the
 * Anthropic SDKs for as long as it says), so a longer wait is sent as `x-should-retry: false` with the
 * wait in `x-tollgate-retry-after`, which no client acts on by itself.
 */
export const MAX_RETRY_AFTER_SECONDS = 60;

/** Denials that retrying can fix, within MAX_RETRY_AFTER_SECONDS: short rate limits and unavailable dependencies. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['rate_limited', 'identity_unavailable', 'state_unavailable', 'credential_unavailable']);

export interface DenialHeader {
  readonly name: string;
  readonly value: string;
}

/**
 * The headers every denial carries besides content-type and the decision id, for ext_authz and ext_proc
 * alike: the request id under `request-id` as well (Envoy returns `x-request-id`; the OpenAI and Anthropic
 * SDKs read `request-id`), and a retry hint the SDKs honour before any retry-after: `x-should-retry: true`
 * with `retry-after` for a retryable denial, `x-should-retry: false` for one retrying cannot fix (a policy
 * denial, an exhausted budget, a rate limit whose wait is longer than MAX_RETRY_AFTER_SECONDS). Internal
 * failures (5xx other than the unavailable dependencies) get no hint: the client's own policy applies.
 */
export function denialHeaders(code: ErrorCode, requestId: string | undefined, retryAfterSeconds?: number): DenialHeader[] {
  const out: DenialHeader[] = [];
  if (requestId !== undefined && requestId !== '') out.push({ name: 'request-id', value: requestId });
  const short = retryAfterSeconds === undefined || retryAfterSeconds <= MAX_RETRY_AFTER_SECONDS;
  if (RETRYABLE.has(code) && short) {
    out.push({ name: 'x-should-retry', value: 'true' });
    if (retryAfterSeconds !== undefined) out.push({ name: 'retry-after', value: String(retryAfterSeconds) });
  } else if (RETRYABLE.has(code) || ERROR_CATALOGUE[code].httpStatus < 500) {
    out.push({ name: 'x-should-retry', value: 'false' });
    if (retryAfterSeconds !== undefined) out.push({ name: 'x-tollgate-retry-after', value: String(retryAfterSeconds) });
  }
  return out;
}

/**
 * A refusal, the one shape wherever it is decided (ext_authz, an ext_proc step, a usage control): the
 * catalogue code, the rule that decided, and what the answer says besides.
 */
export interface Denial {
  readonly code: ErrorCode;
  readonly rule: RuleId;
  /** For a 429: when the caller may retry (a retry-after header). */
  readonly retryAfterSeconds?: number;
  /** For a content block: the data types that caused it (never values). */
  readonly types?: readonly string[];
}

/** The rule a catalogue code is reported under when no more specific rule decided (ext_authz and ext_proc alike). */
export function ruleFor(code: ErrorCode): RuleId {
  switch (code) {
    case 'body_malformed':
    case 'model_missing':
    case 'model_invalid':
      return RULES.requestJson;
    case 'body_too_large':
      return RULES.bodyLimit;
    case 'credential_unavailable':
      return RULES.providerCredential;
    case 'authz_context_missing':
    case 'authz_context_invalid':
      return RULES.authzContext;
    case 'protocol_violation':
      return RULES.protocol;
    case 'state_unavailable':
      return RULES.sharedState;
    case 'response_encoding_unsupported':
    case 'response_decode_failed':
      return RULES.responseEncoding;
    case 'identity_disabled':
      return RULES.killSwitch;
    case 'header_malformed':
      return RULES.requestHeaders;
    case 'endpoint_not_allowed':
      return RULES.providerEndpoints;
    case 'jsonrpc_malformed':
    case 'jsonrpc_batch_refused':
    case 'mcp_protocol_version_unsupported':
      return RULES.mcpProtocol;
    case 'mcp_header_mismatch':
      return RULES.mcpHeaders;
    default:
      // Another refusal of what the request says (an endpoint, a model, a body the provider's rules refuse).
      return ERROR_CATALOGUE[code].userFacing ? RULES.requestModel : RULES.internal;
  }
}

/** A failure (thrown anywhere on the request path) as the request's denial. */
export function denialOf(err: unknown): Denial {
  const code = toTollgateError(err).code;
  return { code, rule: ruleFor(code) };
}

/** The HTTP answer to a denial, the same from ext_authz and ext_proc; each encodes it in its own message. */
export interface DenialReply {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: readonly DenialHeader[];
  readonly body: string;
}

export function denialReply(denial: Denial, requestId: string | undefined, decisionId: string): DenialReply {
  return {
    code: denial.code,
    status: ERROR_CATALOGUE[denial.code].httpStatus,
    headers: [
      { name: 'content-type', value: 'application/json' },
      { name: 'x-tollgate-decision-id', value: decisionId },
      ...denialHeaders(denial.code, requestId, denial.retryAfterSeconds),
    ],
    body: clientErrorBody(denial.code, requestId, denial.types),
  };
}
