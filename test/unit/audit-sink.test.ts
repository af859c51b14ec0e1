// The audit sink of plain JSON lines (no chain): records of one event-loop turn go out as one write,
// each reaches the file without a flush, and flush() resolves only once everything written is on disk.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { buildAuditRecord } from '../../extproc/telemetry/audit-record.ts';
import { createAuditSink, type AuditRecord } from '../../extproc/telemetry/audit.ts';

const dir = mkdtempSync(join(tmpdir(), 'tg-audit-sink-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

function record(i: number): AuditRecord {
  return buildAuditRecord({ stage: 'proc', authenticated: true, outcome: 'completed', decisionId: `dec-${i}`, requestId: `req-${i}`, totalMs: 1, tollgateMs: 0.5, policyRevision: 'rev', status: 200 });
}

function lines(path: string): AuditRecord[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord) : [];
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

describe('audit sink (JSON lines to a file)', () => {
  it('writes the records of one event-loop turn with one write, in order, each reaching the file without a flush', async () => {
    const path = join(dir, 'batch.jsonl');
    const sink = createAuditSink({ type: 'file', path });
    sink.write(record(0));
    await until(() => lines(path).length === 1);
    const original = fs.write;
    let writes = 0;
    fs.write = ((...args: Parameters<typeof fs.write>) => { writes++; (original as (...a: unknown[]) => void)(...args); }) as typeof fs.write;
    try {
      for (let i = 1; i <= 40; i++) sink.write(record(i));
      assert.equal(writes, 0, 'nothing is written while the turn that wrote the records runs');
      await until(() => lines(path).length === 41);
      assert.equal(writes, 1, 'the 40 records of one turn went out as one write');
    } finally {
      fs.write = original;
    }
    assert.deepEqual(lines(path).map((r) => r.request_id), Array.from({ length: 41 }, (_, i) => `req-${i}`));
    await sink.flush();
  });

  it('flush() resolves once every record written so far is in the file', async () => {
    const path = join(dir, 'flush.jsonl');
    const sink = createAuditSink({ type: 'file', path });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 25; i++) sink.write(record(round * 25 + i));
      if (round === 1) await nextTurn();
    }
    await sink.flush();
    assert.equal(lines(path).length, 75);
    sink.write(record(75));
    await sink.flush();
    assert.equal(lines(path).at(-1)?.request_id, 'req-75');
  });
});
