import { hmacSha256, sha256Hex } from '../core/digest.ts';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { appendFile, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Secret } from '../core/secret.ts';
import type { AuditRecord, AuditSink } from './audit.ts';

/**
 * Tamper-evident audit: every record carries `replica`, `seq` (1, 2, 3… per replica), `prev_hash` (the
 * previous record's `hash`; null for seq 1) and `hash`, a digest of the record's canonical form with
 * `hash` left out. `hash` is "sha256:<hex>", or "hmac-sha256:<hex>" keyed with a secret, so that nobody
 * without the key can re-hash an edited chain. Each replica keeps its own chain; rotation keeps it across
 * files (a new file's first record points at the previous file's last). Deleting a chain's newest
 * records or all of it is not detectable from the files alone: record the heads elsewhere.
 *
 * Canonical form: JSON with no whitespace, object keys sorted by UTF-16 code units at every depth,
 * strings and numbers as JSON.stringify writes them, array order kept, undefined members dropped — the
 * RFC 8785 (JCS) form for the values audit records hold. Files hold ordinary JSON lines; a verifier
 * re-canonicalises what it parses, so key order and spacing in the file do not matter.
 */

export type ChainAlgorithm = 'sha256' | 'hmac-sha256';

export interface ChainFields {
  readonly replica: string;
  readonly seq: number;
  readonly prev_hash: string | null;
  readonly hash: string;
}

export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export interface AuditChainOptions {
  readonly replica: string;
  readonly algorithm?: ChainAlgorithm;
  /** Required for hmac-sha256. */
  readonly key?: Secret;
  /** Continue an existing chain (e.g. after a restart) instead of starting at seq 1. */
  readonly resume?: ChainHead;
}

export function canonicalJson(value: unknown): string {
  return canon(value, undefined);
}

