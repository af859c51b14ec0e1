// Leak masking and placeholder restore over every string leaf of a parsed response document (a buffered body,
// or one stream event). Nothing is skipped for not being known: every string value is scanned. Protected
// fields (protected-fields.ts) are scanned but never changed; a finding in one is reported as `blocked` and the
// caller refuses the response. Logprobs lists ({token, bytes, top_logprobs} entries) are scanned as one text,
// the tokens in order, so a value split across tokens is found; where a mask or a restored value lands, the
// affected tokens are rewritten (the mask goes into the first of them, the others become "") and their `bytes`
// and `top_logprobs` are dropped, so neither can rebuild the value. The document is edited in place.
import type { Finding, TextSegment } from '../core/content.ts';
import { ScanBudget } from '../detectors/scan-limits.ts';
import type { Scanner } from '../detectors/scanner.ts';
import { maskText } from './mask.ts';
import { isSignedText, type ProtectedTest } from './protected-fields.ts';
import { RestoreMap } from './restore-map.ts';
import { restoreEdits, restoreText } from './restore.ts';
import { leakMark } from './stream-scanner.ts';
import { TaggedText, type Edit, type Run } from './tagged-text.ts';

type Holder = Record<string, unknown> | unknown[];

interface Leaf {
  readonly holder: Holder;
  readonly key: string | number;
  readonly text: string;
  readonly protected: boolean;
  /** Signed reasoning text: masked, never restored. */
  readonly signed: boolean;
}

export interface LeafOptions {
  /** Scan and mask leaks (omit to only restore). */
  readonly scanner?: Scanner | undefined;
  /** Restore the request's placeholders in leaves that are neither protected nor signed reasoning text (omit to only scan). */
  readonly restore?: RestoreMap | undefined;
  readonly isProtected: ProtectedTest;
  /** Fields another stage handles (stream deltas): neither scanned nor restored here. */
  readonly skip?: (holder: object, key: string | number) => boolean;
  /**
   * Treat logprobs as token sequences: lists of {token} entries, and legacy completions `tokens` arrays (lists whose
   * tokens are skipped stay with the stage that skips them).
   */
  readonly tokenLists?: boolean;
  /**
   * Short texts already scanned clean in this response (a stream repeats its ids, model and object names in
   * every event): not scanned again, and added to. The scanner is deterministic, so the result is the same.
   */
  readonly clean?: Set<string>;
}

/** Bounds of the clean-text cache: entries, and the length of a text worth remembering. */
const CLEAN_ENTRIES = 256;
const CLEAN_TEXT = 128;

export interface LeafResult {
  /** Whether any leaf changed (the document must be serialised again). */
  readonly changed: boolean;
  /** Leaks masked, by type. */
  readonly masked: Finding[];
  /** A finding in a protected field: the response must be refused. */
  readonly blocked: Finding | undefined;
  readonly restored: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A logprobs list: a non-empty array of objects that each hold a string "token". */
export function isTokenList(v: unknown): v is Record<string, unknown>[] {
  return Array.isArray(v) && v.length > 0 && v.every((e) => isObj(e) && typeof e['token'] === 'string');
}

/** After a token changed: its byte values and alternatives could spell the old text, so they go. */
export function dropTokenDetail(entry: Record<string, unknown>): void {
  if ('bytes' in entry) entry['bytes'] = null;
  if ('top_logprobs' in entry) entry['top_logprobs'] = [];
}

/**
 * Legacy completions logprobs ({tokens: [string], token_logprobs, top_logprobs: [{token: logprob}], text_offset}):
 * the token array, or undefined for any other object.
 */
export function legacyTokens(v: Record<string, unknown>): string[] | undefined {
  const t = v['tokens'];
  if (!Array.isArray(t) || t.length === 0 || !('token_logprobs' in v || 'text_offset' in v)) return undefined;
  const tokens: unknown[] = t;
  return tokens.every((x) => typeof x === 'string') ? (tokens) : undefined;
}

/** After a legacy token changed: its alternatives (keyed by token text) go. */
export function dropLegacyDetail(logprobs: Record<string, unknown>, i: number): void {
  const top = logprobs['top_logprobs'];
  if (Array.isArray(top) && i < top.length) top[i] = null;
}

/** A token sequence: the tokens in order, and how to write one back (dropping what could spell the old text). */
interface TokenSeq {
  readonly tokens: readonly string[];
  set(i: number, text: string): void;
}

interface Walked {
  readonly leaves: Leaf[];
  readonly sequences: TokenSeq[];
}

function walk(doc: unknown, o: LeafOptions): Walked {
  const leaves: Leaf[] = [];
  const sequences: TokenSeq[] = [];
  const skipped = (holder: object, key: string | number): boolean => o.skip?.(holder, key) === true;
  // `seq`: an entry of a logprobs list handled as a sequence (its "token" is not a leaf of its own).
  const stack: { v: unknown; key: string | number | undefined; prot: boolean; seq: boolean }[] = [{ v: doc, key: undefined, prot: false, seq: false }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, key: parentKey, prot, seq } = item;
    if (Array.isArray(v)) {
      const arr: unknown[] = v;
      // Alternatives (top_logprobs) are not a sequence: each is scanned as a leaf, and dropped with its token.
      // A list whose tokens are stream deltas (skipped here) goes through the channels instead.
      const list = o.tokenLists === true && !prot && parentKey !== 'top_logprobs' && isTokenList(arr) && !skipped(arr[0] as object, 'token');
      if (list) {
        const entries = arr;
        sequences.push({
          tokens: entries.map((e) => e['token'] as string),
          set: (i, text) => {
            const e = entries[i];
            if (e === undefined) return;
            e['token'] = text;
            dropTokenDetail(e);
          },
        });
      }
      for (let i = 0; i < arr.length; i++) {
        const x = arr[i];
        if (skipped(arr, i)) continue;
        if (typeof x === 'string') leaves.push({ holder: arr, key: i, text: x, protected: prot, signed: false });
        else if (typeof x === 'object' && x !== null) stack.push({ v: x, key: parentKey, prot, seq: list });
      }
    } else if (isObj(v)) {
      const type = typeof v['type'] === 'string' ? v['type'] : undefined;
      const legacy = o.tokenLists === true && !prot ? legacyTokens(v) : undefined;
      if (legacy !== undefined && !skipped(legacy, 0)) {
        sequences.push({
          tokens: [...legacy],
          set: (i, text) => {
            legacy[i] = text;
            dropLegacyDetail(v, i);
          },
        });
      }
      for (const k of Object.keys(v)) {
        const x = v[k];
        if (skipped(v, k) || (seq && k === 'token') || (legacy !== undefined && x === legacy)) continue;
        const p = prot || o.isProtected(k, type, parentKey);
        if (typeof x === 'string') leaves.push({ holder: v, key: k, text: x, protected: p, signed: isSignedText(k, type, parentKey) });
        else if (typeof x === 'object' && x !== null) stack.push({ v: x, key: k, prot: p, seq: false });
      }
    }
  }
  return { leaves, sequences };
}

