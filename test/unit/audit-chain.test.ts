// Hash-chained audit records: canonical JSON, chaining, HMAC, rotation that keeps the chain, resume.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../extproc/core/secret.ts';
import { AuditChain, ChainedAuditSink, RotatingAuditFile, canonicalJson, chainHash, verifyAuditFiles } from '../../extproc/telemetry/audit-chain.ts';
import { MemoryAuditSink, type AuditRecord } from '../../extproc/telemetry/audit.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tg-chain-'));
  dirs.push(d);
  return d;
}

function fakeRecord(i: number): AuditRecord {
  return {
    schema: 'tollgate.audit.v1', time: new Date(Date.UTC(2026, 0, 1) + i * 1_000).toISOString(), stage: 'proc', request_id: `req-${i}`,
    decision_id: `dec-${i}`, identity: `agent-${i % 3}`, tenant: 'team-a', provider: 'openai', model: 'gpt-4o-mini', method: 'POST',
    path: '/openai/v1/chat/completions', decision: 'allow', outcome: 'completed', reason: null, rule: null, http_status: 200,
    request: { body_bytes: 100 + i, body_sha256: createHash('sha256').update(String(i)).digest('hex') }, response: { body_bytes: 50, streamed: false },
    usage: { input_tokens: 10, output_tokens: i, total_tokens: 10 + i }, latency_ms: { total: 12.5, tollgate: 0.75 }, policy_revision: 'rev',
  } as unknown as AuditRecord;
}

describe('canonicalJson', () => {
  const table: readonly [unknown, string][] = [
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ z: { y: [3, { d: null, c: 'x' }] }, a: true }, '{"a":true,"z":{"y":[3,{"c":"x","d":null}]}}'],
    [{ 'é': 1, e: 2, E: 3, _: 4 }, '{"E":3,"_":4,"e":2,"é":1}'],
    [{ s: 'line\nbreak "q" \u2028' }, '{"s":"line\\nbreak \\"q\\" \u2028"}'],
    [{ n: 1.5, m: -0, big: 1e21, small: 1e-7 }, '{"big":1e+21,"m":0,"n":1.5,"small":1e-7}'],
    [{ u: undefined, k: 1 }, '{"k":1}'],
    [[], '[]'],
  ];
  for (const [value, want] of table) it(`writes ${want}`, () => { assert.equal(canonicalJson(value), want); });
  it('is the same for any key order and survives a JSON round trip', () => {
    const r = fakeRecord(7);
    const shuffled = Object.fromEntries(Object.entries(r).reverse());
    assert.equal(canonicalJson(shuffled), canonicalJson(r));
    assert.equal(canonicalJson(JSON.parse(JSON.stringify(r, null, 2))), canonicalJson(r));
  });
  it('refuses values JSON cannot hold', () => {
    for (const v of [{ x: Number.NaN }, { x: Infinity }, { f: () => 1 }]) assert.throws(() => canonicalJson(v), TypeError);
  });
});

describe('AuditChain', () => {
  it('numbers records from 1 and links each to the previous hash over its canonical form', () => {
    const chain = new AuditChain({ replica: 'r1' });
    const out = [0, 1, 2].map((i) => chain.next(fakeRecord(i)));
    assert.deepEqual(out.map((r) => r.seq), [1, 2, 3]);
    const [a, b, c] = out;
    assert.equal(a!.prev_hash, null);
    assert.equal(b!.prev_hash, a!.hash);
    assert.equal(c!.prev_hash, b!.hash);
    for (const r of out) {
      const { hash, ...rest } = r;
      assert.equal(hash, `sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`);
      assert.equal(r.replica, 'r1');
    }
    assert.deepEqual(chain.head, { seq: 3, hash: c!.hash });
  });

  it('HMAC variant: keyed digest, and the key is needed', () => {
    const key = new Secret(`k-${randomUUID()}`);
    const r = new AuditChain({ replica: 'r1', algorithm: 'hmac-sha256', key }).next(fakeRecord(1));
    const { hash, ...rest } = r;
    assert.equal(hash, `hmac-sha256:${createHmac('sha256', key.reveal()).update(canonicalJson(rest)).digest('hex')}`);
    assert.notEqual(chainHash(r, 'hmac-sha256', new Secret('other')), hash);
    assert.throws(() => new AuditChain({ replica: 'r1', algorithm: 'hmac-sha256' }), /key/);
  });

  it('overwrites chain fields a record already carries, and resumes an existing chain', () => {
    const chain = new AuditChain({ replica: 'r2', resume: { seq: 41, hash: 'sha256:abc' } });
    const r = chain.next({ ...fakeRecord(1), seq: 999, hash: 'forged', replica: 'evil' });
    assert.deepEqual([r.seq, r.prev_hash, r.replica], [42, 'sha256:abc', 'r2']);
    assert.notEqual(r.hash, 'forged');
  });

  it('rejects replica ids that could not be told apart or printed safely', () => {
    for (const bad of ['', 'a b', 'a\nb', 'x'.repeat(129), '-lead']) assert.throws(() => new AuditChain({ replica: bad }), TypeError, JSON.stringify(bad));
  });

  it('ChainedAuditSink chains what any sink writes', async () => {
    const inner = new MemoryAuditSink();
    const sink = new ChainedAuditSink(inner, new AuditChain({ replica: 'r1' }));
    sink.write(fakeRecord(1));
    sink.write(fakeRecord(2));
    await sink.flush();
    const written = inner.records as unknown as { seq: number; prev_hash: string | null; hash: string }[];
    assert.deepEqual(written.map((r) => r.seq), [1, 2]);
    assert.equal(written[1]?.prev_hash, written[0]?.hash);
    assert.equal(sink.head?.hash, written[1]?.hash);
  });
});

