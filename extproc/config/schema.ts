import { z } from 'zod';
import { MODEL_PATTERN_RE } from '../core/model-pattern.ts';
import { BODY_FORMATS, HTTP_METHODS, OPERATIONS, PROVIDER_KINDS, routeKindGroup } from '../providers/index.ts';
import { dlpSchema } from './dlp-schema.ts';
import { MCP_PINS_FIELDS } from './mcp-pins-schema.ts';
import { envSource, fileSource } from './secret-source.ts';
import { identitySectionSchema } from './identity-schema.ts';
import { auditChainSchema, refineStateConfig, STATE_CONFIG_SHAPE } from './state-schema.ts';
import { vaultCredentialSourceSchemas, vaultSchema } from './vault-schema.ts';

// The only source of configuration types. Every object is strict: an unknown or misspelt key fails.
// docs/configuration.md documents every field; keep the two in step.

const MiB = 1024 * 1024;

const host = z.string().min(1).max(253);
const port = z.int().min(0).max(65535);
const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes, starting with a letter or digit');


const modelPattern = z.string().regex(MODEL_PATTERN_RE, 'must be a model name, optionally ending in "*", or "*" alone');


export const credentialSourceSchema = z.discriminatedUnion('source', [envSource, fileSource, z.strictObject({ source: z.literal('none') }), ...vaultCredentialSourceSchemas]);

export const providerKindSchema = z.enum(PROVIDER_KINDS);

/** An endpoint the operator allows beyond the kind's built-in list (validated again when the kind is created). */
const endpointRuleSchema = z.strictObject({
  method: z.enum(HTTP_METHODS),
  path: z.string().regex(/^\/[A-Za-z0-9._~{}:*/-]{0,255}$/, 'must be a path pattern of literal segments, "*", "{model}", "{project}" or "{location}"'),
  operation: z.enum(OPERATIONS),
  body: z.enum(['required', 'optional', 'none']),
  model: z.enum(['required', 'optional']).default('optional'),
  format: z.enum(BODY_FORMATS),
  stream: z.enum(['always', 'never', 'body-flag']).default('never'),
});

/** Who owns a policy entry: the team and a contact an incident responder can reach, and when it is next reviewed. */
export const ownerSchema = z.strictObject({
  team: z.string().min(1).max(128),
  contact: z.string().min(3).max(256),
});
const reviewBy = z.iso.date({ error: 'must be a date, YYYY-MM-DD' });

