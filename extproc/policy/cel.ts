import type { CelEnv, CelInput } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import type { RE2JS } from '@bufbuild/re2';
import { lazyModule } from '../core/lazy.ts';

// Loaded on first use: a policy without conditions never pays for the CEL runtime (about 30 MB RSS).
const cel = lazyModule<typeof import('@bufbuild/cel')>('@bufbuild/cel');
const wkt = lazyModule<typeof import('@bufbuild/protobuf/wkt')>('@bufbuild/protobuf/wkt');
const re2 = lazyModule<typeof import('@bufbuild/re2')>('@bufbuild/re2');

/**
 * CEL policy conditions, compiled once at load and evaluated against one plain request document.
 *
 * What @bufbuild/cel 0.6 gives: a parser, a planner (compile once, evaluate many times), the
 * standard library, and `matches` on its own RE2 engine (linear time, so no ReDoS). What it lacks,
 * added here so that neither a hostile policy nor a hostile request can stall the service:
 *
 * - At compile: expression length, AST node count and depth; only the declared document roots as
 *   free variables (typos fail at load, not per request); only an allow-list of functions; a
 *   literal pattern for `matches` (compiled once here, cached); at most 2 nested comprehensions;
 *   and a static worst-case cost bound. The bound assumes every input is at its size limit:
 *   each node costs 1, string-scanning functions cost maxStringBytes/1024, and a comprehension
 *   multiplies its body by the largest list it may range over (maxListLength for input lists,
 *   times the number of list concatenations in the range). An expression over `maxCost` is refused.
 * - At evaluation: the input document is converted once per request (`prepareDocument`) with caps
 *   on string length, list length, map size, depth and total nodes; integers become CEL ints, a
 *   `Date` becomes a timestamp. These caps are what make the static bound true.
 * - The enforced budget is the static cost, not wall-clock time. JavaScript cannot pre-empt a
 *   synchronous evaluation, so a wall-clock check only discards work already done; and measured on
 *   a loaded host, it turned GC pauses and cold paths (the first `getHours("UTC")` took 70 ms) into
 *   random denials. Calibration on this library: about 0.7 µs per cost unit, so the default
 *   maxCost 50 000 bounds an admitted expression at roughly 35 ms of CPU on the largest input;
 *   two nested comprehensions over input lists (128 × 128 iterations) are refused. Each result
 *   carries its elapsed time and a `slow` flag (over `slowEvalMs`) for metrics.
 * - The result must be a bool. Anything else, any CEL error (a missing map key included; use
 *   `has()` or `in`), a limit hit, or an exception is an evaluation error, which the caller treats
 *   as deny (fail closed).
 */

export interface CelLimits {
  readonly maxExpressionLength: number;
  readonly maxAstNodes: number;
  readonly maxAstDepth: number;
  readonly maxComprehensionNesting: number;
  readonly maxCost: number;
  readonly maxStringBytes: number;
  readonly maxListLength: number;
  readonly maxMapEntries: number;
  readonly maxDocumentNodes: number;
  readonly maxDocumentDepth: number;
  /** Evaluations slower than this are flagged `slow` (for a metric or log); see the header for why they are not denied. */
  readonly slowEvalMs: number;
  readonly maxPatternLength: number;
}

export const DEFAULT_CEL_LIMITS: CelLimits = Object.freeze({
  maxExpressionLength: 4_096,
  maxAstNodes: 512,
  maxAstDepth: 32,
  maxComprehensionNesting: 2,
  maxCost: 50_000,
  maxStringBytes: 16_384,
  maxListLength: 128,
  maxMapEntries: 128,
  maxDocumentNodes: 10_000,
  maxDocumentDepth: 12,
  slowEvalMs: 10,
  maxPatternLength: 512,
});

/** The document roots a condition may name. */
export const DOCUMENT_ROOTS = ['identity', 'claims', 'tenant', 'request', 'time', 'findings', 'usage', 'mcp'] as const;

