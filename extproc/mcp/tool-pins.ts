// Tool-definition pinning (issue 16): the hash of every tool an MCP server lists is compared with its pin, a
// reviewed one from the config or one trusted on first use and kept in the state store (shared by replicas).
// What a verdict means for lists and calls (hide, deny, shadow) is the policy's business, not this module's.
import type { McpPinsConfig } from '../config/mcp-pins-schema.ts';
import { TOOL_PIN_RE } from '../config/mcp-pins-schema.ts';
import { StateUnavailableError } from '../state/state-errors.ts';
import type { StateStore, ToolHashSighting } from '../state/state-store.ts';
import { hashToolDefinition, ToolDefinitionError, type ToolHash } from './tool-hash.ts';

export { hashToolDefinition, ToolDefinitionError, type ToolHash } from './tool-hash.ts';

/**
 * pinned: the definition is the pinned one. first_use: no pin existed; this sighting pinned it (trust on first
 * use). changed: the definition differs from its pin. unpinned: no reviewed pin and trust on first use is off.
 * unseen (calls only): no tools/list of this server has shown the tool yet. invalid: the definition could not be
 * hashed (not an object, no name, over a size limit, listed twice with different definitions) or the server has
 * more tools than Tollgate keeps pins for.
 */
export type ToolPinStatus = 'pinned' | 'first_use' | 'changed' | 'unpinned' | 'unseen' | 'invalid';

export interface ToolPinVerdict {
  /** The tool's name ('' when the definition had none). */
  readonly name: string;
  readonly status: ToolPinStatus;
  /** The pin the definition was compared with (the old hash when changed). */
  readonly pinned?: string;
  readonly pinSource?: 'reviewed' | 'tofu';
  /** The definition's hash now; '' when unseen or invalid. */
  readonly current: string;
  /** Paths of fields holding invisible or control characters (see tool-hash.ts). */
  readonly flags: readonly string[];
  /** Why the status is invalid. */
  readonly reason?: string;
}

/** One server's pin settings: McpPinsConfig after parsing, or the same shape written by hand (defaults apply). */
export interface ServerPins {
  readonly pins?: Readonly<Record<string, string>> | undefined;
  readonly trustOnFirstUse?: boolean;
}

export interface ToolPinRegistryOptions {
  /** Distinct tool names kept per server (the store never expires pins). Default 2,000. */
  readonly maxToolsPerServer?: number;
}

interface Settings { readonly pins: ReadonlyMap<string, string>; readonly tofu: boolean }

/** A hashed tool, or one that could not be hashed. */
type Sighted = ToolHash & { readonly reason?: undefined } | { readonly name: string; readonly hash: ''; readonly flags: readonly string[]; readonly reason: string };

/** The last-seen value in the store: the hash and flags, or why the definition was refused. */
interface SeenRecord { readonly h?: string; readonly f?: readonly string[]; readonly x?: string }

function encodeSeen(t: Sighted): string {
  return JSON.stringify(t.reason === undefined ? { h: t.hash, f: t.flags } : { x: t.reason });
}

function decodeSeen(text: string): Sighted & { readonly name: '' } {
  let v: unknown;
  try { v = JSON.parse(text); } catch (err) { throw new StateUnavailableError('decode', 'error', { cause: err }); }
  const r = (typeof v === 'object' && v !== null ? v : {}) as SeenRecord;
  if (typeof r.x === 'string') return { name: '', hash: '', flags: [], reason: r.x };
  if (typeof r.h !== 'string' || !TOOL_PIN_RE.test(r.h) || !Array.isArray(r.f) || !r.f.every((f) => typeof f === 'string')) {
    throw new StateUnavailableError('decode', 'error');
  }
  return { name: '', hash: r.h, flags: r.f };
}

/** Hashes each listed tool; a name listed twice with different definitions makes both entries invalid. */
function sight(tools: readonly unknown[]): Sighted[] {
  const out: Sighted[] = tools.map((tool) => {
    try {
      return hashToolDefinition(tool);
    } catch (err) {
      if (!(err instanceof ToolDefinitionError)) throw err;
      return { name: err.toolName ?? '', hash: '', flags: [], reason: err.message };
    }
  });
  const hashes = new Map<string, Set<string>>();
  for (const t of out) {
    const set = hashes.get(t.name) ?? new Set<string>();
    set.add(t.hash); // '' for a definition that could not be hashed
    hashes.set(t.name, set);
  }
  return out.map((t) => (t.name !== '' && (hashes.get(t.name)?.size ?? 0) > 1
    ? { name: t.name, hash: '', flags: [], reason: `tool "${t.name.slice(0, 64)}" is listed twice with different definitions` }
    : t));
}

