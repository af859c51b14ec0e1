// `audit verify`: an intact multi-file, two-replica chain passes; each kind of tampering is reported at
// its file and line; the HMAC variant rejects a chain re-hashed without the key; the CLI's exit codes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AUDIT_VERIFY_USAGE, runAuditVerify } from '../../extproc/cli/audit-verify.ts';
import { Secret } from '../../extproc/core/secret.ts';
import { AuditChain, RotatingAuditFile, chainHash, verifyAuditFiles, type IssueKind } from '../../extproc/telemetry/audit-chain.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';

const root = mkdtempSync(join(tmpdir(), 'tg-verify-'));
after(() => { rmSync(root, { recursive: true, force: true }); });

function record(i: number, replica: string): AuditRecord {
  return {
    schema: 'tollgate.audit.v1', time: new Date(Date.UTC(2026, 0, 1) + i * 1_000).toISOString(), stage: 'proc', request_id: `${replica}-req-${i}`,
    decision_id: `dec-${i}`, identity: `agent-${i % 3}`, tenant: 'team-a', provider: 'openai', model: 'gpt-4o-mini', decision: 'allow',
    outcome: 'completed', http_status: 200, usage: { input_tokens: 10, output_tokens: i, total_tokens: 10 + i }, policy_revision: 'rev',
  } as unknown as AuditRecord;
}

type Line = Record<string, unknown> & { seq: number; hash: string; prev_hash: string | null; replica: string };
const read = (f: string): string[] => readFileSync(f, 'utf8').split('\n').filter((l) => l !== '');
const write = (f: string, lines: readonly string[]): void => { writeFileSync(f, lines.map((l) => `${l}\n`).join('')); };

/** Two replicas write interleaved lines into shared, rotated files (as a SIEM collector would). */
function buildChain(dir: string, options: { algorithm?: 'sha256' | 'hmac-sha256'; key?: Secret } = {}): string[] {
  const chains = ['r1', 'r2'].map((replica) => new AuditChain({ replica, ...options }));
  const files = ['audit.1.jsonl', 'audit.2.jsonl', 'audit.3.jsonl'].map((f) => join(dir, f));
  const lines: string[][] = [[], [], []];
  for (let i = 0; i < 60; i++) {
    const c = chains[i % 3 === 0 ? 1 : 0];
    if (c === undefined) continue;
    lines[Math.floor(i / 20)]?.push(JSON.stringify(c.next(record(i, c.replica))));
  }
  files.forEach((f, i) => { write(f, lines[i] ?? []); });
  return files;
}

let intact: string[] = [];
let n = 0;
function mkdir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
/** A fresh copy of `files` in its own directory. */
function copy(files: readonly string[]): string[] {
  const dir = mkdir(join(root, `case-${n++}`));
  return files.map((f) => { const to = join(dir, basename(f)); copyFileSync(f, to); return to; });
}

before(() => { intact = buildChain(mkdir(join(root, 'intact'))); });

describe('verifyAuditFiles on intact chains', () => {
  it('passes, and reports each replica\'s head', async () => {
    const r = await verifyAuditFiles(intact);
    assert.deepEqual([r.ok, r.files, r.records, r.issues], [true, 3, 60, []]);
    assert.deepEqual(r.heads.map((h) => [h.replica, h.first_seq, h.last_seq, h.records]), [['r1', 1, 40, 40], ['r2', 1, 20, 20]]);
    const lastR1 = read(intact[2] ?? '').map((l) => JSON.parse(l) as Line).filter((l) => l.replica === 'r1').at(-1);
    assert.equal(r.heads[0]?.last_hash, lastR1?.hash);
    assert.deepEqual([r.heads[0]?.file, r.heads[0]?.line], [intact[2], 20]);
  });
  it('does not depend on the order the files are named in', async () => {
    assert.equal((await verifyAuditFiles([...intact].reverse())).ok, true);
  });
});

