// Decisions and the rules that make them. Imports nothing internal.

/**
 * Every rule that can decide a request, as a typed constant: the audit record, metrics and the
 * `policy explain` output name rules by these ids, so a typo is a compile error, not a new label.
 */
export const RULES = Object.freeze({
  identityApiKey: 'identity.api_key',
  identityAllow: 'identity.allow',
  killSwitch: 'admin.kill_switch',
  identityModels: 'identity.allow.models',
  identityUnknown: 'identity.unknown',
  identityVerify: 'identity.verify',
  policyDocument: 'policy.document',
  rateLimit: 'rateLimits',
  budget: 'budgets',
  anomaly: 'anomaly.deny',
  sharedState: 'state',
  dlp: 'dlp.actions',
  providerFetch: 'dlp.allowProviderFetch',
  serverTools: 'dlp.allowServerTools',
  requestProof: 'identity.requestProof',
  routing: 'routing.classes',
  providerRoute: 'provider.route',
  providerModels: 'provider.models',
  providerEndpoints: 'provider.endpoints',
  mcpProtocol: 'mcp.protocol',
  mcpHeaders: 'mcp.headers',
  mcpPins: 'mcp.pins',
  providerCredential: 'provider.credential',
  requestJson: 'request.json',
  requestContentType: 'request.content_type',
  requestModel: 'request.model',
  requestHeaders: 'request.headers',
  responseEncoding: 'response.encoding',
  bodyLimit: 'limits.maxRequestBodyBytes',
  envoyBufferLimit: 'envoy.buffer_limit',
  envoyLocalReply: 'envoy.local_reply',
  authzContext: 'authz.context',
  protocol: 'protocol',
  internal: 'internal',
});

/** A grant in the policy file, e.g. "identities[agent-1].allow[0]". */
export type GrantRuleId = `identities[${string}].allow[${number}]`;

export type RuleId = (typeof RULES)[keyof typeof RULES] | GrantRuleId;

/** How the caller proved who it is. */
export type IdentityKind = 'api_key' | 'jwt' | 'spiffe';

/** A calling workload, as resolved by the decision point. */
export interface Identity {
  readonly id: string;
  readonly tenant: string;
  readonly kind: IdentityKind;
}

/**
 * The normalised request document: built once per request, the only input of policy evaluation.
 * `path` is relative to the provider prefix (`/v1/chat/completions`), without the query.
 */
export interface RequestDocument {
  readonly identity: Identity;
  readonly provider: string;
  readonly method: string;
  readonly path: string;
  /** The operation the provider translator recognised (chat, embeddings, models.list, ...). */
  readonly operation: string;
  /** The model, once known (from the path at authz time, from the body later). */
  readonly model: string | undefined;
  readonly time: Date;
  /** Verified JWT claims (empty for other identity kinds). */
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly host?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** An MCP server's JSON-RPC message (kind mcp, once the body has been read). */
  readonly mcp?: McpDocument;
}

/** What policy reads of one MCP JSON-RPC message: never a result, and arguments only for conditions. */
export interface McpDocument {
  readonly kind: 'request' | 'notification' | 'response';
  /** The method ("" for a response to a server request). */
  readonly method: string;
  readonly target: 'tool' | 'prompt' | 'resource' | 'task' | undefined;
  /** Tool or prompt name, resource URI, task id. */
  readonly name: string | undefined;
  readonly arguments: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The outcome of policy evaluation. `reason` is an error-catalogue code for denials; the policy
 * revision says which compiled policy decided.
 */
export type Decision =
  | { readonly allow: true; readonly rule: RuleId; readonly policyRevision: string; readonly shadow?: ShadowDenial }
  | { readonly allow: false; readonly rule: RuleId; readonly reason: DenyReason; readonly policyRevision: string };

/** Catalogue codes policy evaluation can deny with (a subset of errors.ts). */
export type DenyReason = 'provider_forbidden' | 'operation_forbidden' | 'model_forbidden' | 'condition_failed' | 'policy_condition_error' | 'mcp_method_forbidden' | 'mcp_name_forbidden' | 'tool_definition_changed';

/** A denial that shadow mode (global or the grant's own) recorded instead of enforcing. */
export interface ShadowDenial {
  readonly rule: RuleId;
  readonly reason: DenyReason;
}
