// Runs the control table over a parsed configuration and renders the result for people (text) or CI (JSON).
import { NOT_APPLICABLE, SEVERITIES, severityRank, type CheckContext, type Control, type FrameworkRef, type Severity } from './control.ts';
import { CONTROLS } from './controls.ts';
import { FRAMEWORK_TITLES } from './frameworks.ts';

export type ControlStatus = 'pass' | 'gap' | 'not-applicable';

export interface FindingDetail {
  readonly message: string;
  readonly severity: Severity;
  readonly field: string;
}

export interface ControlResult {
  readonly id: string;
  readonly title: string;
  readonly status: ControlStatus;
  /** The highest severity among the details, or the control's nominal severity when there are none. */
  readonly severity: Severity;
  readonly refs: readonly FrameworkRef[];
  readonly field: string;
  readonly remediation: string;
  readonly details: readonly FindingDetail[];
}

export interface PostureReport {
  readonly source: string;
  readonly failOn: Severity | 'never';
  /** True when any gap is at or above failOn. */
  readonly failed: boolean;
  readonly summary: {
    readonly controls: number;
    readonly pass: number;
    readonly gap: number;
    readonly notApplicable: number;
    readonly gapsBySeverity: Readonly<Record<Severity, number>>;
  };
  readonly results: readonly ControlResult[];
}

export interface AssessOptions {
  readonly source: string;
  readonly failOn: Severity | 'never';
  readonly now?: Date;
  readonly controls?: readonly Control[];
}

/** A control whose check throws is reported as a gap of its own severity, never as a pass. */
function runControl(control: Control, cfg: unknown, ctx: CheckContext): ControlResult {
  let outcome;
  try {
    outcome = control.check(cfg, ctx);
  } catch (err) {
    outcome = [{ message: `the check failed: ${err instanceof Error ? err.name : 'error'}; treat as a gap` }];
  }
  const base = { id: control.id, title: control.title, refs: control.refs, field: control.field, remediation: control.remediation };
  if (outcome === NOT_APPLICABLE) return { ...base, status: 'not-applicable', severity: control.severity, details: [] };
  const details = outcome.map((g) => ({ message: g.message, severity: g.severity ?? control.severity, field: g.field ?? control.field }));
  if (details.length === 0) return { ...base, status: 'pass', severity: control.severity, details };
  const worst = details.reduce<Severity>((w, d) => (severityRank(d.severity) > severityRank(w) ? d.severity : w), 'low');
  return { ...base, status: 'gap', severity: worst, details };
}

export function assessPosture(cfg: unknown, opts: AssessOptions): PostureReport {
  const ctx: CheckContext = { now: opts.now ?? new Date() };
  const results = (opts.controls ?? CONTROLS).map((c) => runControl(c, cfg, ctx));
  const gapsBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const r of results) for (const d of r.status === 'gap' ? r.details : []) gapsBySeverity[d.severity] += 1;
  const threshold = opts.failOn === 'never' ? Infinity : severityRank(opts.failOn);
  const failed = results.some((r) => r.status === 'gap' && severityRank(r.severity) >= threshold);
  const count = (s: ControlStatus): number => results.filter((r) => r.status === s).length;
  return {
    source: opts.source,
    failOn: opts.failOn,
    failed,
    summary: { controls: results.length, pass: count('pass'), gap: count('gap'), notApplicable: count('not-applicable'), gapsBySeverity },
    results,
  };
}

const ORDER: Record<ControlStatus, number> = { gap: 0, pass: 1, 'not-applicable': 2 };

/** Gaps first (worst first), then passes, then controls that do not apply; table order within each. */
function sorted(results: readonly ControlResult[]): ControlResult[] {
  return results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => ORDER[a.r.status] - ORDER[b.r.status] || (a.r.status === 'gap' ? severityRank(b.r.severity) - severityRank(a.r.severity) : 0) || a.i - b.i)
    .map(({ r }) => r);
}

export function formatPostureText(report: PostureReport): string {
  const s = report.summary;
  const bySev = [...SEVERITIES].reverse().filter((k) => s.gapsBySeverity[k] > 0).map((k) => `${s.gapsBySeverity[k]} ${k}`);
  const lines = [
    `Tollgate posture: ${report.source}`,
    `${s.controls} controls: ${s.pass} pass, ${s.gap} with gaps${bySev.length > 0 ? ` (${bySev.join(', ')} findings)` : ''}, ${s.notApplicable} not applicable`,
    report.failOn === 'never' ? 'fail-on: never' : `fail-on: ${report.failOn} → ${report.failed ? 'FAIL' : 'ok'}`,
    '',
  ];
  for (const r of sorted(report.results)) {
    const tag = r.status === 'gap' ? `GAP  ${r.severity.padEnd(8)}` : r.status === 'pass' ? 'PASS          ' : 'N/A           ';
    lines.push(`${tag} ${r.id}: ${r.title}`);
    if (r.status !== 'gap') continue;
    lines.push(`               refs: ${r.refs.map((ref) => FRAMEWORK_TITLES[ref]).join('; ')}`);
    for (const d of r.details) lines.push(`               - [${d.severity}] ${d.message} (field: ${d.field})`);
    lines.push(`               fix: ${r.remediation}`);
  }
  return lines.join('\n') + '\n';
}

export function formatPostureJson(report: PostureReport): string {
  const frameworks = Object.fromEntries([...new Set(report.results.flatMap((r) => r.refs))].sort().map((ref) => [ref, FRAMEWORK_TITLES[ref]]));
  return JSON.stringify({ ...report, results: sorted(report.results), frameworks }, null, 2) + '\n';
}