/** Masks leaks and restores placeholders in `doc` in place. Throws ScanLimitError past the scan caps. */
export function processLeaves(doc: unknown, o: LeafOptions, budget?: ScanBudget): LeafResult {
  const { leaves, sequences } = walk(doc, o);
  const masked: Finding[] = [];
  let blocked: Finding | undefined;
  let restored = 0;
  let changed = false;
  const scanner = o.scanner;
  const b = scanner === undefined ? undefined : (budget ?? new ScanBudget(scanner.limits));
  const byLeaf = new Map<number, Finding[]>();
  if (scanner !== undefined && b !== undefined && leaves.length > 0) {
    const clean = o.clean;
    const todo = clean === undefined ? leaves.map((_, k) => k) : leaves.flatMap((l, k) => (clean.has(l.text) ? [] : [k]));
    const segments: TextSegment[] = todo.map((k) => ({ path: [], text: leaves[k]?.text ?? '', role: 'other' }));
    const found = segments.length === 0 ? [] : scanner.scanSegments(segments, b);
    if (clean !== undefined) {
      const hit = new Set(found.map((f) => f.segment));
      segments.forEach((seg, j) => {
        if (!hit.has(j) && seg.text.length <= CLEAN_TEXT && clean.size < CLEAN_ENTRIES) clean.add(seg.text);
      });
    }
    for (const f of found) {
      const k = todo[f.segment ?? -1] ?? -1;
      const leaf = leaves[k];
      if (leaf === undefined) continue;
      if (leaf.protected) {
        blocked ??= f;
        continue;
      }
      const list = byLeaf.get(k) ?? [];
      list.push(f);
      byLeaf.set(k, list);
    }
  }
  if (blocked !== undefined) return { changed: false, masked, blocked, restored };
  const none = new RestoreMap();
  leaves.forEach((leaf, k) => {
    if (leaf.protected) return;
    let text = leaf.text;
    const found = byLeaf.get(k);
    if (found !== undefined) {
      text = maskText(text, found, none, leakMark);
      masked.push(...found);
    }
    if (o.restore !== undefined && o.restore.size > 0 && !leaf.signed) {
      const r = restoreText(text, o.restore);
      restored += r.restored;
      text = r.text;
    }
    if (text !== leaf.text) {
      (leaf.holder as Record<string | number, unknown>)[leaf.key] = text;
      changed = true;
    }
  });
  for (const seq of sequences) {
    const r = processTokens(seq, scanner, b, o.restore);
    masked.push(...r.masked);
    restored += r.restored;
    changed ||= r.changed;
  }
  return { changed, masked, blocked, restored };
}

/** One token sequence as one text: mask, restore, and put the result back token by token. */
function processTokens(seq: TokenSeq, scanner: Scanner | undefined, budget: ScanBudget | undefined, restore: RestoreMap | undefined): { changed: boolean; masked: Finding[]; restored: number } {
  let runs: Run[] = seq.tokens.map((text, tag) => ({ tag, text }));
  const masked: Finding[] = [];
  let restored = 0;
  const pass = (edits: (text: string) => Edit[]): void => {
    const t = new TaggedText();
    t.append(runs);
    runs = t.take(t.length, edits(t.text));
  };
  if (scanner !== undefined && budget !== undefined) {
    pass((text) => {
      const found = scanner.scan(text, budget);
      masked.push(...found);
      return [...found].sort((x, y) => x.start - y.start).map((f) => ({ start: f.start, end: f.end, text: leakMark(f.type) }));
    });
  }
  if (restore !== undefined && restore.size > 0) {
    pass((text) => {
      const { edits } = restoreEdits(text, restore);
      restored += edits.length;
      return edits;
    });
  }
  if (masked.length === 0 && restored === 0) return { changed: false, masked, restored };
  const out: string[] = seq.tokens.map(() => '');
  for (const r of runs) out[r.tag] = (out[r.tag] ?? '') + r.text;
  let changed = false;
  seq.tokens.forEach((token, i) => {
    const text = out[i] ?? '';
    if (text === token) return;
    seq.set(i, text);
    changed = true;
  });
  return { changed, masked, restored };
}
