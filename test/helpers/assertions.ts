import assert from 'node:assert/strict';
import { TollgateError } from '../../extproc/errors.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';

/** Awaits `p`, asserts it rejects with a TollgateError, and returns that error. */
export async function tollgateRejection(p: Promise<unknown>): Promise<TollgateError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TollgateError, `expected TollgateError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/**
 * Each request id's one audit record, waiting up to `deadlineMs` for them (a record is written when its response
 * ends, on whichever replica): fails if a request has none, or more than one.
 */
export async function oneRecordEach(audit: () => readonly AuditRecord[], ids: readonly string[], deadlineMs = 5_000): Promise<AuditRecord[]> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const all = audit();
    const found = ids.map((id) => all.filter((r) => r.request_id === id));
    if (found.every((f) => f.length >= 1) || Date.now() > end) {
      found.forEach((f, i) => { assert.equal(f.length, 1, `request ${ids[i] ?? ''} has ${f.length} audit records`); });
      return found.map((f) => f[0] as AuditRecord);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The audit record of one request (by id: exactly one, as oneRecordEach) or the first record `match` accepts, waiting
 * up to `deadlineMs`: records are written asynchronously, so one read right after the response may not be there yet.
 */
export async function awaitRecord(stack: { audit(): readonly AuditRecord[] }, match: string | null | ((a: AuditRecord) => boolean), deadlineMs = 5_000): Promise<AuditRecord> {
  if (match === null) assert.fail('the response carries no request id');
  if (typeof match === 'string') return (await oneRecordEach(() => stack.audit(), [match], deadlineMs))[0] as AuditRecord;
  const end = Date.now() + deadlineMs;
  for (;;) {
    const found = stack.audit().find(match);
    if (found !== undefined) return found;
    if (Date.now() > end) assert.fail('no audit record matched in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
