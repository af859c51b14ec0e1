// The hash of an MCP tool's definition, and the fields that carry invisible or control characters.
// A definition comes from an MCP server's tools/list answer, so it is hostile input: every walk is bounded
// (depth, number of values, characters), and nothing recurses deeper than MAX_DEPTH.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../telemetry/audit-chain.ts';

/** The fields a pin covers: what a client shows its model. `_meta`, `icons` and unknown fields are scanned, not hashed. */
export const HASHED_TOOL_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

export const TOOL_DEFINITION_LIMITS = Object.freeze({
  /** Nesting below the definition object (inputSchema.properties.x.items... counts each level). */
  maxDepth: 32,
  /** Values (objects, arrays, strings, numbers, booleans, nulls) in the whole definition. */
  maxValues: 10_000,
  /** Characters in all strings and keys of the definition. */
  maxChars: 256 * 1024,
  /** Characters in the tool's name. */
  maxNameChars: 256,
  /** Flagged paths reported per definition; more are summed up in one last entry. */
  maxFlags: 16,
  /** Characters of one flagged path; a longer one is cut and ends in "…". */
  maxPathChars: 200,
});

export interface ToolHash {
  readonly name: string;
  /** `sha256:` and 64 lowercase hex digits of the canonical JSON of the hashed fields. */
  readonly hash: string;
  /** Paths of the fields (values or keys) that hold invisible or control characters, e.g. `inputSchema.properties.path.description`. */
  readonly flags: readonly string[];
}

/** A definition that cannot be hashed: not an object, no usable name, not JSON, or over a limit. */
export class ToolDefinitionError extends TypeError {
  /** The tool's name when it had a string one (for audit and lists); undefined otherwise. */
  readonly toolName: string | undefined;

  constructor(message: string, toolName: string | undefined) {
    super(message);
    this.name = 'ToolDefinitionError';
    this.toolName = toolName;
  }
}

/**
 * Zero-width characters (U+200B-U+200F, U+2060-U+2064, U+FEFF), bidi embeddings, overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069), Unicode tag characters (U+E0000-U+E007F), the other invisible characters
 * with no use in a tool's text (the combining grapheme joiner U+034F, the Arabic letter mark U+061C, the
 * Mongolian vowel separator U+180E, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0), and C0 and C1 controls
 * and DEL other than tab, line feed and carriage return. Variation selectors are not flagged: an emoji takes one.
 */
// eslint-disable-next-line no-control-regex, no-misleading-character-class -- U+034F and U+180E are listed on their own on purpose
const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u034F\u061C\u115F\u1160\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\u3164\uFEFF\uFFA0\u{E0000}-\u{E007F}]/u;
// eslint-disable-next-line no-misleading-character-class -- the same class as INVISIBLE
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, 'gu');
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** True when `text` holds a character that `flags` reports. */
export function hasInvisible(text: string): boolean {
  return INVISIBLE.test(text);
}

/** A key as a path segment: `.key`, or `["k\u200by"]` with every invisible character escaped so the path prints safely. */
function segment(key: string | number): string {
  if (typeof key === 'number') return `[${key}]`;
  if (PLAIN_KEY.test(key)) return `.${key}`;
  const escaped = JSON.stringify(key).replace(INVISIBLE_ALL, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`);
  return `[${escaped}]`;
}

interface Pending { readonly value: unknown; readonly path: string; readonly depth: number }

/** `path` extended by one key or index; a top-level key has no leading dot. */
function child(path: string, key: string | number): string {
  const seg = segment(key);
  return path === '' && seg.startsWith('.') ? seg.slice(1) : path + seg;
}

/** Walks the whole definition once, iteratively: checks it is bounded JSON and collects the flagged paths. */
function scan(def: Record<string, unknown>, name: string): string[] {
  const L = TOOL_DEFINITION_LIMITS;
  const flagged = new Set<string>();
  let extra = 0;
  const flag = (full: string): void => {
    const path = full.length > L.maxPathChars ? `${full.slice(0, L.maxPathChars - 1)}…` : full;
    if (flagged.size < L.maxFlags || flagged.has(path)) flagged.add(path);
    else extra += 1;
  };
  const fail = (what: string): never => { throw new ToolDefinitionError(`tool "${name.slice(0, 64)}": definition ${what}`, name); };
  let values = 0;
  let chars = 0;
  const stack: Pending[] = [{ value: def, path: '', depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if ((values += 1) > L.maxValues) fail(`has more than ${L.maxValues} values`);
    const { value, path, depth } = item;
    if (typeof value === 'string') {
      if ((chars += value.length) > L.maxChars) fail(`has more than ${L.maxChars} characters`);
      if (hasInvisible(value)) flag(path);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail(`holds a non-finite number at ${path}`);
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= L.maxDepth) fail(`is nested deeper than ${L.maxDepth}`);
      if (Array.isArray(value) && values + stack.length + value.length > L.maxValues) fail(`has more than ${L.maxValues} values`);
      const keys: readonly (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
      if (values + stack.length + keys.length > L.maxValues) fail(`has more than ${L.maxValues} values`);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i] ?? 0;
        if (typeof k === 'string') {
          if ((chars += k.length) > L.maxChars) fail(`has more than ${L.maxChars} characters`);
          if (hasInvisible(k)) flag(child(path, k));
        }
        stack.push({ value: (value as Record<string | number, unknown>)[k], path: child(path, k), depth: depth + 1 });
      }
    } else if (typeof value !== 'boolean' && value !== null) {
      fail(`holds a ${typeof value}, which JSON has not`);
    }
  }
  const sorted = [...flagged].sort();
  if (extra > 0) sorted.push(`(${extra} more)`);
  return sorted;
}

/**
 * Hashes one tool definition from a tools/list answer: `sha256:` + hex of the canonical JSON (keys sorted by
 * UTF-16 code units at every depth, no whitespace; audit-chain.ts's form) of exactly the HASHED_TOOL_FIELDS that
 * are present. Flags cover every field, hashed or not. Throws ToolDefinitionError for a definition it cannot hash.
 */
export function hashToolDefinition(tool: unknown): ToolHash {
  if (typeof tool !== 'object' || tool === null || Array.isArray(tool)) throw new ToolDefinitionError('a tool definition must be a JSON object', undefined);
  const def = tool as Record<string, unknown>;
  const name = def.name;
  if (typeof name !== 'string' || name.length === 0) throw new ToolDefinitionError('a tool definition needs a non-empty string name', undefined);
  if (name.length > TOOL_DEFINITION_LIMITS.maxNameChars) throw new ToolDefinitionError(`a tool name has at most ${TOOL_DEFINITION_LIMITS.maxNameChars} characters`, name.slice(0, 64));
  const flags = scan(def, name);
  const hashed: Record<string, unknown> = {};
  for (const f of HASHED_TOOL_FIELDS) if (Object.hasOwn(def, f) && def[f] !== undefined) hashed[f] = def[f];
  return { name, hash: `sha256:${createHash('sha256').update(canonicalJson(hashed)).digest('hex')}`, flags };
}