describe('RotatingAuditFile', () => {
  it('rotates by size, keeps the chain across files, and verifies intact', async () => {
    const dir = tmp();
    const path = join(dir, 'audit.jsonl');
    const sink = RotatingAuditFile.open({ path, maxBytes: 8 * 1024, replica: 'r1' });
    for (let i = 0; i < 120; i++) sink.write(fakeRecord(i));
    await sink.flush();
    const files = readdirSync(dir).sort().map((f) => join(dir, f));
    assert.ok(files.length >= 5, `expected several files, got ${files.length}`);
    for (const f of files) assert.ok(statSync(f).size <= 8 * 1024, `${f} is over maxBytes`);
    const rotated = files.filter((f) => f !== path);
    const lines = (f: string): { seq: number; prev_hash: string | null; hash: string }[] => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; prev_hash: string | null; hash: string });
    for (let i = 1; i < rotated.length; i++) {
      const prevLast = lines(rotated[i - 1] ?? '').at(-1);
      const first = lines(rotated[i] ?? '')[0];
      assert.equal(first?.prev_hash, prevLast?.hash, 'a new file starts where the previous ended');
      assert.ok((rotated[i] ?? '').endsWith(`.${String(first?.seq).padStart(12, '0')}`), 'rotated files are named by their first seq');
    }
    const report = await verifyAuditFiles([...files].reverse());
    assert.deepEqual([report.ok, report.records, report.issues], [true, 120, []]);
    assert.deepEqual(report.heads.map((h) => [h.replica, h.first_seq, h.last_seq, h.file]), [['r1', 1, 120, path]]);
  });

  it('resumes the chain after a restart, from the active file or the newest rotated one, past a torn last line', async () => {
    const dir = tmp();
    const path = join(dir, 'audit.jsonl');
    let sink = RotatingAuditFile.open({ path, maxBytes: 4 * 1024, replica: 'r1' });
    for (let i = 0; i < 10; i++) sink.write(fakeRecord(i));
    await sink.flush();
    sink = RotatingAuditFile.open({ path, maxBytes: 4 * 1024, replica: 'r1' });
    assert.equal(sink.head?.seq, 10);
    appendFileSync(path, '{"schema":"tollgate.audit.v1","tim'); // a crash in the middle of a write
    sink = RotatingAuditFile.open({ path, maxBytes: 1 << 20, replica: 'r1' });
    assert.equal(sink.head?.seq, 10);
    sink.write(fakeRecord(10));
    await sink.flush();
    const report = await verifyAuditFiles(readdirSync(dir).map((f) => join(dir, f)));
    assert.deepEqual(report.issues.map((i) => i.kind), ['unparseable'], 'the torn line is reported, the chain itself is whole');
    assert.equal(report.heads[0]?.last_seq, 11);
  });

  it('an HMAC chain never writes its key', async () => {
    const dir = tmp();
    const planted = `audit-key-${randomUUID()}`;
    const path = join(dir, 'audit.jsonl');
    const sink = RotatingAuditFile.open({ path, maxBytes: 2_048, replica: 'r1', algorithm: 'hmac-sha256', key: new Secret(planted) });
    for (let i = 0; i < 20; i++) sink.write(fakeRecord(i));
    await sink.flush();
    for (const f of readdirSync(dir)) assert.ok(!readFileSync(join(dir, f), 'utf8').includes(planted));
    assert.equal((await verifyAuditFiles(readdirSync(dir).map((f) => join(dir, f)), { key: new Secret(planted) })).ok, true);
  });

  it('a failed write is reported by flush', async () => {
    const dir = tmp();
    const sink = RotatingAuditFile.open({ path: join(dir, 'missing-dir', 'audit.jsonl'), maxBytes: 4_096, replica: 'r1' });
    sink.write(fakeRecord(1));
    await assert.rejects(sink.flush(), /ENOENT/);
  });
});
