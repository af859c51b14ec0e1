import assert from 'node:assert/strict';
import { TollgateError } from '../../extproc/errors.ts';

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
