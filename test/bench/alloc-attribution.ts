// Who allocates and who spends CPU, per request, in an in-process profile (test/bench/alloc-profile.ts). Pure.
//
// Every sample is put on one side by its whole stack: `tollgate` if any frame is Tollgate's own code
// (extproc/), and then named after the nearest such frame (the deepest one), so grpc-js or protobufjs work that
// Tollgate called (serialising its answer) is charged to the Tollgate function that called it; else `driver` if a
// frame is the driver's (test/) or grpc-js's client side; else `grpc` if a frame is grpc-js, protobufjs or
// node:http2 (the server receiving and decoding); else `runtime` (event loop, GC, V8).
import type { CpuProfile } from './cpu-profile.ts';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

/** A V8 sampling heap profile (HeapProfiler.stopSampling, or a .heapprofile file). */
export interface HeapProfileNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly HeapProfileNode[];
}
export interface HeapProfile {
  readonly head: HeapProfileNode;
}

export const SIDES = ['tollgate', 'grpc', 'driver', 'runtime'] as const;
export type Side = (typeof SIDES)[number];

const TOLLGATE = /\/extproc\//;
const DRIVER = /\/test\/|\/@grpc\/grpc-js\/build\/src\/(?:client|call|resolving-call|load-balancing-call|retrying-call|internal-channel|channel|subchannel[a-z-]*|transport|resolver[a-z-]*|load-balancer[a-z-]*)\.js$/;
const GRPC = /\/node_modules\/(?:@grpc\/|protobufjs\/|@protobufjs\/|@bufbuild\/protobuf\/)|^node:(?:internal\/)?http2/;

/** `name file:line`, the file from extproc/, node_modules/ or test/ on. */
export function frameName(f: CallFrame): string {
  const i = f.url.search(/(?:extproc|node_modules|test)\//);
  return `${f.functionName === '' ? '(anonymous)' : f.functionName} ${i >= 0 ? f.url.slice(i) : f.url}:${f.lineNumber + 1}`;
}

/** The side of one stack (root first) and, on Tollgate's side, the nearest Tollgate frame. */
export function sideOf(stack: readonly CallFrame[]): { readonly side: Side; readonly frame?: CallFrame } {
  for (let i = stack.length - 1; i >= 0; i--) if (TOLLGATE.test(stack[i]!.url)) return { side: 'tollgate', frame: stack[i]! };
  if (stack.some((f) => DRIVER.test(f.url))) return { side: 'driver' };
  if (stack.some((f) => GRPC.test(f.url))) return { side: 'grpc' };
  return { side: 'runtime' };
}

export interface Attribution {
  /** Per request: KB of heap (allocation) or µs of CPU. */
  readonly perRequest: Readonly<Record<Side, number>>;
  /** Tollgate's functions (nearest Tollgate frame), per request, highest first. */
  readonly functions: readonly { readonly name: string; readonly perRequest: number }[];
}

function attribution(entries: Iterable<readonly [readonly CallFrame[], number]>, divisor: number, top: number): Attribution {
  const sides: Record<Side, number> = { tollgate: 0, grpc: 0, driver: 0, runtime: 0 };
  const fns = new Map<string, number>();
  for (const [stack, amount] of entries) {
    const { side, frame } = sideOf(stack);
    sides[side] += amount / divisor;
    if (frame !== undefined) fns.set(frameName(frame), (fns.get(frameName(frame)) ?? 0) + amount / divisor);
  }
  const functions = [...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, perRequest]) => ({ name, perRequest }));
  return { perRequest: sides, functions };
}

function* heapSamples(node: HeapProfileNode, stack: CallFrame[]): Generator<readonly [readonly CallFrame[], number]> {
  // V8's synthetic "(root)" is not a frame.
  const here = node.callFrame.functionName === '(root)' ? stack : [...stack, node.callFrame];
  if (node.selfSize > 0) yield [here, node.selfSize];
  for (const c of node.children) yield* heapSamples(c, here);
}

/** Allocated KB per request by side, and Tollgate's top functions. */
export function heapAttribution(p: HeapProfile, requests: number, top = 20): Attribution {
  return attribution(heapSamples(p.head, []), 1024 * requests, top);
}

interface CpuNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

function* cpuSamples(p: CpuProfile): Generator<readonly [readonly CallFrame[], number]> {
  const nodes = p.nodes as readonly CpuNode[];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id);
    // Idle is not work.
    if (leaf === undefined || us <= 0 || leaf.callFrame.functionName === '(idle)') continue;
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n !== undefined && n.callFrame.functionName !== '(root)') stack.push(n.callFrame);
    }
    yield [stack.reverse(), us];
  }
}

/** CPU µs per request by side (idle left out), and Tollgate's top functions. */
export function cpuAttribution(p: CpuProfile, requests: number, top = 20): Attribution {
  return attribution(cpuSamples(p), requests, top);
}

/** The two attributions as text: one line of sides, then Tollgate's functions. */
export function formatAttribution(title: string, unit: string, a: Attribution): string {
  const sides = SIDES.map((s) => `${s} ${a.perRequest[s].toFixed(1)}`).join(', ');
  const fns = a.functions.map((f) => `  ${f.perRequest.toFixed(2).padStart(9)} ${unit}  ${f.name}`).join('\n');
  return `${title} (${unit}/request): ${sides}\n${fns}\n`;
}
