import { z } from 'zod';
import { secretSourceSchema } from './secret-source.ts';
import { MODEL_PATTERN_RE } from '../core/model-pattern.ts';

// Shared state, budgets, prices, rate limits and anomaly baselines. The main schema (schema.ts) spreads
// STATE_CONFIG_SHAPE into its top level and calls refineStateConfig from its superRefine.
// This file imports nothing from schema.ts, so schema.ts can import it without a cycle.

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * "250ms", "30s", "1m", "1h", "1d", "1w" → milliseconds; a plain number is milliseconds already (so a
 * validated config, written back out as JSON, validates again). Windows align to multiples of their
 * length since the epoch.
 */
export const durationSchema = z.union([
  z.int().min(1).max(999_999_999 * UNIT_MS.w),
  z
    .string()
    .regex(/^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$/, 'must be a duration such as "500ms", "30s", "1m", "1h", "1d" or "7d"')
    .transform((s) => {
      const m = /^(\d+)([a-z]+)$/.exec(s);
      return Number(m?.[1]) * UNIT_MS[(m?.[2] ?? 'ms') as keyof typeof UNIT_MS];
    }),
]);

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes, starting with a letter or digit');
const onError = z.enum(['deny', 'allow']);

const secretSource = secretSourceSchema;

const redisFields = {
  /** redis://host:port/db or rediss:// (TLS). No user info: the password comes from `password`. */
  url: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL', abort: true })
    .refine((u) => { const p = new URL(u); return p.username === '' && p.password === '' && p.search === '' && p.hash === ''; }, 'must not contain user info, a query or a fragment; set password separately')
    .refine((u) => /^\/?([0-9]{1,2})?$/.test(new URL(u).pathname), 'the path may only be a database number, e.g. /0')
    .optional(),
  host: z.string().min(1).max(253).optional(),
  port: z.int().min(1).max(65535).optional(),
  db: z.int().min(0).max(255).optional(),
  username: z.string().min(1).max(128).optional(),
  password: secretSource.optional(),
  tls: z.strictObject({ caFile: z.string().min(1).optional(), serverName: z.string().min(1).optional() }).optional(),
  keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{0,64}$/, 'must be up to 64 of A-Z a-z 0-9 : _ . -').default('tollgate:'),
  /** The bound on every Redis call. Keep it well under Envoy's ext_proc message_timeout (200 ms). */
  timeoutMs: z.int().min(1).max(5_000).default(50),
  connectTimeoutMs: z.int().min(50).max(60_000).default(2_000),
};

export const stateSchema = z
  .discriminatedUnion('backend', [
    z.strictObject({ backend: z.literal('memory'), onError: onError.default('deny') }),
    z.strictObject({ backend: z.literal('redis'), onError: onError.default('deny'), ...redisFields }).superRefine((r, ctx) => {
      if ((r.url === undefined) === (r.host === undefined))
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'set exactly one of url or host (with port)' });
      if (r.url !== undefined && (r.port !== undefined || r.db !== undefined))
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'with url, put the port and database in the URL' });
    }),
  ])
  .default({ backend: 'memory', onError: 'deny' });

/**
 * Whose counter: one per identity, per tenant, or per value of a JWT claim (a group). A request whose
 * token lacks the claim (and any non-JWT identity) is refused with `group_missing`, unless `default` names
 * the group it is counted in.
 */
export const subjectSchema = z.union([
  z.enum(['identity', 'tenant']),
  z.strictObject({ claim: z.string().min(1).max(128), default: z.string().min(1).max(256).optional() }),
]);

export const budgetSchema = z.strictObject({
  name,
  per: subjectSchema,
  /**
   * tokens: total tokens; cost: money in the price catalog's currency (USD), from `prices` (both: model
   * requests only); tool_calls: MCP tools/call messages only.
   */
  metric: z.enum(['tokens', 'cost', 'tool_calls']),
  /** For tokens and tool_calls a whole number; for cost an amount such as 25.50 (kept internally in micro-units). */
  limit: z.number().positive().max(1e12),
  window: durationSchema,
  /** Only these subject values (identity ids, tenants or claim values); absent = every subject. */
  only: z.array(z.string().min(1)).min(1).optional(),
  onStateError: onError.optional(),
});

/**
 * One entry of the price and model catalog: prices per million tokens (both or neither), and/or the
 * model's maximum output tokens (the budget reservation's bound when a request sets no cap, and the clamp
 * for a cap above it). For each of the two, the first entry that matches and has it wins.
 */
export const priceSchema = z
  .strictObject({
    provider: name,
    /** An exact model, or a prefix ending in "*". */
    model: z.string().regex(MODEL_PATTERN_RE, 'must be a model name, optionally ending in "*", or "*" alone'),
    inputPerMTok: z.number().min(0).max(1e6).optional(),
    outputPerMTok: z.number().min(0).max(1e6).optional(),
    maxOutputTokens: z.int().min(1).max(100_000_000).optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.inputPerMTok === undefined) !== (p.outputPerMTok === undefined))
      ctx.addIssue({ code: 'custom', path: [p.inputPerMTok === undefined ? 'inputPerMTok' : 'outputPerMTok'], message: 'set both inputPerMTok and outputPerMTok, or neither' });
    if (p.inputPerMTok === undefined && p.maxOutputTokens === undefined)
      ctx.addIssue({ code: 'custom', path: ['maxOutputTokens'], message: 'an entry needs prices (inputPerMTok and outputPerMTok), maxOutputTokens, or both' });
  });

