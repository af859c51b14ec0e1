// The shape of one posture control. The control tables (controls-*.ts) are lists of these; adding a
// control is adding a row.

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** A framework reference: OWASP NHI Top 10 (2025), OWASP Top 10 for LLM Applications 2025, NIST SP 800-207 tenet. */
export type FrameworkRef =
  | `NHI${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10}`
  | `LLM${'02' | '05' | '06' | '10'}`
  | `ZT-T${1 | 2 | 3 | 4 | 5 | 6 | 7}`;

/** One way in which the configuration falls short of a control. */
export interface Gap {
  /** What is wrong, naming providers, identities or hosts, never secret values. */
  readonly message: string;
  /** The config field that would close this gap, when more precise than the control's. */
  readonly field?: string;
  /** Overrides the control's severity for this gap (e.g. a review date in the past is worse than none). */
  readonly severity?: Severity;
}

export interface CheckContext {
  readonly now: Date;
}

export const NOT_APPLICABLE = 'not-applicable';

export interface Control {
  /** Stable id, used in JSON output and by CI filters. */
  readonly id: string;
  readonly title: string;
  readonly refs: readonly FrameworkRef[];
  readonly severity: Severity;
  /** The config field that closes the gap. */
  readonly field: string;
  /** What to set, in one sentence. */
  readonly remediation: string;
  /** Returns the gaps (empty: the control holds), or NOT_APPLICABLE. `cfg` is the parsed config, read defensively. */
  readonly check: (cfg: unknown, ctx: CheckContext) => readonly Gap[] | typeof NOT_APPLICABLE;
}