/** The verdict for a definition hashed `t`, given the reviewed pin, the trust-on-first-use pin and whether this sighting set it. */
function judge(t: Sighted, s: Settings, tofuPin: string | undefined, pinnedNow: boolean): ToolPinVerdict {
  const base = { name: t.name, current: t.hash, flags: t.flags };
  if (t.reason !== undefined) return { ...base, status: 'invalid', reason: t.reason };
  const reviewed = s.pins.get(t.name);
  if (reviewed !== undefined) return { ...base, status: t.hash === reviewed ? 'pinned' : 'changed', pinned: reviewed, pinSource: 'reviewed' };
  if (!s.tofu || tofuPin === undefined) return { ...base, status: s.tofu ? 'first_use' : 'unpinned' };
  const status = pinnedNow ? 'first_use' : t.hash === tofuPin ? 'pinned' : 'changed';
  return { ...base, status, pinned: tofuPin, pinSource: 'tofu' };
}

export class ToolPinRegistry {
  readonly #store: StateStore;
  readonly #servers: ReadonlyMap<string, Settings>;
  readonly #maxTools: number;

  /** `servers`: per MCP server name, its reviewed pins and trust-on-first-use setting (default on). */
  constructor(store: StateStore, servers: Readonly<Record<string, ServerPins | McpPinsConfig>>, options: ToolPinRegistryOptions = {}) {
    this.#store = store;
    this.#maxTools = options.maxToolsPerServer ?? 2_000;
    const map = new Map<string, Settings>();
    for (const [server, cfg] of Object.entries(servers)) {
      const pins = new Map(Object.entries(cfg.pins ?? {}));
      for (const [tool, pin] of pins) if (!TOOL_PIN_RE.test(pin)) throw new RangeError(`MCP server ${server}: the pin of tool ${JSON.stringify(tool)} is not sha256:<64 hex>`);
      map.set(server, { pins, tofu: cfg.trustOnFirstUse ?? true });
    }
    this.#servers = map;
  }

  #settings(server: string): Settings {
    const s = this.#servers.get(server);
    if (s === undefined) throw new RangeError(`no pin settings for MCP server ${JSON.stringify(server)}`);
    return s;
  }

  /**
   * One tools/list page of `server`: records each tool's hash as last seen, pins first sightings when trusting on
   * first use, and returns a verdict per entry of `tools`, in order. Throws StateUnavailableError when the store
   * cannot answer (fail closed: the caller refuses the list).
   */
  async observeList(server: string, tools: readonly unknown[]): Promise<readonly ToolPinVerdict[]> {
    const s = this.#settings(server);
    const sighted = sight(tools);
    // One sighting per name (a name listed twice has the same hash both times, or both entries are invalid).
    const byName = new Map<string, number>();
    const sightings: ToolHashSighting[] = [];
    for (const t of sighted) {
      if (t.name === '' || byName.has(t.name)) continue;
      byName.set(t.name, sightings.length);
      const pinIfAbsent = s.tofu && t.reason === undefined && !s.pins.has(t.name) ? t.hash : undefined;
      sightings.push({ name: t.name, seen: encodeSeen(t), pinIfAbsent });
    }
    const records = await this.#store.observeToolHashes(server, sightings, this.#maxTools);
    const verdicts = sighted.map((t) => {
      const r = records[byName.get(t.name) ?? -1];
      if (r === undefined) return judge(t, s, undefined, false);
      if (!r.recorded) return { name: t.name, status: 'invalid' as const, current: t.hash, flags: t.flags, reason: `MCP server has more than ${this.#maxTools} tools` };
      return judge(t, s, r.pin, r.pinned);
    });
    return verdicts;
  }

  /** The verdict for a call to `toolName`, from the last definition any replica saw in a tools/list. */
  async verdictForCall(server: string, toolName: string): Promise<ToolPinVerdict> {
    const s = this.#settings(server);
    const { pin, seen } = await this.#store.toolHashes(server, toolName);
    if (seen === undefined) {
      const reviewed = s.pins.get(toolName);
      return { name: toolName, status: 'unseen', current: '', flags: [], ...(reviewed === undefined ? {} : { pinned: reviewed, pinSource: 'reviewed' as const }) };
    }
    const verdict = judge({ ...decodeSeen(seen), name: toolName }, s, pin, false);
    // A tool seen while trust on first use was off has no pin to compare with.
    return verdict.status === 'first_use' ? { ...verdict, status: 'unpinned' } : verdict;
  }

  /**
   * Verdicts for a list without recording anything (the review CLI): first_use here means "would be pinned on
   * first use". Reads each tool's pin from the store.
   */
  async assessList(server: string, tools: readonly unknown[]): Promise<readonly ToolPinVerdict[]> {
    const s = this.#settings(server);
    const out: ToolPinVerdict[] = [];
    for (const t of sight(tools)) {
      const pin = t.name === '' || !s.tofu ? undefined : (await this.#store.toolHashes(server, t.name)).pin;
      out.push(judge(t, s, pin, false));
    }
    return out;
  }
}