// [name, mutation of the three files' lines, expected [kind, file index, line][]]
const tampering: readonly [string, (f: string[][]) => void, readonly [IssueKind, number, number][]][] = [
  // line 5 of file 2 is r2's; r2's next record (line 8) moves up to line 7, where the gap shows
  ['a deleted record', (f) => { f[1]?.splice(4, 1); }, [['deleted', 1, 7]]],
  ['the last record of a file deleted (across rotation)', (f) => { f[0]?.splice(19, 1); }, [['deleted', 1, 1]]],
  ['an edited field', (f) => { f[1]![6] = f[1]![6]!.replace('"agent-', '"intruder-'); }, [['edited', 1, 7]]],
  ['an edited and re-hashed record', (f) => {
    const rec = JSON.parse(f[2]![3]!) as Line;
    rec.identity = 'intruder';
    rec.hash = chainHash(rec, 'sha256', undefined);
    f[2]![3] = JSON.stringify(rec);
  }, [['link_broken', 2, 5]]],
  ['two records swapped', (f) => { const [a, b] = [f[0]![10]!, f[0]![11]!]; f[0]![10] = b; f[0]![11] = a; }, [['reordered', 0, 12]]],
  ['a forged record with a valid hash and a taken seq', (f) => {
    const prev = JSON.parse(f[1]![1]!) as Line;
    const forged = new AuditChain({ replica: prev.replica, resume: { seq: prev.seq, hash: prev.hash } }).next(record(999, prev.replica));
    f[1]?.splice(2, 0, JSON.stringify(forged));
  }, [['inserted', 1, 3]]],
  ['a copied (replayed) line', (f) => { f[2]?.splice(9, 0, f[0]![5]!); }, [['reordered', 2, 10], ['inserted', 2, 10]]],
  ['a plain record without chain fields', (f) => { f[0]?.splice(3, 0, JSON.stringify(record(5, 'r1'))); }, [['inserted', 0, 4]]],
  ['a line that is not JSON', (f) => { f[2]?.splice(0, 0, 'garbage'); }, [['unparseable', 2, 1]]],
  ['the first file removed', (f) => { f[0]?.splice(0); }, [['head_missing', 1, 1], ['head_missing', 1, 2]]],
];

describe('verifyAuditFiles finds tampering at its position', () => {
  for (const [name, mutate, expected] of tampering) {
    it(name, async () => {
      const files = copy(intact);
      const lines = files.map(read);
      mutate(lines);
      files.forEach((f, i) => { write(f, lines[i] ?? []); });
      const r = await verifyAuditFiles(files);
      assert.equal(r.ok, false);
      assert.deepEqual(r.issues.map((i) => [i.kind, files.indexOf(i.file), i.line]), expected, JSON.stringify(r.issues, null, 1));
    });
  }
  it('with allowPartial, a chain whose first file was rotated away is accepted', async () => {
    const r = await verifyAuditFiles(intact.slice(1), { allowPartial: true });
    assert.deepEqual([r.ok, r.heads.map((h) => h.first_seq)], [true, [14, 8]]);
  });
});

describe('HMAC-chained audit', () => {
  const key = new Secret(`chain-key-${randomUUID()}`);
  let files: string[] = [];
  before(() => { const d = mkdir(join(root, 'hmac')); files = buildChain(d, { algorithm: 'hmac-sha256', key }); });

  it('verifies with the key', async () => { assert.equal((await verifyAuditFiles(files, { key })).ok, true); });

  it('without the key it cannot vouch for the chain', async () => {
    const r = await verifyAuditFiles(files);
    assert.deepEqual([r.ok, r.issues.map((i) => [i.kind, i.replica])], [false, [['key_required', 'r2'], ['key_required', 'r1']]]);
  });

  for (const [how, rehash] of [
    ['SHA-256', (rec: Line) => chainHash(rec, 'sha256', undefined)],
    ['HMAC under a guessed key', (rec: Line) => chainHash(rec, 'hmac-sha256', new Secret('guess'))],
  ] as const) {
    it(`rejects an edit re-hashed with ${how} from the edit onward`, async () => {
      const copied = copy(files);
      const lines = copied.map(read);
      let prev: string | null = null;
      let editedAt = -1;
      lines[1] = (lines[1] ?? []).map((l, i) => {
        const rec = JSON.parse(l) as Line;
        if (rec.replica !== 'r1') return l;
        if (i < 5) { prev = rec.hash; return l; }
        if (editedAt < 0) { editedAt = i + 1; rec.identity = 'intruder'; }
        rec.prev_hash = prev;
        rec.hash = rehash(rec);
        prev = rec.hash;
        return JSON.stringify(rec);
      });
      write(copied[1] ?? '', lines[1]);
      const r = await verifyAuditFiles(copied.slice(0, 2), { key });
      assert.equal(r.ok, false);
      const first = r.issues[0];
      assert.deepEqual([first?.kind, first?.file, first?.line], ['edited', copied[1], editedAt]);
      assert.ok(r.issues.every((i) => i.file === copied[1] && i.line >= editedAt && i.replica === 'r1'), 'nothing before the edit and nothing of r2 is flagged');
      assert.equal((await verifyAuditFiles(copied.slice(0, 2))).issues.filter((i) => i.kind !== 'key_required' && i.kind !== 'link_broken').length, 0,
        'without the key, a mixed chain is at best unverifiable');
    });
  }
});