const OPERATORS = [
  '_&&_', '_||_', '!_', '_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '_+_', '_-_', '_*_', '_/_', '_%_', '-_',
  '_?_:_', '_[_]', '@in', '@not_strictly_false',
];
const FUNCTIONS = [
  'size', 'contains', 'startsWith', 'endsWith', 'matches', 'int', 'uint', 'double', 'string', 'bool', 'bytes',
  'timestamp', 'duration', 'dyn', 'type',
  'getFullYear', 'getMonth', 'getDayOfYear', 'getDayOfMonth', 'getDate', 'getDayOfWeek', 'getHours', 'getMinutes',
  'getSeconds', 'getMilliseconds',
];
const ALLOWED_FUNCTIONS = new Set([...OPERATORS, ...FUNCTIONS]);
/** Functions whose cost grows with string length. */
const STRING_SCANNING = new Set(['contains', 'startsWith', 'endsWith', 'matches', '_+_', '_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '@in', 'string']);

export class CelCompileError extends Error {
  override readonly name = 'CelCompileError';
  readonly expressionName: string;
  readonly line: number;
  readonly column: number;

  constructor(expressionName: string, line: number, column: number, message: string) {
    super(`condition ${expressionName}: ${message} (line ${line}, column ${column})`);
    this.expressionName = expressionName;
    this.line = line;
    this.column = column;
  }
}

export class CelInputError extends Error {
  override readonly name = 'CelInputError';
}

export type CelEvalResult =
  | { readonly ok: true; readonly value: boolean; readonly micros: number; readonly slow: boolean }
  | { readonly ok: false; readonly error: string; readonly micros: number; readonly slow: boolean };

/** A request document converted for CEL once per request and shared by every condition. */
export interface PreparedDocument {
  readonly bindings: Readonly<Record<string, CelInput>>;
}

const compiledPatterns = new Map<string, RE2JS>();

let env: CelEnv | undefined;
const ENV = (): CelEnv => {
  env ??= cel().celEnv({
    re2: {
      compile(pattern: string) {
        // Patterns are literals checked and compiled at load; anything else is refused.
        const re = compiledPatterns.get(pattern);
        if (re === undefined) throw new Error('matches() needs a literal pattern');
        return { test: (text: string) => re.test(text) };
      },
    },
  });
  return env;
};

export class CelCondition {
  readonly name: string;
  readonly source: string;
  /** The static worst-case cost bound this expression was admitted with. */
  readonly cost: number;
  readonly #run: (ctx: Record<string, CelInput>) => unknown;
  readonly #limits: CelLimits;

  private constructor(name: string, source: string, cost: number, run: (ctx: Record<string, CelInput>) => unknown, limits: CelLimits) {
    this.name = name;
    this.source = source;
    this.cost = cost;
    this.#run = run;
    this.#limits = limits;
  }

  /** Compiles `source`; throws CelCompileError naming the expression and the position. */
  static compile(name: string, source: string, limits: CelLimits = DEFAULT_CEL_LIMITS): CelCondition {
    if (source.length > limits.maxExpressionLength)
      throw new CelCompileError(name, 1, 1, `expression is ${source.length} characters; the limit is ${limits.maxExpressionLength}`);
    let parsed: ReturnType<ReturnType<typeof cel>['parse']>;
    try {
      parsed = cel().parse(source);
    } catch (err) {
      const loc = (err as { location?: { start?: { line?: number; column?: number } } }).location?.start;
      const raw = (err as { rawMessage?: unknown }).rawMessage;
      const msg = err instanceof RangeError ? 'expression is nested too deeply' : typeof raw === 'string' ? raw : err instanceof Error ? err.message : 'unparseable';
      throw new CelCompileError(name, loc?.line ?? 1, loc?.column ?? 1, `syntax error: ${msg}`);
    }
    const positions = parsed.sourceInfo?.positions ?? {};
    const at = (e: Expr): [number, number] => lineCol(source, positions[e.id.toString()] ?? 0);
    const cost = new Analyzer(limits, (e, msg) => { const [l, c] = at(e); return new CelCompileError(name, l, c, msg); }).check(parsed.expr);
    const run = cel().plan(ENV(), parsed) as (ctx: Record<string, CelInput>) => unknown;
    return new CelCondition(name, source, cost, run, limits);
  }

  /** Evaluates against a prepared document. Never throws; any non-bool outcome is an error (deny). */
  evaluate(doc: PreparedDocument): CelEvalResult {
    const t0 = performance.now();
    let out: unknown;
    let threw: string | undefined;
    try {
      out = this.#run(doc.bindings);
    } catch (err) {
      threw = `evaluation threw: ${(err as Error).message.slice(0, 200)}`;
    }
    const ms = performance.now() - t0;
    const timing = { micros: ms * 1000, slow: ms > this.#limits.slowEvalMs };
    if (threw !== undefined) return { ok: false, error: threw, ...timing };
    if (cel().isCelError(out)) return { ok: false, error: `evaluation error: ${out.message.slice(0, 200)}`, ...timing };
    if (typeof out !== 'boolean') return { ok: false, error: `result is ${describeValue(out)}, not a bool`, ...timing };
    return { ok: true, value: out, ...timing };
  }
}

class Analyzer {
  readonly #limits: CelLimits;
  readonly #err: (e: Expr, msg: string) => CelCompileError;
  #nodes = 0;

  constructor(limits: CelLimits, err: (e: Expr, msg: string) => CelCompileError) {
    this.#limits = limits;
    this.#err = err;
  }

  check(root: Expr): number {
    const cost = this.#walk(root, 1, new Set(), 0);
    if (cost > this.#limits.maxCost) throw this.#err(root, `worst-case cost ${cost} exceeds the limit ${this.#limits.maxCost} (nested comprehensions over large lists?)`);
    return cost;
  }

  /** Returns the worst-case cost of `e` evaluated once. */
  #walk(e: Expr, depth: number, bound: ReadonlySet<string>, nesting: number): number {
    if (++this.#nodes > this.#limits.maxAstNodes) throw this.#err(e, `expression has more than ${this.#limits.maxAstNodes} nodes`);
    if (depth > this.#limits.maxAstDepth) throw this.#err(e, `expression is nested deeper than ${this.#limits.maxAstDepth}`);
    const k = e.exprKind;
    const sub = (x: Expr | undefined, b = bound, n = nesting): number => (x === undefined ? 0 : this.#walk(x, depth + 1, b, n));
    switch (k.case) {
      case 'constExpr':
        return 1;
      case 'identExpr':
        if (!bound.has(k.value.name) && !(DOCUMENT_ROOTS as readonly string[]).includes(k.value.name))
          throw this.#err(e, `unknown variable "${k.value.name}" (the document has ${DOCUMENT_ROOTS.join(', ')})`);
        return 1;
      case 'selectExpr':
        return 1 + sub(k.value.operand);
      case 'listExpr':
        return 1 + k.value.elements.reduce((s, x) => s + sub(x), 0);
      case 'structExpr':
        if (k.value.messageName !== '') throw this.#err(e, 'message construction is not supported');
        return 1 + k.value.entries.reduce((s, x) => s + sub(x.keyKind.case === 'mapKey' ? x.keyKind.value : undefined) + sub(x.value), 0);
      case 'callExpr': {
        const fn = k.value.function;
        if (!ALLOWED_FUNCTIONS.has(fn)) throw this.#err(e, `unknown or disallowed function "${fn}"`);
        if (fn === 'matches') this.#checkPattern(e, k.value.args[k.value.target === undefined ? 1 : 0]);
        const own = STRING_SCANNING.has(fn) ? Math.ceil(this.#limits.maxStringBytes / 1024) : 1;
        return own + sub(k.value.target) + k.value.args.reduce((s, x) => s + sub(x), 0);
      }
      case 'comprehensionExpr': {
        const c = k.value;
        if (nesting + 1 > this.#limits.maxComprehensionNesting)
          throw this.#err(e, `comprehensions are nested deeper than ${this.#limits.maxComprehensionNesting}`);
        const inner = new Set(bound);
        inner.add(c.iterVar);
        if (c.iterVar2 !== '') inner.add(c.iterVar2);
        inner.add(c.accuVar);
        const range = this.#rangeBound(c.iterRange);
        const rangeCost = sub(c.iterRange);
        const perIteration = sub(c.loopCondition, inner, nesting + 1) + sub(c.loopStep, inner, nesting + 1);
        return 1 + rangeCost + sub(c.accuInit) + range * perIteration + sub(c.result, inner, nesting + 1);
      }
      case undefined:
        throw this.#err(e, 'empty expression');
    }
    return 1;
  }

  /** The largest list a comprehension range may produce. */
  #rangeBound(range: Expr | undefined): number {
    if (range === undefined) return 0;
    if (range.exprKind.case === 'listExpr') return range.exprKind.value.elements.length;
    let concats = 0;
    const count = (x: Expr | undefined): void => {
      if (x === undefined) return;
      const k = x.exprKind;
      if (k.case === 'callExpr') {
        if (k.value.function === '_+_') concats++;
        count(k.value.target);
        k.value.args.forEach(count);
      } else if (k.case === 'selectExpr') {
        count(k.value.operand);
      } else if (k.case === 'listExpr') {
        k.value.elements.forEach(count);
      }
    };
    count(range);
    return Math.max(this.#limits.maxListLength, this.#limits.maxMapEntries) * (concats + 1);
  }

  #checkPattern(call: Expr, arg: Expr | undefined): void {
    const k = arg?.exprKind;
    if (k?.case !== 'constExpr' || k.value.constantKind.case !== 'stringValue')
      throw this.#err(call, 'matches() needs a string literal pattern');
    const pattern = k.value.constantKind.value;
    if (pattern.length > this.#limits.maxPatternLength) throw this.#err(call, `pattern is longer than ${this.#limits.maxPatternLength} characters`);
    if (!compiledPatterns.has(pattern)) {
      try {
        compiledPatterns.set(pattern, re2().RE2JS.compile(pattern));
      } catch (err) {
        throw this.#err(call, `invalid RE2 pattern: ${(err as Error).message.slice(0, 200)}`);
      }
    }
  }
}

/**
 * Converts a plain JS request document for CEL, enforcing the input limits. Integers (safe) become
 * CEL ints, other numbers doubles, Dates timestamps, arrays lists, plain objects maps. Throws
 * CelInputError naming the path of the first value over a limit.
 */
export function prepareDocument(doc: Readonly<Record<string, unknown>>, limits: CelLimits = DEFAULT_CEL_LIMITS): PreparedDocument {
  let nodes = 0;
  const conv = (v: unknown, path: string, depth: number): CelInput => {
    if (++nodes > limits.maxDocumentNodes) throw new CelInputError(`document has more than ${limits.maxDocumentNodes} values`);
    if (depth > limits.maxDocumentDepth) throw new CelInputError(`${path} is nested deeper than ${limits.maxDocumentDepth}`);
    switch (typeof v) {
      case 'string':
        if (v.length > limits.maxStringBytes) throw new CelInputError(`${path} is longer than ${limits.maxStringBytes} characters`);
        return v;
      case 'boolean':
        return v;
      case 'bigint':
        return v;
      case 'number':
        if (!Number.isFinite(v)) throw new CelInputError(`${path} is not a finite number`);
        return Number.isSafeInteger(v) ? BigInt(v) : v;
      case 'object': {
        if (v === null) return null;
        if (v instanceof Date) return wkt().timestampFromMs(v.getTime());
        if (Array.isArray(v)) {
          if (v.length > limits.maxListLength) throw new CelInputError(`${path} has more than ${limits.maxListLength} elements`);
          return cel().celList(v.map((x, i) => conv(x, `${path}[${i}]`, depth + 1)));
        }
        const entries = Object.entries(v);
        if (entries.length > limits.maxMapEntries) throw new CelInputError(`${path} has more than ${limits.maxMapEntries} entries`);
        const m = new Map<string, CelInput>();
        for (const [key, x] of entries) {
          if (x === undefined) continue;
          if (key.length > limits.maxStringBytes) throw new CelInputError(`a key in ${path} is too long`);
          m.set(key, conv(x, `${path}.${key.slice(0, 64)}`, depth + 1));
        }
        return cel().celMap(m);
      }
      default:
        throw new CelInputError(`${path} has unsupported type ${typeof v}`);
    }
  };
  const bindings: Record<string, CelInput> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!(DOCUMENT_ROOTS as readonly string[]).includes(k)) throw new CelInputError(`unknown document root "${k}"`);
    if (v !== undefined) bindings[k] = conv(v, k, 1);
  }
  return { bindings: Object.freeze(bindings) };
}

function lineCol(source: string, offset: number): [number, number] {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return [line, offset - before.lastIndexOf('\n')];
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'a list' : 'an object';
  return `a ${typeof v}`;
}
