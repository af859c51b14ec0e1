// Per-process resources from /proc: CPU time (utime + stime) and peak resident set (VmHWM).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** utime + stime in clock ticks, from the text of /proc/<pid>/stat. The command name may hold spaces and parentheses. */
export function parseStatTicks(text: string): number {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('proc stat: no command name');
  // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error(`proc stat: bad utime/stime in ${text.slice(0, 200)}`);
  return utime + stime;
}

/** A `Vm*:` field of /proc/<pid>/status, in bytes. */
export function parseStatusKb(text: string, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m?.[1] === undefined) throw new Error(`proc status: no ${field}`);
  return Number(m[1]) * 1024;
}

let clkTck: number | undefined;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux unless told otherwise). */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(out.stdout.trim());
    clkTck = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number {
  return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicksPerSecond();
}

export function peakRssBytes(pid: number): number {
  return parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
}

export function rssBytes(pid: number): number {
  return parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
}

/** Resets VmHWM to the current RSS (Linux >= 4.0, our own children only), so a window's peak is its own. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy and total clock ticks of all CPUs, from the first line of /proc/stat. */
export function parseCpuTotals(text: string): { busy: number; total: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('proc stat: no cpu line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error(`proc stat: bad cpu line ${line}`);
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice).
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Busy CPU seconds of the whole machine so far. */
export function machineBusySeconds(): number {
  return parseCpuTotals(readFileSync('/proc/stat', 'utf8')).busy / clockTicksPerSecond();
}
