// Caps on one scan. Exceeding any of them fails closed: the scanner throws ScanLimitError, which the caller
// maps to a denial (catalogue code scan_limit_exceeded) instead of letting unscanned content through.

export interface ScanLimits {
  /** UTF-8 bytes of text scanned for one request (all segments together). */
  readonly maxInputBytes: number;
  /** Findings for one request, after overlapping hits are merged. */
  readonly maxFindings: number;
  /** Wall-clock milliseconds for one request's scan. */
  readonly maxScanMs: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = Object.freeze({ maxInputBytes: 8 * 1024 * 1024, maxFindings: 1000, maxScanMs: 100 });

export type ScanLimitKind = 'input_bytes' | 'findings' | 'time';

export class ScanLimitError extends Error {
  readonly code = 'scan_limit_exceeded';
  readonly limit: ScanLimitKind;
  constructor(limit: ScanLimitKind, detail: string) {
    super(`scan_limit_exceeded: ${limit}: ${detail}`);
    this.name = 'ScanLimitError';
    this.limit = limit;
  }
}

/** What is left of the limits during one request's scan; shared by all its segments. */
export class ScanBudget {
  readonly limits: ScanLimits;
  readonly deadline: number;
  bytes = 0;
  findings = 0;

  constructor(limits: ScanLimits, now: number = performance.now()) {
    this.limits = limits;
    this.deadline = now + limits.maxScanMs;
  }

  /** Before scanning: a text with more characters than the bytes left is over the cap whatever its encoding. */
  precheck(text: string): void {
    if (this.bytes + text.length > this.limits.maxInputBytes) throw new ScanLimitError('input_bytes', `more than ${this.limits.maxInputBytes} bytes`);
  }

  /** After scanning: the exact UTF-8 size the scanner counted. */
  addBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxInputBytes) throw new ScanLimitError('input_bytes', `more than ${this.limits.maxInputBytes} bytes`);
  }

  addFindings(n: number): void {
    this.findings += n;
    if (this.findings > this.limits.maxFindings) throw new ScanLimitError('findings', `more than ${this.limits.maxFindings} findings`);
  }

  checkTime(): void {
    if (performance.now() > this.deadline) throw new ScanLimitError('time', `scan took longer than ${this.limits.maxScanMs} ms`);
  }
}