/** `skip` leaves out one member of the top-level object (the `hash` being computed). */
function canon(value: unknown, skip: string | undefined): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no form for a non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (value[i] === undefined ? 'null' : canon(value[i], undefined));
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as JCS does.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (k === skip || v === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${canon(v, undefined)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no form for ${typeof value}`);
  }
}

/** One MAC function per chain key, made on first use (the padded key is absorbed once, not per record). */
const macs = new WeakMap<Secret, (text: string) => Buffer>();

/** The `hash` of a record: the digest of its canonical form without the `hash` member. */
export function chainHash(record: object, algorithm: ChainAlgorithm, key: Secret | undefined): string {
  const text = canon(record, 'hash');
  if (algorithm === 'sha256') return `sha256:${sha256Hex(text)}`;
  if (key === undefined) throw new TypeError('hmac-sha256 needs a key');
  let mac = macs.get(key);
  if (mac === undefined) macs.set(key, (mac = hmacSha256(Buffer.from(key.reveal(), 'utf8'))));
  return `hmac-sha256:${mac(text).toString('hex')}`;
}

const REPLICA_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Adds the chain fields to records, in the order they are written. */
export class AuditChain {
  readonly replica: string;
  readonly #algorithm: ChainAlgorithm;
  readonly #key: Secret | undefined;
  #seq: number;
  #prev: string | null;

  constructor(options: AuditChainOptions) {
    if (!REPLICA_RE.test(options.replica)) throw new TypeError('replica must be 1-128 characters of letters, digits and ._:-');
    this.replica = options.replica;
    this.#algorithm = options.algorithm ?? 'sha256';
    this.#key = options.key;
    if (this.#algorithm === 'hmac-sha256' && this.#key === undefined) throw new TypeError('hmac-sha256 needs a key');
    this.#seq = options.resume?.seq ?? 0;
    this.#prev = options.resume?.hash ?? null;
  }

  get head(): ChainHead | undefined {
    return this.#prev === null ? undefined : { seq: this.#seq, hash: this.#prev };
  }

  next<R extends object>(record: R): R & ChainFields {
    // A `hash` the record already carries is left out of the digest and then overwritten.
    const linked = { ...record, replica: this.replica, seq: this.#seq + 1, prev_hash: this.#prev };
    const hash = chainHash(linked, this.#algorithm, this.#key);
    this.#seq += 1;
    this.#prev = hash;
    return { ...linked, hash };
  }
}

/** Wraps any sink (stdout, a file) so that what it writes is chained. */
export class ChainedAuditSink implements AuditSink {
  readonly #inner: AuditSink;
  readonly #chain: AuditChain;

  constructor(inner: AuditSink, chain: AuditChain) {
    this.#inner = inner;
    this.#chain = chain;
  }

  get head(): ChainHead | undefined {
    return this.#chain.head;
  }

  write(record: AuditRecord): void {
    this.#inner.write(this.#chain.next(record));
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }
}

export interface RotatingAuditFileOptions extends Omit<AuditChainOptions, 'resume'> {
  /** The active file; full files are renamed to `<path>.<first seq, 12 digits>`. */
  readonly path: string;
  /** Rotate before a write would take the active file past this size. */
  readonly maxBytes: number;
}

/**
 * A chained audit file with size-based rotation. On open it resumes the chain from the newest record
 * of this replica in the active file (or the newest rotated one). Writes are buffered and appended in
 * order; flush() resolves when everything written so far is on disk, and rejects if a write failed.
 */
export class RotatingAuditFile implements AuditSink {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #chain: AuditChain;
  #size: number;
  #firstSeq: number | undefined;
  #needsNewline: boolean;
  #buffer: string[] = [];
  #queue: Promise<void> = Promise.resolve();
  #scheduled = false;
  #error: Error | undefined;

  private constructor(options: RotatingAuditFileOptions, resume: Resume) {
    this.#path = options.path;
    this.#maxBytes = options.maxBytes;
    this.#chain = new AuditChain({ ...options, ...(resume.head === undefined ? {} : { resume: resume.head }) });
    this.#size = resume.size;
    this.#firstSeq = resume.firstSeq;
    this.#needsNewline = resume.partial;
  }

  static open(options: RotatingAuditFileOptions): RotatingAuditFile {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1024) throw new RangeError('maxBytes must be at least 1024');
    return new RotatingAuditFile(options, resumeFrom(options.path, options.replica));
  }

  get head(): ChainHead | undefined {
    return this.#chain.head;
  }

  write(record: AuditRecord): void {
    const chained = this.#chain.next(record);
    const line = `${this.#needsNewline ? '\n' : ''}${JSON.stringify(chained)}\n`;
    this.#needsNewline = false;
    const bytes = Buffer.byteLength(line);
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) {
      this.#enqueueBuffer();
      const rotated = `${this.#path}.${String(this.#firstSeq ?? chained.seq).padStart(12, '0')}`;
      this.#enqueue(() => rename(this.#path, rotated));
      this.#size = 0;
      this.#firstSeq = undefined;
    }
    this.#firstSeq ??= chained.seq;
    this.#size += bytes;
    this.#buffer.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => { this.#enqueueBuffer(); });
    }
  }

  async flush(): Promise<void> {
    this.#enqueueBuffer();
    await this.#queue;
    if (this.#error !== undefined) throw this.#error;
  }

  #enqueueBuffer(): void {
    this.#scheduled = false;
    if (this.#buffer.length === 0) return;
    const data = this.#buffer.join('');
    this.#buffer = [];
    this.#enqueue(() => appendFile(this.#path, data, { mode: 0o640 }));
  }

  #enqueue(op: () => Promise<void>): void {
    this.#queue = this.#queue.then(async () => {
      if (this.#error === undefined) await op().catch((err: unknown) => { this.#error = err instanceof Error ? err : new Error(String(err)); });
    });
  }
}

interface Resume {
  readonly head: ChainHead | undefined;
  readonly size: number;
  readonly firstSeq: number | undefined;
  readonly partial: boolean;
}

/** Reads up to `max` bytes at `offset` of a file. */
function readSlice(path: string, offset: number, max: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    const n = readSync(fd, buf, 0, max, offset);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function chainFieldsOf(line: string, replica: string): ChainFields | undefined {
  try {
    const v: unknown = JSON.parse(line);
    const f = v as Partial<ChainFields> | null;
    if (f !== null && typeof f === 'object' && f.replica === replica && typeof f.seq === 'number' && typeof f.hash === 'string') return f as ChainFields;
  } catch {
    // a partial line left by a crash
  }
  return undefined;
}

const TAIL_BYTES = 1 << 20;

function lastRecord(path: string, replica: string): ChainFields | undefined {
  const size = statSync(path).size;
  const lines = readSlice(path, Math.max(0, size - TAIL_BYTES), Math.min(size, TAIL_BYTES)).split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const f = chainFieldsOf(lines[i] ?? '', replica);
    if (f !== undefined) return f;
  }
  return undefined;
}