export const providerSchema = z.strictObject({
  name,
  kind: providerKindSchema,
  upstream: z
    .url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL', abort: true })
    .refine((u) => { const p = new URL(u); return p.search === '' && p.hash === '' && p.username === '' && p.password === ''; }, 'must not contain a query, fragment or user info'),
  /** Required for model providers; an MCP server (kind mcp) serves no models and lists none. */
  models: z.array(modelPattern).min(1).optional(),
  credential: credentialSourceSchema,
  timeoutSeconds: z.number().positive().max(3600).default(300),
  owner: ownerSchema.optional(),
  reviewBy: reviewBy.optional(),
  /** Endpoints allowed beyond the kind's built-in list; anything in neither is denied (403 endpoint_not_allowed). */
  extraEndpoints: z.array(endpointRuleSchema).max(64).default([]),
  /** bedrock: the AWS region requests are signed for. */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1').optional(),
  /** vertex: pin requests to this project and location. */
  project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/).optional(),
  location: z.string().regex(/^[a-z]+(-[a-z0-9]+)*$/).optional(),
  /**
   * kind mcp: the server's MCP endpoint path below the upstream URL, and its tool-definition pins (reviewed hashes
   * as `tollgate mcp pins` prints them; trust on first use for the rest, kept in the state store).
   */
  mcp: z.strictObject({ path: z.string().regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must be a path such as "/mcp"').max(256).default('/mcp'), ...MCP_PINS_FIELDS }).optional(),
});

const apiKeyHash = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 lower-case hex digits (see `tollgate keys mint`)');

/**
 * A grant: the identity may use this provider, optionally only these models and operations, and only
 * when the CEL condition holds over the request document. `shadow`: a failing condition is recorded
 * (audit, metrics) but does not deny: try a tightening before enforcing it.
 */
const mcpMethod = z.string().regex(/^[A-Za-z0-9_./-]{1,128}$/, 'must be an MCP method such as "tools/call"');
const mcpNamePattern = z.string().min(1).max(1024);

/**
 * A grant's MCP rules (kind mcp servers): which methods beyond the session ones, and which tools, prompts and
 * resources (name or URI patterns, "*" for any run of characters). Default deny: no names listed, none allowed.
 */
export const mcpGrantSchema = z.strictObject({
  methods: z.array(mcpMethod).min(1).max(64).optional(),
  tools: z.array(mcpNamePattern).max(256).default([]),
  prompts: z.array(mcpNamePattern).max(256).default([]),
  resources: z.array(mcpNamePattern).max(256).default([]),
});

export const grantSchema = z.strictObject({
  provider: name,
  models: z.array(modelPattern).min(1).optional(),
  operations: z.array(z.enum(OPERATIONS)).min(1).optional(),
  mcp: mcpGrantSchema.optional(),
  when: z.string().min(1).max(4096).optional(),
  shadow: z.boolean().default(false),
});

const spiffeId = z.string().regex(/^spiffe:\/\/[a-z0-9._-]{1,255}(\/[A-Za-z0-9._-]+)*$/, 'must be a SPIFFE ID, spiffe://trust-domain/path');

export const identitySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/, 'must be 1-128 characters of letters, digits and ._:/@-'),
  tenant: name.default('default'),
  /** How a caller proves it is this identity: API key hashes, SPIFFE IDs (mTLS), JWT issuer + subject. */
  apiKeyHashes: z.array(apiKeyHash).default([]),
  spiffeIds: z.array(spiffeId).default([]),
  jwtSubjects: z.array(z.strictObject({ issuer: z.string().min(1).max(512), subject: z.string().min(1).max(512) })).default([]),
  allow: z.array(grantSchema),
  owner: ownerSchema.optional(),
  reviewBy: reviewBy.optional(),
});


const routeClassName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a route class name such as "onprem"');
const headerName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,126}$/, 'must be a lower-case HTTP header name');

/**
 * Classification routing: a route class (chosen by a DLP `route` action, or by a classification the caller
 * declares in a header or a verified JWT claim) sends the request to another provider of the same wire format,
 * e.g. on-prem. Classes listed first win when several apply. Envoy routes on `header`, which Tollgate sets.
 */
export const routingSchema = z.strictObject({
  header: headerName.default('x-tollgate-route-class'),
  classes: z
    .array(z.strictObject({ name: routeClassName, providers: z.array(name).min(1).max(8) }))
    .max(32)
    .default([]),
  declared: z
    .strictObject({
      header: headerName.optional(),
      claim: z.string().min(1).max(128).optional(),
      /** Declared classification value → route class. Unknown values route nowhere. */
      map: z.record(z.string().min(1).max(128), routeClassName),
    })
    .optional(),
});

export const auditSinkSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stdout') }),
  z.strictObject({ type: z.literal('file'), path: z.string().min(1) }),
]);

