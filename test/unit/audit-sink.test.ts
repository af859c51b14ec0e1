// The audit sink of plain JSON lines (no chain): each record reaches the file without a flush, in order,
// and flush() resolves only once everything written so far is in the file (shutdown relies on it).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { auditModel, buildAuditRecord, WITHHELD_MODEL } from '../../extproc/telemetry/audit-record.ts';
import { plantAwsKeyId, plantEmail } from '../helpers/content-values.ts';
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
  it('each record reaches the file without a flush, in order', async () => {
    const path = join(dir, 'order.jsonl');
    const sink = createAuditSink({ type: 'file', path });
    for (let i = 0; i < 40; i++) sink.write(record(i));
    await until(() => lines(path).length === 40);
    assert.deepEqual(lines(path).map((r) => r.request_id), Array.from({ length: 40 }, (_, i) => `req-${i}`));
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

describe('the model name in a record', () => {
  it('is the caller\'s name, unless a built-in detector finds something in it or it is longer than any provider\'s', () => {
    for (const name of ['gpt-4o-mini', 'claude-sonnet-4-20250514', 'us.anthropic.claude-3-5-sonnet-20241022-v2:0', 'meta-llama/Llama-3.1-8B-Instruct', 'llama3.2:3b']) {
      assert.equal(auditModel(name), name);
    }
    const akia = plantAwsKeyId();
    assert.equal(auditModel(`llama-3:${akia}`), WITHHELD_MODEL);
    assert.equal(auditModel(plantEmail()), WITHHELD_MODEL);
    assert.equal(auditModel(`gpt-${'4'.repeat(300)}`), WITHHELD_MODEL);
    assert.equal(auditModel(undefined), null);
    assert.equal(auditModel(`llama-3:${akia}`), WITHHELD_MODEL, 'the answer is remembered, not recomputed differently');
  });
});