function resumeFrom(path: string, replica: string): Resume {
  const size = existsSync(path) ? statSync(path).size : 0;
  let head: ChainFields | undefined;
  let firstSeq: number | undefined;
  let partial = false;
  if (size > 0) {
    head = lastRecord(path, replica);
    partial = readSlice(path, size - 1, 1) !== '\n';
    const first = readSlice(path, 0, Math.min(size, TAIL_BYTES)).split('\n')[0] ?? '';
    firstSeq = chainFieldsOf(first, replica)?.seq;
  }
  if (head === undefined) {
    const dir = dirname(path);
    const prefix = `${basename(path)}.`;
    const rotated = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix) && /^\d{12,}$/.test(f.slice(prefix.length))).sort() : [];
    for (let i = rotated.length - 1; i >= 0 && head === undefined; i--) head = lastRecord(join(dir, rotated[i] ?? ''), replica);
  }
  return { head: head === undefined ? undefined : { seq: head.seq, hash: head.hash }, size, firstSeq, partial };
}

// ---------------------------------------------------------------------------------------------------
// Verification

export type IssueKind = 'unparseable' | 'inserted' | 'edited' | 'deleted' | 'reordered' | 'link_broken' | 'head_missing' | 'key_required';

export interface VerifyIssue {
  readonly kind: IssueKind;
  readonly file: string;
  /** 1-based line in `file`. */
  readonly line: number;
  readonly replica: string | null;
  readonly seq: number | null;
  readonly detail: string;
}

export interface ReplicaHead {
  readonly replica: string;
  readonly first_seq: number;
  readonly last_seq: number;
  readonly last_hash: string;
  readonly records: number;
  readonly file: string;
  readonly line: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly files: number;
  readonly records: number;
  readonly issues: readonly VerifyIssue[];
  readonly heads: readonly ReplicaHead[];
}

export interface VerifyOptions {
  /** The HMAC key; when given, every record must be hmac-sha256 under it. */
  readonly key?: Secret;
  /** Accept chains that start after seq 1 (older files rotated away). */
  readonly allowPartial?: boolean;
}

interface Entry {
  readonly file: string;
  readonly line: number;
  readonly f: ChainFields;
  valid: boolean;
}

const where = (e: { file: string; line: number }): string => `${e.file}:${e.line}`;

function isChainFields(v: unknown): v is ChainFields {
  const f = v as Partial<ChainFields> | null;
  return f !== null && typeof f === 'object' && !Array.isArray(f) && typeof f.replica === 'string' && Number.isSafeInteger(f.seq) && (f.seq ?? 0) >= 1
    && (f.prev_hash === null || typeof f.prev_hash === 'string') && typeof f.hash === 'string';
}

