// Caps on one scan. Exceeding any of them fails closed: the scanner throws ScanLimitError, which the caller
// maps to a denial (catalogue code scan_limit_exceeded) instead of letting unscanned content through.

export interface ScanLimits {
  /** UTF-8 bytes of text scanned for one request (all segments together). */
  readonly maxInputBytes: number;
  /** Findings for one request, after overlapping hits are merged. */
  readonly maxFindings: number;
  /**
   * Milliseconds of CPU time one request's scan may take on Tollgate's thread. Time the thread did not run (a
   * loaded machine, other processes) does not count: a busy host must not turn into refused requests.
   */
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

/** CPU time this thread has used, in milliseconds (user and system). */
export function threadCpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}

// The CPU clock as last read, and when (wall clock). A scan's start takes this reading when it is under 1 ms old,
// so the many short scans of a stream (one per SSE event) do not each pay a system call. The reading is earlier than
// the scan's true start, so it only ever counts up to 1 ms more CPU against the scan, never less.
let readAtWall = Number.NEGATIVE_INFINITY;
let readCpu = 0;

function cpuAtStart(now: number): number {
  if (now - readAtWall > 1) {
    readAtWall = now;
    readCpu = threadCpuMs();
  }
  return readCpu;
}

/** What is left of the limits during one request's scan; shared by all its segments. */
export class ScanBudget {
  readonly limits: ScanLimits;
  /** The CPU clock (threadCpuMs) when the scan began. */
  readonly cpuStart: number;
  /** Wall-clock time before which the CPU budget cannot be spent: checkTime reads the CPU clock only after it. */
  #wallDeadline: number;
  bytes = 0;
  findings = 0;

  constructor(limits: ScanLimits, now: number = performance.now(), cpuStart: number = cpuAtStart(now)) {
    this.limits = limits;
    this.cpuStart = cpuStart;
    this.#wallDeadline = now + limits.maxScanMs;
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

  /**
   * Throws once the scan has used more than maxScanMs of CPU. Cheap while the wall clock says the budget
   * cannot be spent yet (CPU time never runs faster than the wall clock); after that, the thread's CPU clock
   * decides, and a scan that was only waiting for the CPU gets a new wall-clock bound for what it has left.
   */
  checkTime(): void {
    const now = performance.now();
    if (now <= this.#wallDeadline) return;
    const used = threadCpuMs() - this.cpuStart;
    if (used > this.limits.maxScanMs) throw new ScanLimitError('time', `scan took longer than ${this.limits.maxScanMs} ms of CPU`);
    this.#wallDeadline = now + (this.limits.maxScanMs - used);
  }
}
