// The headers every denial carries (ext_authz and ext_proc build them from the same function): the request
// id under the name the SDKs read, and a retry hint that keeps SDKs from sleeping on windows they cannot wait out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { denialHeaders, MAX_RETRY_AFTER_SECONDS, type ErrorCode } from '../../extproc/errors.ts';

const asMap = (code: ErrorCode, retry?: number): Record<string, string> => Object.fromEntries(denialHeaders(code, 'req-1', retry).map((h) => [h.name, h.value]));

describe('denialHeaders', () => {
  const table: readonly [string, ErrorCode, number | undefined, Record<string, string>][] = [
    ['a short rate limit: retry, after the wait', 'rate_limited', 7, { 'request-id': 'req-1', 'x-should-retry': 'true', 'retry-after': '7' }],
    ['a rate limit at the threshold is still retryable', 'rate_limited', MAX_RETRY_AFTER_SECONDS, { 'request-id': 'req-1', 'x-should-retry': 'true', 'retry-after': String(MAX_RETRY_AFTER_SECONDS) }],
    ['a long rate limit: do not retry, no retry-after', 'rate_limited', MAX_RETRY_AFTER_SECONDS + 1, { 'request-id': 'req-1', 'x-should-retry': 'false', 'x-tollgate-retry-after': String(MAX_RETRY_AFTER_SECONDS + 1) }],
    ['an exhausted budget whose window ends in 30 days: do not retry', 'budget_exceeded', 30 * 86_400, { 'request-id': 'req-1', 'x-should-retry': 'false', 'x-tollgate-retry-after': String(30 * 86_400) }],
    ['an exhausted budget that resets in 5 s is still not retried', 'budget_exceeded', 5, { 'request-id': 'req-1', 'x-should-retry': 'false', 'x-tollgate-retry-after': '5' }],
    ['a policy denial', 'model_forbidden', undefined, { 'request-id': 'req-1', 'x-should-retry': 'false' }],
    ['a missing group', 'group_missing', undefined, { 'request-id': 'req-1', 'x-should-retry': 'false' }],
    ['an unauthenticated caller', 'unauthenticated', undefined, { 'request-id': 'req-1', 'x-should-retry': 'false' }],
    ['an unavailable credential: retryable', 'credential_unavailable', undefined, { 'request-id': 'req-1', 'x-should-retry': 'true' }],
    ['shared state down: retryable', 'state_unavailable', undefined, { 'request-id': 'req-1', 'x-should-retry': 'true' }],
    ['an internal failure: no hint, the client decides', 'internal', undefined, { 'request-id': 'req-1' }],
  ];
  for (const [name, code, retry, want] of table) it(name, () => { assert.deepEqual(asMap(code, retry), want); });
  it('no request id, no request-id header', () => { assert.deepEqual(denialHeaders('model_forbidden', undefined), [{ name: 'x-should-retry', value: 'false' }]); });
});
