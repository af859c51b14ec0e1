// The tamper-evident audit chain under load: a bounded burst through a real Envoy, SIGTERM to Tollgate
// in the middle of it, then every request Tollgate saw has exactly one record (counted by request id
// against what was sent), `tollgate audit verify` passes on the HMAC chain, and an edited, deleted or
// reordered line is reported at its position with a non-zero exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import type { VerifyReport } from '../../extproc/telemetry/audit-chain.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { startStack, TOLLGATE_BIN, type Stack } from '../helpers/stack.ts';

const TOTAL = 400;
const CONCURRENCY = 24;
const SIGTERM_AFTER = 120;
/** Every this many requests asks for a "-slow" model (6 s upstream, far longer than the 2 s shutdown grace). */
const SLOW_EVERY = 10;
const CHAIN_KEY = randomBytes(32).toString('hex');

interface Sent {
  readonly i: number;
  readonly slow: boolean;
  readonly startedAt: number;
  status: number;
  requestId: string | null;
  decisionId: string | null;
  error: string | undefined;
}

function verify(files: readonly string[], keyFile: string): { code: number | null; report: VerifyReport } {
  const r = spawnSync(process.execPath, [TOLLGATE_BIN, 'audit', 'verify', '--json', '--key-file', keyFile, ...files], { encoding: 'utf8' });
  assert.ok(r.stdout !== '', `audit verify printed nothing:\n${r.stderr}`);
  return { code: r.status, report: JSON.parse(r.stdout) as VerifyReport };
}

