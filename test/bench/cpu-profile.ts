// Summaries of a V8 .cpuprofile (node --cpu-prof): self time by function and by package. Pure.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly selfMs: number;
  /** Share of all sampled time, 0..1. */
  readonly share: number;
}

/** node_modules/<pkg> (scoped too), a project folder such as extproc/processing, node:internal, or (program)/(garbage collector). */
export function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1] !== undefined) return nm[1];
  if (url.startsWith('node:')) return 'node:internal';
  const proj = /\/(extproc\/[^/]+|bin)\//.exec(url);
  if (proj?.[1] !== undefined) return proj[1];
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const i = url.search(/node_modules\/|extproc\//);
  return i >= 0 ? url.slice(i).replace(/^node_modules\//, '') : url.replace(/^file:\/\//, '');
}

/** Self time per key over the sampled period, highest first. */
export function selfTimes(p: CpuProfile, keyOf: (n: ProfileNode) => string, top = 15): SelfTime[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]!);
    const dt = p.timeDeltas[i] ?? 0;
    // Idle time is not work: shares are of busy time.
    if (node === undefined || dt <= 0 || node.callFrame.functionName === '(idle)') continue;
    const k = keyOf(node);
    totals.set(k, (totals.get(k) ?? 0) + dt);
    all += dt;
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: all > 0 ? us / all : 0 }));
}

export function byFunction(p: CpuProfile, top = 15): SelfTime[] {
  return selfTimes(p, (n) => `${n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`, top);
}

export function byPackage(p: CpuProfile, top = 12): SelfTime[] {
  return selfTimes(p, (n) => packageOf(n.callFrame.url, n.callFrame.functionName), top);
}
