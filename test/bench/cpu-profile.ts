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

/**
 * How a sample's stack is put in a phase: the rules are tried in order, and within a rule the stack from
 * its root (the outermost frame first); the first frame a rule matches names the phase. So start-up wins
 * over everything, the outermost ext_proc phase module holds what it calls (detectors, audit, ...), and
 * library code (grpc-js, protobufjs, node:internal) belongs to the Tollgate frame that called it.
 */
export interface PhaseRule {
  /** Tested on the frame's URL. */
  readonly test: RegExp;
  /** When given, the frame's function name must match it too. */
  readonly name?: RegExp;
  /** The phase name; `$1` is replaced by the first group of `test`. */
  readonly phase: string;
}

export const PHASE_RULES: readonly PhaseRule[] = [
  { test: /^node:internal\/modules\//, phase: 'start-up (module loading)' },
  { test: /\/extproc\/processing\/steps\/([a-z0-9-]+)\.ts$/, phase: 'ext_proc step $1' },
  { test: /\/extproc\/authz\//, phase: 'ext_authz Check' },
  { test: /\/extproc\/processing\//, phase: 'ext_proc stream (session, outside the steps)' },
  { test: /\/test\/bench\/floor-service\.ts$/, phase: 'floor handlers' },
  { test: /\/extproc\//, phase: 'Tollgate, other (server, telemetry, timers)' },
];

/**
 * The same samples by the kind of work instead of the request phase, for "where does Tollgate's own cost go":
 * the answers' writes (grpc-js and HTTP/2 under Tollgate's write calls, which the floor makes as well), digests,
 * metrics, the audit record, the DLP scan, JSON parsing, then what is left of Check and of ext_proc, and the
 * protobuf decoding of what Envoy sent (generated decoders, no Tollgate frame needed).
 */
export const WORK_RULES: readonly PhaseRule[] = [
  { test: /^node:internal\/modules\//, phase: 'start-up (module loading)' },
  { test: /\/extproc\/processing\/stream-handler\.ts$/, name: /^write$/, phase: 'writing ext_proc answers (grpc-js, HTTP/2)' },
  { test: /\/extproc\/server\/grpc-server\.ts$/, name: /callback/, phase: 'writing Check answers (grpc-js, HTTP/2)' },
  { test: /\/extproc\/core\/digest\.ts$/, phase: 'HMAC and SHA-256' },
  { test: /\/node_modules\/prom-client\//, phase: 'metrics (prom-client)' },
  { test: /\/extproc\/telemetry\/audit/, phase: 'audit record (build, serialize, write)' },
  { test: /\/extproc\/(?:detectors|redactors)\//, phase: 'DLP scan (request and response)' },
  { test: /\/extproc\/providers\/shared\/(?:strict-json|request-walk)\.ts$/, phase: 'JSON parse and walk' },
  { test: /^$/, name: /\$(?:decode|toObject)$/, phase: 'decoding what Envoy sent (protobuf)' },
  { test: /\/extproc\/authz\//, phase: 'Check, the rest (identity, policy, seal)' },
  { test: /\/extproc\/processing\//, phase: 'ext_proc, the rest (session, steps, answers built)' },
  { test: /\/test\/bench\/floor-service\.ts$/, phase: 'floor handlers' },
  { test: /\/extproc\//, phase: 'Tollgate, other (server, telemetry, timers)' },
];

/** Samples with no rule: gRPC transport (grpc-js, HTTP/2, protobuf), the event loop and Node internals. */
export const TRANSPORT_PHASE = 'transport and runtime (no Tollgate frame)';
export const STARTUP_PHASE = 'start-up (module loading)';

/**
 * The bench probe's wrappers sit between grpc-js and protobufjs on every message: they are transparent
 * (the decoding under them is transport, as without the probe); only the probe's own frames are its own.
 */
const PROBE_FRAME = /\/test\/bench\/probe(?:-stats)?\.ts$/;

/**
 * Frames that only pass a message through to its decoder: the probe's wrappers, and Tollgate's Process decoder
 * (wire/proto.ts), which splits the forwarded metadata off before the generic decoding. What runs under them is
 * decoding (transport), as it was before either existed.
 */
const passThrough = (f: { readonly url: string; readonly functionName: string }): boolean =>
  PROBE_FRAME.test(f.url) || (f.functionName === 'requestDeserialize' && /\/extproc\/wire\/proto\.ts$/.test(f.url));
export const PROBE_PHASE = 'bench probe (its own frames)';

/** The phase of one stack, listed from its root to the sampled frame. */
export function phaseOf(stack: readonly { readonly url: string; readonly functionName: string }[], rules: readonly PhaseRule[] = PHASE_RULES): string {
  const leaf = stack.at(-1);
  if (leaf !== undefined && leaf.url === '' && leaf.functionName.startsWith('(')) {
    if (leaf.functionName === '(garbage collector)') return 'GC';
    if (stack.length === 1) return leaf.functionName === '(program)' ? 'V8 (program)' : leaf.functionName;
  }
  if (leaf !== undefined && PROBE_FRAME.test(leaf.url)) return PROBE_PHASE;
  for (const rule of rules) {
    for (const f of stack) {
      if (passThrough(f)) continue;
      const m = rule.test.exec(f.url);
      if (m !== null && (rule.name === undefined || rule.name.test(f.functionName))) return rule.phase.replace('$1', m[1] ?? '');
    }
  }
  return TRANSPORT_PHASE;
}

interface TreeNode extends ProfileNode {
  readonly children?: readonly number[];
}

/** Self time of every sample summed by the phase of its whole stack (see PHASE_RULES), highest first. */
export function byPhase(p: CpuProfile, rules: readonly PhaseRule[] = PHASE_RULES): SelfTime[] {
  const nodes = p.nodes as readonly TreeNode[];
  const parent = new Map<number, number>();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const phaseById = new Map<number, string>();
  const phaseOfNode = (id: number): string => {
    const known = phaseById.get(id);
    if (known !== undefined) return known;
    const stack: ProfileNode['callFrame'][] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      // V8's synthetic "(root)" node is not a frame.
      if (n !== undefined && n.callFrame.functionName !== '(root)') stack.push(n.callFrame);
    }
    const phase = phaseOf(stack.reverse(), rules);
    phaseById.set(id, phase);
    return phase;
  };
  return selfTimes(p, (n) => phaseOfNode(n.id), Number.MAX_SAFE_INTEGER);
}