describe('audit chain: SIGTERM under load, then verify', () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'tollgate-chain-key-'));
  const keyFile = join(keyDir, 'chain-key');
  writeFileSync(keyFile, `${CHAIN_KEY}\n`, { mode: 0o600 });
  let stack: Stack;
  const sent: Sent[] = [];
  let exitCode: number | null = null;
  let signalAt = Number.POSITIVE_INFINITY;
  let lines: string[] = [];
  let records: (AuditRecord & { seq: number })[] = [];

  before(async () => {
    stack = await startStack({
      // Every answer takes 40 ms, so requests are in flight when the signal lands; "-slow" ones take 6 s,
      // so the forced shutdown (2 s grace) cuts their ext_proc streams while the upstream still works.
      respond: (key) => {
        const openai = openAiResponder(key);
        return (req) => { const r = openai(req); return { ...r, delayMs: r.delayMs === undefined ? 40 : 6_000 }; };
      },
      tweak: (c) => ({
        ...c,
        server: { ...c.server, drainSeconds: 0, shutdownGraceSeconds: 2 },
        audit: { ...c.audit, chain: { enabled: true, algorithm: 'hmac-sha256', key: { source: 'file', path: keyFile }, replica: 'e2e-1' } },
      }),
    });

    // The burst: CONCURRENCY workers over TOTAL requests; SIGTERM once SIGTERM_AFTER have answered.
    let next = 0;
    let answered = 0;
    let signalled = false;
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        const slow = i % SLOW_EVERY === 0;
        const s: Sent = { i, slow, startedAt: Date.now(), status: 0, requestId: null, decisionId: null, error: undefined };
        sent.push(s);
        try {
          const res = await fetch(`${stack.url}/openai/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: slow ? 'gpt-4o-mini-slow' : 'gpt-4o-mini', messages: [{ role: 'user', content: `burst ${i}` }] }),
          });
          await res.arrayBuffer();
          s.status = res.status;
          s.requestId = res.headers.get('x-request-id');
          s.decisionId = res.headers.get('x-tollgate-decision-id');
        } catch (err) {
          s.error = (err as Error).message;
        }
        answered += 1;
        if (!signalled && answered >= SIGTERM_AFTER) {
          signalled = true;
          signalAt = Date.now();
          stack.tollgate.child.kill('SIGTERM');
        }
      }
    };
    const exited = new Promise<number | null>((resolve) => { stack.tollgate.child.once('exit', (code) => { resolve(code); }); });
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    exitCode = await exited;
    lines = readFileSync(stack.auditPath, 'utf8').split('\n').filter((l) => l !== '');
    records = lines.map((l) => JSON.parse(l) as AuditRecord & { seq: number });
  });
  after(async () => {
    await stack.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it('Tollgate stopped gracefully in the middle of the burst', () => {
    assert.equal(exitCode, 0, stack.tollgate.output().slice(-2000));
    const ok = sent.filter((s) => s.status === 200).length;
    const unavailable = sent.filter((s) => s.status === 503).length;
    assert.ok(ok >= SIGTERM_AFTER - CONCURRENCY && ok < TOTAL, `${ok} of ${TOTAL} answered 200`);
    assert.ok(unavailable > 0, 'requests after the stop were refused by Envoy (fail closed)');
    assert.equal(sent.length, TOTAL);
    assert.deepEqual(sent.filter((s) => s.error !== undefined).map((s) => s.error), [], 'Envoy answered every request');
  });

  it('every request Tollgate answered has exactly one audit record; none is lost or invented', (t) => {
    const byRequest = new Map<string, AuditRecord[]>();
    for (const r of records) if (r.request_id !== null) byRequest.set(r.request_id, [...(byRequest.get(r.request_id) ?? []), r]);
    // Tollgate saw a request if it answered it, or if it was sent well before the signal (ext_authz
    // had allowed it by then: the slow ones were still waiting for the upstream when the stop came).
    const seenByTollgate = sent.filter((s) => s.status === 200 || s.decisionId !== null || s.startedAt < signalAt - 250);
    const missing = seenByTollgate.filter((s) => (byRequest.get(s.requestId ?? '') ?? []).length !== 1);
    assert.deepEqual(missing.map((s) => `#${s.i} ${s.status} ${s.requestId ?? ''} decision ${s.decisionId ?? ''}: ${(byRequest.get(s.requestId ?? '') ?? []).length} records`), [], `${records.filter((r) => missing.some((m) => m.decisionId === r.decision_id)).map((r) => JSON.stringify(r)).join('\n')}\n${stack.tollgate.output().split('\n').filter((l) => missing.some((m) => m.requestId !== null && l.includes(m.requestId))).join('\n')}\n${stack.tollgate.output().split('\n').filter((l) => !l.includes('"level":20')).slice(-15).join('\n')}`);
    for (const s of sent.filter((x) => x.status === 200)) assert.equal(byRequest.get(s.requestId ?? '')?.[0]?.outcome, 'completed');
    // Envoy's own 503s: Tollgate saw such a request at most partly (then it wrote one record), or not at all.
    const sentIds = new Set(sent.map((s) => s.requestId));
    for (const [id, rs] of byRequest) {
      assert.ok(sentIds.has(id), `a record for request ${id} that was never sent`);
      assert.equal(rs.length, 1, `request ${id} has ${rs.length} records`);
    }
    // Slow requests in flight at the signal were cut by the forced shutdown and are recorded too.
    const slowInFlight = sent.filter((s) => s.slow && s.startedAt < signalAt - 250);
    assert.ok(slowInFlight.length >= 1, 'slow requests were in flight at the signal');
    for (const s of slowInFlight) {
      assert.equal(s.status, 503, 'a stream cut by the forced shutdown fails closed');
      assert.match(byRequest.get(s.requestId ?? '')?.[0]?.outcome ?? '', /^(cancelled|failed)$/);
    }
    const statuses = new Map<number, number>();
    for (const s of sent) statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
    const outcomes = new Map<string, number>();
    for (const r of records) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    t.diagnostic(`sent ${sent.length}: ${JSON.stringify(Object.fromEntries(statuses))}; records ${records.length}: ${JSON.stringify(Object.fromEntries(outcomes))}; cut in flight ${slowInFlight.length}`);
    assert.ok(records.length >= seenByTollgate.length);
    assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1), 'one unbroken sequence');
  });

  it('`tollgate audit verify` passes on the file (HMAC key given)', () => {
    const { code, report } = verify([stack.auditPath], keyFile);
    assert.equal(code, 0, JSON.stringify(report.issues.slice(0, 5)));
    assert.equal(report.records, lines.length);
    assert.deepEqual(report.heads.map((h) => [h.replica, h.first_seq, h.last_seq]), [['e2e-1', 1, lines.length]]);
  });

  const tampered = (name: string, edit: (ls: string[]) => string[]): string => {
    const f = join(stack.dir, `tampered-${name}.jsonl`);
    writeFileSync(f, edit([...lines]).map((l) => `${l}\n`).join(''));
    return f;
  };
  const at = Math.floor(SIGTERM_AFTER / 2);
  const cases: readonly [string, (ls: string[]) => string[], string, number][] = [
    ['edited', (ls) => { ls[at - 1] = (ls[at - 1] ?? '').replace('"outcome":"completed"', '"outcome":"denied"'); return ls; }, 'edited', at],
    ['deleted', (ls) => { ls.splice(at - 1, 1); return ls; }, 'deleted', at],
    ['reordered', (ls) => { const a = ls[at - 1] ?? ''; ls[at - 1] = ls[at] ?? ''; ls[at] = a; return ls; }, 'reordered', at + 1],
  ];
  for (const [name, edit, kind, line] of cases) {
    it(`one ${name} line is reported as ${kind} at line ${line}, exit 1`, () => {
      assert.ok(lines[at - 1]?.includes('"outcome":"completed"'), 'the line to edit is a completed record');
      const { code, report } = verify([tampered(name, edit)], keyFile);
      assert.equal(code, 1);
      assert.equal(report.ok, false);
      const first = report.issues[0];
      assert.deepEqual([first?.kind, first?.line], [kind, line], JSON.stringify(report.issues));
    });
  }
});