export const rateLimitSchema = z.strictObject({
  name,
  per: subjectSchema,
  /** requests: every request; tokens: model tokens; tool_calls: MCP tools/call messages only. */
  unit: z.enum(['requests', 'tokens', 'tool_calls']),
  limit: z.int().positive().max(1e12),
  window: durationSchema.refine((ms) => ms <= 86_400_000, 'rate-limit windows are at most 1d; use a budget for longer'),
  only: z.array(z.string().min(1)).min(1).optional(),
  onStateError: onError.optional(),
});

export const anomalyFlagSchema = z.enum(['prompt_size_spike', 'burst', 'first_provider', 'first_endpoint']);

export const anomalySchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    bucket: durationSchema.default(60_000),
    alpha: z.number().gt(0).max(1).default(0.2),
    warmupRequests: z.int().min(1).max(1_000_000).default(20),
    warmupBuckets: z.int().min(1).max(100_000).default(5),
    promptSpikeFactor: z.number().gt(1).max(10_000).default(10),
    promptSpikeMinBytes: z.int().min(0).default(4_096),
    burstFactor: z.number().gt(1).max(10_000).default(5),
    burstMinRequests: z.int().min(1).default(20),
    maxDistinct: z.int().min(1).max(10_000).default(256),
    idleTtl: durationSchema.default(30 * 86_400_000),
    /** Flags that refuse the request instead of only being recorded. */
    deny: z.array(anomalyFlagSchema).default([]),
    onStateError: onError.optional(),
  })
  .prefault({});

/**
 * Hash-chained audit (telemetry/audit-chain.ts); the main schema puts this at `audit.chain`. `replica`
 * names this process's chain and must be unique per running replica (default: the host name, which
 * the runtime fills in). With a file sink, full files rotate at `rotateBytes` and the chain continues.
 */
export const auditChainSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    algorithm: z.enum(['sha256', 'hmac-sha256']).default('sha256'),
    key: secretSource.optional(),
    replica: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of letters, digits and ._:-').optional(),
    rotateBytes: z.int().min(1024).max(1024 * 1024 * 1024).default(100 * 1024 * 1024),
  })
  .superRefine((c, ctx) => {
    if (c.algorithm === 'hmac-sha256' && c.key === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'hmac-sha256 needs a key source' });
    if (c.algorithm === 'sha256' && c.key !== undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'a key is only used with algorithm hmac-sha256' });
  })
  .prefault({});


/** Top-level fields for the main schema: `...STATE_CONFIG_SHAPE` inside its strictObject. */
export const STATE_CONFIG_SHAPE = {
  state: stateSchema,
  budgets: z.array(budgetSchema).default([]),
  prices: z.array(priceSchema).default([]),
  rateLimits: z.array(rateLimitSchema).default([]),
  anomaly: anomalySchema,
};

export const stateConfigSchema = z.strictObject(STATE_CONFIG_SHAPE).superRefine((cfg, ctx) => { refineStateConfig(cfg, ctx); });

export type StateSectionConfig = z.infer<typeof stateSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type PriceConfig = z.infer<typeof priceSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type AnomalyConfig = z.infer<typeof anomalySchema>;
export type AnomalyFlag = z.infer<typeof anomalyFlagSchema>;
export type SubjectConfig = z.infer<typeof subjectSchema>;

/**
 * Cross-field checks; the main schema calls this from its superRefine (passing the whole config; it
 * reads only these fields) and adds its own: e.g. that `prices[].provider` names a configured provider.
 */
export function refineStateConfig(
  cfg: { readonly budgets: readonly BudgetConfig[]; readonly rateLimits: readonly RateLimitConfig[]; readonly prices: readonly PriceConfig[] },
  ctx: { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void },
): void {
  const seen = new Set<string>();
  const unique = (section: string, items: readonly { name: string }[]): void => {
    items.forEach((b, i) => {
      if (seen.has(b.name)) ctx.addIssue({ code: 'custom', path: [section, i, 'name'], message: `duplicate budget or rate-limit name "${b.name}"` });
      seen.add(b.name);
    });
  };
  unique('budgets', cfg.budgets);
  unique('rateLimits', cfg.rateLimits);
  cfg.budgets.forEach((b, i) => {
    if (b.metric !== 'cost' && !Number.isInteger(b.limit)) ctx.addIssue({ code: 'custom', path: ['budgets', i, 'limit'], message: `a ${b.metric === 'tokens' ? 'token' : 'tool_calls'} budget must be a whole number` });
    if (b.metric === 'cost' && !cfg.prices.some((p) => p.inputPerMTok !== undefined)) ctx.addIssue({ code: 'custom', path: ['budgets', i, 'metric'], message: 'a cost budget needs a price catalog (prices)' });
  });
}