export const configSchema = z
  .strictObject({
    version: z.literal(1),
    server: z
      .strictObject({
        grpc: z
          .strictObject({
            host: host.default('127.0.0.1'),
            port: port.default(9001),
            // mTLS for the gRPC port: only a client with a certificate from clientCaFile (Envoy) may call,
            // and with allowedClients only one whose certificate names one of them (a URI SAN such as
            // Envoy's SPIFFE ID, or the subject CN).
            tls: z
              .strictObject({
                certFile: z.string().min(1),
                keyFile: z.string().min(1),
                clientCaFile: z.string().min(1),
                allowedClients: z.array(z.string().min(1).max(2048)).min(1).optional(),
              })
              .optional(),
            // Plaintext on an address other than loopback or a unix socket is refused at start unless
            // this says so (logged as a warning): the port hands out provider credentials.
            insecure: z.boolean().default(false),
            // With identity.mtls, the SPIFFE identity in a Check (source.principal, source.certificate, a
            // trusted x-forwarded-client-cert) is believed only from a client that proved it is Envoy:
            // server.grpc.tls with allowedClients. This opt-out believes it from any client of the port
            // (logged as a warning at start, reported by `tollgate posture`): any local process can then
            // claim any workload identity. `serve` refuses identity.mtls without one of the two.
            trustUnauthenticatedPeers: z.boolean().default(false),
            // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: the streams (Checks and ext_proc streams) one
            // connection may have open at once; a client past it is refused (REFUSED_STREAM) or waits.
            maxConcurrentStreams: z.int().min(1).max(65_535).default(1_000),
          })
          .prefault({}),
        admin: z
          .strictObject({
            host: host.default('127.0.0.1'),
            port: port.default(9002),
            // The kill switch (off by default): POST /admin/kill-switch/revoke|enable with a JSON body
            // {tenant, identity} and this bearer token denies an identity on every replica (the disabled
            // set is in the state store) and revokes its leases until re-enabled; GET /admin/kill-switch lists it.
            killSwitchToken: z.discriminatedUnion('source', [envSource, fileSource]).optional(),
          })
          .prefault({}),
        drainSeconds: z.number().min(0).max(300).default(5),
        // The key that seals the identity ext_authz hands to ext_proc. Replicas behind one Envoy must
        // share it; unset, each process makes a random one (right for a single replica).
        authzContextKey: z.discriminatedUnion('source', [envSource, fileSource]).optional(),
        /** How long a sealed authz context stays valid between ext_authz and ext_proc. */
        authzContextMaxAgeSeconds: z.number().positive().max(600).default(30),
        shutdownGraceSeconds: z.number().min(0).max(300).default(10),
      })
      .prefault({}),
    limits: z
      .strictObject({
        maxRequestBodyBytes: z.int().min(1024).max(64 * MiB).default(MiB),
        maxResponseBodyBytes: z.int().min(1024).max(64 * MiB).default(4 * MiB),
      })
      .prefault({}),
    /** Vault/OpenBao: Tollgate's own login and connection; providers name vault-* credential sources. */
    vault: vaultSchema.optional(),
    providers: z.array(providerSchema).min(1),
    identities: z.array(identitySchema),
    /** How callers are verified: mTLS/SPIFFE trust domains, JWT issuers, request proofs. API keys need nothing here. */
    identity: identitySectionSchema.prefault({}),
    /**
     * mode: enforce (default), or shadow: policy denials are recorded as would-deny and the request goes on.
     * waivers: documented exceptions to `tollgate policy check` rules (today: `owner`), each with a reason and an expiry.
     */
    policy: z
      .strictObject({
        mode: z.enum(['enforce', 'shadow']).default('enforce'),
        waivers: z
          .array(
            z.strictObject({
              rule: z.enum(['owner']),
              /** What the waiver covers: `identities[ID]` or `providers[NAME]` (a provider covers its credential source too). */
              entries: z.array(z.string().regex(/^(identities|providers)\[[^\]]{1,128}\]$/, 'must be identities[ID] or providers[NAME]')).min(1),
              reason: z.string().min(3).max(1024),
              until: z.iso.date({ error: 'must be a date, YYYY-MM-DD' }),
            }),
          )
          .max(256)
          .default([]),
      })
      .prefault({}),
    audit: z.strictObject({ sink: auditSinkSchema.default({ type: 'stdout' }), chain: auditChainSchema }).prefault({}),
    /** Content controls: secret and PII detectors, actions (allow, mask, block, route), response scanning. */
    dlp: dlpSchema.prefault({}),
    /** Classification routing: route classes and their target providers. */
    routing: routingSchema.prefault({}),
    /** Shared state (memory or Redis), budgets, prices, rate limits and anomaly baselines. */
    ...STATE_CONFIG_SHAPE,
    logging: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
    /** OpenTelemetry traces to an OTLP/HTTP (JSON) collector: off by default (docs/operations.md, "Tracing"). */
    telemetry: z
      .strictObject({
        tracing: z
          .strictObject({
            enabled: z.boolean().default(false),
            endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).default('http://127.0.0.1:4318/v1/traces'),
            /** Fraction of new traces sampled (0..1); a caller's sampled flag in traceparent is followed either way. */
            sampleRatio: z.number().min(0).max(1).default(1),
            serviceName: z.string().min(1).max(128).default('tollgate'),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const providers = new Map(cfg.providers.map((p) => [p.name, p]));
    cfg.providers.forEach((p, i) => {
      if (p.credential.source.startsWith('vault-') && cfg.vault === undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'credential'], message: 'a vault-* credential source needs the top-level vault section' });
      if (p.kind === 'bedrock' && p.region === undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'region'], message: 'is required for kind bedrock' });
      if (p.kind !== 'mcp' && p.models === undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'models'], message: 'is required (list the models this provider serves)' });
      if (p.kind === 'mcp' && p.models !== undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'models'], message: 'an MCP server serves no models: leave models out' });
      if (p.kind !== 'mcp' && p.mcp !== undefined) ctx.addIssue({ code: 'custom', path: ['providers', i, 'mcp'], message: 'is only for kind mcp' });
      if (cfg.providers.findIndex((q) => q.name === p.name) !== i)
        ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `duplicate provider name "${p.name}"` });
    });
    const seenIds = new Set<string>();
    const seenHashes = new Set<string>();
    const seenSpiffe = new Set<string>();
    const seenJwt = new Set<string>();
    cfg.identities.forEach((ident, i) => {
      if (seenIds.has(ident.id)) ctx.addIssue({ code: 'custom', path: ['identities', i, 'id'], message: `duplicate identity id "${ident.id}"` });
      seenIds.add(ident.id);
      if (ident.apiKeyHashes.length + ident.spiffeIds.length + ident.jwtSubjects.length === 0)
        ctx.addIssue({ code: 'custom', path: ['identities', i], message: 'needs at least one of apiKeyHashes, spiffeIds, jwtSubjects' });
      for (const [j, sid] of ident.spiffeIds.entries()) {
        if (seenSpiffe.has(sid)) ctx.addIssue({ code: 'custom', path: ['identities', i, 'spiffeIds', j], message: 'this SPIFFE ID is already used by another identity' });
        seenSpiffe.add(sid);
      }
      for (const [j, js] of ident.jwtSubjects.entries()) {
        const k = `${js.issuer}\n${js.subject}`;
        if (seenJwt.has(k)) ctx.addIssue({ code: 'custom', path: ['identities', i, 'jwtSubjects', j], message: 'this issuer and subject are already used by another identity' });
        seenJwt.add(k);
        if (!cfg.identity.jwt?.issuers.some((iss) => iss.issuer === js.issuer)) ctx.addIssue({ code: 'custom', path: ['identities', i, 'jwtSubjects', j, 'issuer'], message: 'is not an issuer in identity.jwt.issuers' });
      }
      ident.apiKeyHashes.forEach((h, j) => {
        if (seenHashes.has(h))
          ctx.addIssue({ code: 'custom', path: ['identities', i, 'apiKeyHashes', j], message: 'this key hash is already used by another identity' });
        seenHashes.add(h);
      });
      ident.allow.forEach((a, j) => {
        if (ident.allow.findIndex((b) => b.provider === a.provider) !== j)
          ctx.addIssue({ code: 'custom', path: ['identities', i, 'allow', j, 'provider'], message: `provider "${a.provider}" is listed twice for this identity` });
        if (!providers.has(a.provider))
          ctx.addIssue({ code: 'custom', path: ['identities', i, 'allow', j, 'provider'], message: `unknown provider "${a.provider}"` });
        const kind = providers.get(a.provider)?.kind;
        if (a.mcp !== undefined && kind !== undefined && kind !== 'mcp') ctx.addIssue({ code: 'custom', path: ['identities', i, 'allow', j, 'mcp'], message: `provider "${a.provider}" is not an MCP server (kind mcp)` });
        if (kind === 'mcp' && a.models !== undefined) ctx.addIssue({ code: 'custom', path: ['identities', i, 'allow', j, 'models'], message: 'an MCP server serves no models' });
      });
    });
    refineStateConfig(cfg, ctx);
    refineRouting(cfg, providers, ctx);
    cfg.prices.forEach((pr, i) => {
      if (!providers.has(pr.provider)) ctx.addIssue({ code: 'custom', path: ['prices', i, 'provider'], message: `unknown provider "${pr.provider}"` });
    });
    if (cfg.server.grpc.port !== 0 && cfg.server.grpc.port === cfg.server.admin.port && cfg.server.grpc.host === cfg.server.admin.host)
      ctx.addIssue({ code: 'custom', path: ['server', 'admin', 'port'], message: 'must differ from server.grpc.port' });
  });