describe('tollgate audit verify', () => {
  const usage = (m: string): Error => new Error(`usage: ${m}`);

  it('exit 0 and a text report for an intact chain', async () => {
    const r = await runAuditVerify(intact, usage);
    assert.equal(r.exitCode, 0);
    assert.match(r.output, /^audit verify: 3 files, 60 records: OK\n/);
    assert.match(r.output, /r1 {2}seq 1\.\.40 \(40 records\) {2}sha256:[0-9a-f]{64} {2}at .*audit\.3\.jsonl:20/);
  });

  it('exit 1 and file:line for tampering; --json is the report', async () => {
    const files = copy(intact);
    const lines = files.map(read);
    lines[1]?.splice(4, 1);
    write(files[1] ?? '', lines[1] ?? []);
    const text = await runAuditVerify(files, usage);
    assert.equal(text.exitCode, 1);
    assert.ok(text.output.includes(`${files[1]}:7  deleted      replica r2 seq 10: 1 record missing (seq 9) between ${files[1]}:2 and ${files[1]}:7`), text.output);
    const json = await runAuditVerify(['--json', ...files], usage);
    assert.equal(json.exitCode, 1);
    const parsed = JSON.parse(json.output) as { ok: boolean; issues: { kind: string; line: number }[] };
    assert.deepEqual([parsed.ok, parsed.issues.map((i) => [i.kind, i.line])], [false, [['deleted', 7]]]);
  });

  it('reads the HMAC key from a file, and never prints it', async () => {
    const planted = `cli-key-${randomUUID()}`;
    const dir = mkdir(join(root, 'cli-hmac'));
    const files = buildChain(dir, { algorithm: 'hmac-sha256', key: new Secret(planted) });
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${planted}\n`);
    const ok = await runAuditVerify(['--key-file', keyFile, ...files], usage);
    assert.equal(ok.exitCode, 0);
    const wrongFile = join(dir, 'wrong');
    writeFileSync(wrongFile, 'wrong');
    const bad = await runAuditVerify(['--json', '--key-file', wrongFile, ...files], usage);
    assert.equal(bad.exitCode, 1);
    for (const out of [ok.output, bad.output]) assert.ok(!out.includes(planted));
  });

  it('usage errors go through the caller\'s usage handling', async () => {
    for (const args of [[], ['--nope', 'f'], ['--key-file', 'a', '--key-env', 'B', 'f']]) await assert.rejects(runAuditVerify(args, usage), /^Error: usage: /);
    assert.match(AUDIT_VERIFY_USAGE, /audit verify/);
  });

  it('the rotating file sink and the CLI agree', async () => {
    const dir = mkdir(join(root, 'rot'));
    const sink = RotatingAuditFile.open({ path: join(dir, 'a.jsonl'), maxBytes: 2_048, replica: 'solo' });
    for (let i = 0; i < 30; i++) sink.write(record(i, 'solo'));
    await sink.flush();
    const r = await runAuditVerify(readdirSync(dir).map((f) => join(dir, f)), usage);
    assert.equal(r.exitCode, 0, r.output);
    assert.equal(r.report.heads[0]?.last_seq, 30);
  });
});
