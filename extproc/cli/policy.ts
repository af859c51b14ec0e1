import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { explain, explainRequestSchema, formatExplanation, type Explanation } from '../policy/explain.ts';
import { compilePolicy, PolicyCompileError, type Policy } from '../policy/policy.ts';

// `tollgate policy check|test|explain`: the `opa test` habit for Tollgate policy files. Everything is
// offline: no credential file, environment variable, JWKS or Vault is read.

/** A policy file that loads but fails `check`, or a test run with failures: exit 1, the report on stderr. */
export class PolicyCheckFailed extends Error {
  override readonly name = 'PolicyCheckFailed';
}

export interface CheckReport {
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly policy: Policy;
  readonly config: Config;
}

const today = (now: Date): string => now.toISOString().slice(0, 10);

/** Loads the file and compiles the policy (schema, CEL), as `serve` would; ConfigError on either failing. */
export function loadPolicy(path: string): { config: Config; policy: Policy } {
  const config = loadConfigFile(path);
  try {
    return { config, policy: compilePolicy(config) };
  } catch (err) {
    if (err instanceof PolicyCompileError) throw new ConfigError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Ownership and review rules: every identity and provider (and so its credential source) names an
 * `owner`, unless an unexpired `policy.waivers` entry with `rule: owner` lists it; a `reviewBy` in
 * the past, an expired waiver and a waiver that names nothing are warnings.
 */
export function ownershipFindings(config: Config, now: Date): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const day = today(now);
  const waived = new Set<string>();
  const entries: { key: string; owner: unknown; reviewBy: string | undefined }[] = [
    ...config.identities.map((i) => ({ key: `identities[${i.id}]`, owner: i.owner, reviewBy: i.reviewBy })),
    ...config.providers.map((p) => ({ key: `providers[${p.name}]`, owner: p.owner, reviewBy: p.reviewBy })),
  ];
  const known = new Set(entries.map((e) => e.key));
  config.policy.waivers.forEach((w, i) => {
    if (w.until < day) {
      warnings.push(`policy.waivers[${i}]: expired on ${w.until}; it no longer waives ${w.entries.join(', ')}`);
      return;
    }
    for (const e of w.entries) {
      if (!known.has(e)) warnings.push(`policy.waivers[${i}]: ${e} names no identity or provider`);
      waived.add(`${w.rule}:${e}`);
    }
  });
  for (const e of entries) {
    if (e.owner === undefined && !waived.has(`owner:${e.key}`)) errors.push(`${e.key}: no owner (add owner: {team, contact}, or a policy.waivers entry with rule owner)`);
    if (e.reviewBy !== undefined && e.reviewBy < day) warnings.push(`${e.key}: reviewBy ${e.reviewBy} is in the past`);
  }
  return { errors, warnings };
}

/** `policy check FILE`: schema, CEL compilation, ownership. */
export function checkPolicy(path: string, now = new Date()): CheckReport {
  const { config, policy } = loadPolicy(path);
  return { ...ownershipFindings(config, now), policy, config };
}

export function formatCheck(path: string, r: CheckReport): string {
  const lines = [
    ...r.errors.map((e) => `error: ${e}`),
    ...r.warnings.map((w) => `warning: ${w}`),
    `${path}: ${r.errors.length === 0 ? 'ok' : 'FAILED'} (${r.config.providers.length} providers, ${r.config.identities.length} identities, ${r.errors.length} errors, ${r.warnings.length} warnings, revision ${r.policy.revision})`,
  ];
  return `${lines.join('\n')}\n`;
}

const expectSchema = z.strictObject({
  decision: z.enum(['allow', 'deny', 'shadow-deny']),
  rule: z.string().min(1).optional(),
  reason: z.string().min(1).optional(),
});

export const policyTestFileSchema = z.strictObject({
  cases: z
    .array(z.strictObject({ name: z.string().min(1).max(256), request: explainRequestSchema, expect: expectSchema }))
    .min(1),
});
export type PolicyTestFile = z.output<typeof policyTestFileSchema>;

export interface CaseResult {
  readonly name: string;
  readonly pass: boolean;
  /** What differed, e.g. "decision: expected deny, got allow". */
  readonly mismatches: readonly string[];
  readonly explanation: Explanation;
}

/** Reads a YAML or JSON file (JSON is YAML) and validates it against `schema`; ConfigError with the field on failure. */
function readStructured<T extends z.ZodType>(path: string, schema: T): z.output<T> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`, { cause: err });
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new ConfigError(`${path}: invalid\n${z.prettifyError(r.error)}`);
  return r.data;
}

/** Runs every case of a test file against a compiled policy. */
export function runPolicyTests(policy: Policy, tests: PolicyTestFile): CaseResult[] {
  return tests.cases.map((c) => {
    const e = explain(policy, c.request);
    const mismatches: string[] = [];
    if (e.outcome.decision !== c.expect.decision) mismatches.push(`decision: expected ${c.expect.decision}, got ${e.outcome.decision}`);
    if (c.expect.rule !== undefined && e.outcome.rule !== c.expect.rule) mismatches.push(`rule: expected ${c.expect.rule}, got ${e.outcome.rule}`);
    if (c.expect.reason !== undefined && e.outcome.reason !== c.expect.reason) mismatches.push(`reason: expected ${c.expect.reason}, got ${e.outcome.reason}`);
    return { name: c.name, pass: mismatches.length === 0, mismatches, explanation: e };
  });
}

/** `opa test`-style output: one line per case, the mismatches of failures, and the totals. */
export function formatTestResults(testsPath: string, results: readonly CaseResult[]): string {
  const lines = [`${testsPath}:`];
  for (const r of results) {
    lines.push(`${r.name}: ${r.pass ? 'PASS' : 'FAIL'}`);
    if (!r.pass) {
      for (const m of r.mismatches) lines.push(`  ${m}`);
      lines.push(`  decided by ${r.explanation.outcome.rule} (${r.explanation.outcome.reason})`);
    }
  }
  const passed = results.filter((r) => r.pass).length;
  lines.push('-'.repeat(80));
  lines.push(`PASS: ${passed}/${results.length}`);
  if (passed < results.length) lines.push(`FAIL: ${results.length - passed}/${results.length}`);
  return `${lines.join('\n')}\n`;
}

/** `policy test FILE TESTS`: the report; throws PolicyCheckFailed (exit 1) carrying it when a case fails. */
export function testPolicy(path: string, testsPath: string): string {
  const { policy } = loadPolicy(path);
  const results = runPolicyTests(policy, readStructured(testsPath, policyTestFileSchema));
  const out = formatTestResults(testsPath, results);
  if (results.some((r) => !r.pass)) throw new PolicyCheckFailed(out);
  return out;
}

/** `policy explain FILE REQUEST.json`. */
export function explainPolicy(path: string, requestPath: string): string {
  const { policy } = loadPolicy(path);
  return formatExplanation(explain(policy, readStructured(requestPath, explainRequestSchema)));
}

/** `policy check FILE`: the report; throws PolicyCheckFailed (exit 1) carrying it when a rule fails. */
export function runPolicyCheck(path: string, now = new Date()): string {
  const report = checkPolicy(path, now);
  const out = formatCheck(path, report);
  if (report.errors.length > 0) throw new PolicyCheckFailed(out);
  return out;
}