/** Routing: classes name configured providers, one per wire format; declared and DLP classes exist. */
function refineRouting(cfg: { routing: z.infer<typeof routingSchema>; dlp: { actions: readonly { action: string; route?: string }[] } }, providers: ReadonlyMap<string, { kind: ProviderKind }>, ctx: z.RefinementCtx): void {
  const classes = new Set<string>();
  cfg.routing.classes.forEach((c, i) => {
    if (classes.has(c.name)) ctx.addIssue({ code: 'custom', path: ['routing', 'classes', i, 'name'], message: `duplicate route class "${c.name}"` });
    classes.add(c.name);
    const groups = new Set<number>();
    c.providers.forEach((p, j) => {
      const target = providers.get(p);
      if (target === undefined) {
        ctx.addIssue({ code: 'custom', path: ['routing', 'classes', i, 'providers', j], message: `unknown provider "${p}"` });
        return;
      }
      const g = routeKindGroup(target.kind);
      if (groups.has(g)) ctx.addIssue({ code: 'custom', path: ['routing', 'classes', i, 'providers', j], message: `another provider of this class already takes kind ${target.kind} requests (one target per wire format)` });
      groups.add(g);
    });
  });
  const d = cfg.routing.declared;
  if (d !== undefined) {
    if (d.header === undefined && d.claim === undefined) ctx.addIssue({ code: 'custom', path: ['routing', 'declared'], message: 'needs a header or a claim' });
    if (d.header !== undefined && d.header === cfg.routing.header) ctx.addIssue({ code: 'custom', path: ['routing', 'declared', 'header'], message: 'must differ from routing.header' });
    for (const [value, cls] of Object.entries(d.map)) if (!classes.has(cls)) ctx.addIssue({ code: 'custom', path: ['routing', 'declared', 'map', value], message: `unknown route class "${cls}" (not in routing.classes)` });
  }
  cfg.dlp.actions.forEach((a, i) => {
    if (a.action === 'route' && a.route !== undefined && !classes.has(a.route)) ctx.addIssue({ code: 'custom', path: ['dlp', 'actions', i, 'route'], message: `unknown route class "${a.route}" (not in routing.classes)` });
  });
}

export type Config = z.infer<typeof configSchema>;
export type RoutingConfig = z.infer<typeof routingSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ProviderKind = z.infer<typeof providerKindSchema>;
export type CredentialSourceConfig = z.infer<typeof credentialSourceSchema>;
export type AuditSinkConfig = z.infer<typeof auditSinkSchema>;
