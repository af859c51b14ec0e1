// Defensive reads over a parsed configuration. The posture report must work on every config the schema
// accepts today and on sections the schema does not have yet (dlp, identity, state, budgets, owners),
// so it reads the parsed object by path instead of through the Config type.

export type Path = readonly (string | number)[];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at `path`, or undefined when any step is missing or not an object/array. */
export function at(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (typeof key === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = (cur as unknown[])[key];
    } else {
      if (!isRecord(cur) || !Object.hasOwn(cur, key)) return undefined;
      cur = cur[key];
    }
  }
  return cur;
}

export function has(root: unknown, path: Path): boolean {
  return at(root, path) !== undefined;
}

export function str(root: unknown, path: Path): string | undefined {
  const v = at(root, path);
  return typeof v === 'string' ? v : undefined;
}

export function bool(root: unknown, path: Path): boolean | undefined {
  const v = at(root, path);
  return typeof v === 'boolean' ? v : undefined;
}

/** The array at `path` (empty when absent or not an array). */
export function list(root: unknown, path: Path): readonly unknown[] {
  const v = at(root, path);
  return Array.isArray(v) ? v : [];
}

export function record(root: unknown, path: Path): Record<string, unknown> | undefined {
  const v = at(root, path);
  return isRecord(v) ? v : undefined;
}

const LOOPBACK = new Set(['localhost', '::1', '[::1]', 'ip6-localhost']);

/** 127.0.0.0/8, ::1 and localhost. Anything else (0.0.0.0, a name, a private address) is reachable from elsewhere. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  return LOOPBACK.has(h) || /^127(\.\d{1,3}){3}$/.test(h);
}
