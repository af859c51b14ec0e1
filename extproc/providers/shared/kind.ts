// A provider kind, created once at load per configured provider: its endpoint list (built in, plus the
// operator's validated extras), its header allow-list, and the per-request translator factory.
import { EndpointNotAllowed, ProviderError } from '../errors.ts';
import { compileEndpoints, matchEndpoint, parseQuery, splitPath, type CompiledEndpoint, type EndpointRule, type Operation, type PathPolicy } from './endpoints.ts';
import { headersToRemove, type HeaderAllowList } from './headers.ts';
import { RequestTranslator, type ApplyCredential, type RequestHead } from './translator.ts';

/**
 * Query parameters that carry credentials (Gemini's ?key=, OAuth access_token, presigned SigV4). The caller's own
 * credential never reaches a provider, and the query cannot be edited without rewriting the path: refused.
 */
export const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'key', 'api-key', 'api_key', 'apikey', 'access_token', 'x-goog-api-key', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token',
]);

export interface KindOptions {
  /** The provider's upstream URL from config (scheme, host, port, base path). */
  readonly upstream: URL;
  /** Operator-added endpoints, validated at load (EndpointRuleError names the bad rule). Matched after the built-ins. */
  readonly extraEndpoints?: readonly EndpointRule[];
  /** Bedrock: the AWS region to sign for (required for kind bedrock). */
  readonly region?: string;
  /** Vertex: when set, the project and location in request paths must equal these. */
  readonly project?: string;
  readonly location?: string;
  /** The signing clock (tests). */
  readonly now?: () => Date;
  /** MCP: the path of the server's MCP endpoint below the upstream URL (e.g. "/mcp"). */
  readonly mcpPath?: string;
}

export interface KindSpec {
  readonly kind: string;
  readonly endpoints: readonly EndpointRule[];
  /**
   * The operations a grant without `operations` allows (least privilege): inference and the model
   * catalogue. Stored data (files, stored responses, batches, fine-tuning, assistants), moderations and
   * `custom` endpoints must be listed in the grant.
   */
  readonly inferenceOperations: readonly Operation[];
  readonly headers: HeaderAllowList;
  readonly pathPolicy: PathPolicy;
  credential(options: KindOptions): ApplyCredential;
  /** Endpoints that depend on the provider's options (MCP: its endpoint path); replaces `endpoints` when set. */
  endpointsFor?(options: KindOptions): readonly EndpointRule[];
  /** Checks the request line and headers beyond the endpoint match (MCP: the protocol version); throws ProviderError. */
  checkHead?(head: RequestHead, rule: EndpointRule): void;
}

export class ProviderKindModule {
  readonly kind: string;
  readonly endpoints: readonly EndpointRule[];
  /** What a grant without `operations` allows for this kind (KindSpec.inferenceOperations). */
  readonly inferenceOperations: ReadonlySet<Operation>;
  readonly #compiled: readonly CompiledEndpoint[];
  readonly #spec: KindSpec;
  readonly #options: KindOptions;
  readonly #apply: ApplyCredential;

  constructor(spec: KindSpec, options: KindOptions) {
    if (options.upstream.search !== '' || options.upstream.hash !== '' || options.upstream.username !== '' || options.upstream.password !== '') {
      throw new Error('the upstream URL may not hold a query, fragment or user information');
    }
    this.kind = spec.kind;
    this.#spec = spec;
    this.#options = options;
    this.#compiled = [...compileEndpoints(spec.endpointsFor?.(options) ?? spec.endpoints), ...compileEndpoints(options.extraEndpoints ?? [])];
    this.endpoints = this.#compiled.map((c) => c.rule);
    this.inferenceOperations = new Set(spec.inferenceOperations);
    this.#apply = spec.credential(options);
  }

  /**
   * A translator for one request. Throws EndpointNotAllowed (403) if no endpoint rule matches, and
   * ProviderError (path_malformed, model_invalid, model_conflict) for a path or query it refuses.
   */
  newRequest(head: RequestHead): RequestTranslator {
    // Endpoints name the path the provider receives: the upstream's base path, then the request path.
    const segs = splitPath(`${this.#options.upstream.pathname.replace(/\/+$/, '')}${head.path}`);
    const match = matchEndpoint(this.#compiled, head.method, segs, this.#spec.pathPolicy);
    if (match === undefined) throw new EndpointNotAllowed(head.method);
    this.#spec.checkHead?.(head, match.endpoint.rule);
    const { project, location } = this.#options;
    if (project !== undefined && match.project !== undefined && match.project !== project) throw new EndpointNotAllowed(head.method);
    if (location !== undefined && match.location !== undefined && match.location !== location) throw new EndpointNotAllowed(head.method);
    const query = parseQuery(head.query);
    if (query.some(([k]) => CREDENTIAL_QUERY_PARAMS.has(k.toLowerCase()))) throw new ProviderError('path_malformed', 'the query carries a credential parameter');
    const queryModels = query.filter(([k]) => k === 'model').map(([, v]) => v);
    if (queryModels.length > 8) throw new ProviderError('path_malformed', 'too many model parameters');
    return new RequestTranslator(head, match, queryModels, this.#options.upstream, this.#apply);
  }

  /** Lower-case names of the request headers to remove before the request goes to this provider. */
  headersToRemove(names: Iterable<string>): string[] {
    return headersToRemove(this.#spec.headers, names);
  }
}