/** Checks chained audit files; see the module comment for what is and is not detectable. */
export async function verifyAuditFiles(paths: readonly string[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const issues: VerifyIssue[] = [];
  const issue = (kind: IssueKind, at: { file: string; line: number }, replica: string | null, seq: number | null, detail: string): void => {
    issues.push({ kind, file: at.file, line: at.line, replica, seq, detail });
  };
  const byReplica = new Map<string, Entry[]>();
  const keyMissing = new Map<string, { file: string; line: number }>();
  let records = 0;
  for (const file of paths) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    if (lines.at(-1) === '') lines.pop();
    let maxSeq = new Map<string, number>();
    lines.forEach((text, i) => {
      const at = { file, line: i + 1 };
      if (text.trim() === '') return;
      records += 1;
      let v: unknown;
      try { v = JSON.parse(text); } catch { issue('unparseable', at, null, null, 'not a JSON line'); return; }
      if (!isChainFields(v)) { issue('inserted', at, null, null, 'a record without valid chain fields (replica, seq, prev_hash, hash)'); return; }
      const e: Entry = { ...at, f: v, valid: true };
      const alg = v.hash.startsWith('hmac-sha256:') ? 'hmac-sha256' : v.hash.startsWith('sha256:') ? 'sha256' : undefined;
      if (options.key !== undefined && alg !== 'hmac-sha256') { e.valid = false; issue('edited', at, v.replica, v.seq, 'not hmac-sha256 under the given key'); }
      else if (alg === undefined) { e.valid = false; issue('edited', at, v.replica, v.seq, 'unknown hash algorithm'); }
      else if (alg === 'hmac-sha256' && options.key === undefined) { e.valid = false; if (!keyMissing.has(v.replica)) keyMissing.set(v.replica, at); }
      else if (chainHash(v, alg, options.key) !== v.hash) { e.valid = false; issue('edited', at, v.replica, v.seq, 'the record does not match its hash'); }
      const m = maxSeq.get(v.replica) ?? 0;
      if (v.seq < m) issue('reordered', at, v.replica, v.seq, `seq ${v.seq} comes after seq ${m} in this file`);
      maxSeq.set(v.replica, Math.max(m, v.seq));
      const list = byReplica.get(v.replica) ?? [];
      list.push(e);
      byReplica.set(v.replica, list);
    });
    maxSeq = new Map();
  }
  for (const [replica, at] of keyMissing) issue('key_required', at, replica, null, 'records are HMAC-chained; pass the key to verify them');

  const heads: ReplicaHead[] = [];
  for (const [replica, entries] of [...byReplica].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const bySeq = new Map<number, Entry[]>();
    for (const e of entries) bySeq.set(e.f.seq, [...(bySeq.get(e.f.seq) ?? []), e]);
    const seqs = [...bySeq.keys()].sort((a, b) => a - b);
    const chosen: Entry[] = [];
    for (const [i, seq] of seqs.entries()) {
      const candidates = bySeq.get(seq) ?? [];
      const prev = chosen.at(-1);
      const nextRefs = new Set((bySeq.get(seqs[i + 1] ?? -1) ?? []).map((n) => n.f.prev_hash));
      const score = (c: Entry): number => (c.valid ? 4 : 0) + (prev !== undefined && c.f.prev_hash === prev.f.hash ? 2 : 0) + (nextRefs.has(c.f.hash) ? 1 : 0);
      const best = [...candidates].sort((a, b) => score(b) - score(a))[0];
      if (best === undefined) continue;
      for (const c of candidates) {
        if (c === best) continue;
        const detail = c.f.hash === best.f.hash ? `a copy of the record at ${where(best)}` : `a second record with seq ${seq}; the chain continues through ${where(best)}`;
        issue('inserted', c, replica, seq, detail);
      }
      chosen.push(best);
    }
    const first = chosen[0];
    const last = chosen.at(-1);
    if (first === undefined || last === undefined) continue;
    if ((first.f.seq !== 1 || first.f.prev_hash !== null) && options.allowPartial !== true)
      issue('head_missing', first, replica, first.f.seq, `the chain starts at seq ${first.f.seq}: earlier records are missing (or pass --allow-partial)`);
    if (first.f.seq === 1 && first.f.prev_hash !== null) issue('link_broken', first, replica, 1, 'seq 1 must have prev_hash null');
    for (let i = 1; i < chosen.length; i++) {
      const a = chosen[i - 1];
      const b = chosen[i];
      if (a === undefined || b === undefined) continue;
      if (b.f.seq > a.f.seq + 1) {
        const missing = b.f.seq - a.f.seq - 1;
        issue('deleted', b, replica, b.f.seq, `${missing} record${missing === 1 ? '' : 's'} missing (seq ${a.f.seq + 1}${missing === 1 ? '' : `..${b.f.seq - 1}`}) between ${where(a)} and ${where(b)}`);
      } else if (b.f.prev_hash !== a.f.hash && a.valid && b.valid) {
        issue('link_broken', b, replica, b.f.seq, `prev_hash does not match seq ${a.f.seq} at ${where(a)}: that record was replaced and re-hashed`);
      }
    }
    heads.push({ replica, first_seq: first.f.seq, last_seq: last.f.seq, last_hash: last.f.hash, records: entries.length, file: last.file, line: last.line });
  }
  issues.sort((x, y) => (x.file === y.file ? x.line - y.line : paths.indexOf(x.file) - paths.indexOf(y.file)));
  return { ok: issues.length === 0, files: paths.length, records, issues, heads };
}
