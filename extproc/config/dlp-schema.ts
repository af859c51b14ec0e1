import { z } from 'zod';
import { SERVER_TOOLS } from '../core/content.ts';
import { compileLinear, CustomPatternError } from '../detectors/custom-pattern.ts';
import { BUILTIN_DETECTOR_IDS, DEFAULT_ALLOW_LIST } from '../detectors/registry.ts';
import { DEFAULT_SCAN_LIMITS } from '../detectors/scan-limits.ts';

// The `dlp` section of the policy file: which detectors run and with what options, values that are never
// findings, operator-defined detectors, what happens to each finding, and the scan caps. Custom patterns are
// compiled here, at load, on V8's linear-time engine; a pattern it cannot run fails validation with its path.

const detectorType = z.string().regex(/^[A-Z][A-Z0-9_]{0,47}$/, 'must be upper-case letters, digits and _, starting with a letter (it names placeholders such as <EMPLOYEE_ID_1>)');
const customId = z.string().regex(/^custom\.[a-z0-9][a-z0-9_.-]{0,62}$/, 'must start with "custom." followed by lower-case letters, digits, _ . -');

export const customDetectorSchema = z
  .strictObject({
    id: customId,
    type: detectorType,
    pattern: z.string().min(1).max(1024),
    validator: z.enum(['luhn', 'mod97', 'crc32']).optional(),
    contextWords: z.array(z.string().min(1).max(64)).max(64).optional(),
    contextWindow: z.int().min(1).max(256).optional(),
    keywords: z.array(z.string().min(2).max(64)).max(64).optional(),
    minLength: z.int().min(1).max(4096).optional(),
    maxLength: z.int().min(1).max(4096).default(256),
  })
  .superRefine((c, ctx) => {
    try {
      compileLinear(c.id, c.pattern);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: err instanceof CustomPatternError ? err.message : String(err) });
    }
    if (c.minLength !== undefined && c.minLength > c.maxLength) ctx.addIssue({ code: 'custom', path: ['minLength'], message: 'must not exceed maxLength' });
  });

/** Selects findings: a detector id ("secret.jwt"), a family ("secret.*", "pii.*", "custom.*"), a type ("EMAIL") or "*". */
const selector = z.string().min(1).max(128);

const scope = z.strictObject({
  tenants: z.array(z.string().min(1)).min(1).optional(),
  identities: z.array(z.string().min(1)).min(1).optional(),
  providers: z.array(z.string().min(1)).min(1).optional(),
});

const ruleBase = { detectors: z.array(selector).min(1), when: scope.optional() };

export const dlpActionSchema = z.discriminatedUnion('action', [
  z.strictObject({ ...ruleBase, action: z.literal('allow') }),
  z.strictObject({ ...ruleBase, action: z.literal('mask'), restore: z.boolean().default(false) }),
  z.strictObject({ ...ruleBase, action: z.literal('block') }),
  z.strictObject({ ...ruleBase, action: z.literal('route'), route: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a route class name such as "onprem"') }),
]);


/** Defaults when no rule matches: secrets are blocked, PII is masked (not restored). */
export const DEFAULT_DLP_ACTIONS: readonly z.input<typeof dlpActionSchema>[] = [
  { detectors: ['secret.*'], action: 'block' },
  { detectors: ['pii.*', 'custom.*'], action: 'mask', restore: false },
];

export const dlpSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    detectors: z
      .strictObject({
        /** Built-in detector ids to turn off. */
        disable: z.array(z.enum(BUILTIN_DETECTOR_IDS as [string, ...string[]])).default([]),
        /** National-id locales: us (SSN), gb (NINO), es (DNI/NIE), de (Steuer-ID). */
        locales: z.array(z.enum(['us', 'gb', 'es', 'de'])).default(['us', 'gb', 'es', 'de']),
        phone: z.strictObject({ enabled: z.boolean().default(false), requireContext: z.boolean().default(true) }).prefault({}),
        ip: z.strictObject({ enabled: z.boolean().default(false), requireContext: z.boolean().default(true), includePrivate: z.boolean().default(false) }).prefault({}),
      })
      .prefault({}),
    /** Exact values that are never findings (documentation examples). Replaces the default list when set. */
    allowList: z.array(z.string().min(1).max(4096)).max(10000).default([...DEFAULT_ALLOW_LIST]),
    custom: z.array(customDetectorSchema).max(256).default([]),
    /** First matching rule wins per finding; unmatched findings fall back to DEFAULT_DLP_ACTIONS. */
    actions: z.array(dlpActionSchema).default([]),
    limits: z
      .strictObject({
        maxInputBytes: z.int().min(1024).max(64 * 1024 * 1024).default(DEFAULT_SCAN_LIMITS.maxInputBytes),
        maxFindings: z.int().min(1).max(100000).default(DEFAULT_SCAN_LIMITS.maxFindings),
        maxScanMs: z.int().min(1).max(10000).default(DEFAULT_SCAN_LIMITS.maxScanMs),
      })
      .prefault({}),
    /** Let requests ask the provider to fetch URLs (image/document/file URLs, Gemini file URIs, Bedrock S3 locations). */
    allowProviderFetch: z.boolean().default(false),
    /** Server-side tool categories requests may enable (web search, code execution, remote MCP, ...); [] denies all. */
    allowServerTools: z.array(z.enum(SERVER_TOOLS)).default([]),
    response: z
      .strictObject({
        /** Scan responses (buffered and SSE) for leaked secrets and mask them. */
        scan: z.boolean().default(true),
        holdBack: z.int().min(16).max(4096).default(64),
        maxHoldBack: z.int().min(256).max(1024 * 1024).default(16384),
      })
      .prefault({}),
  })
  .superRefine((d, ctx) => {
    const ids = new Set<string>();
    d.custom.forEach((c, k) => {
      if (ids.has(c.id)) ctx.addIssue({ code: 'custom', path: ['custom', k, 'id'], message: `duplicate custom detector id ${c.id}` });
      ids.add(c.id);
    });
  });

export type DlpConfig = z.infer<typeof dlpSchema>;
