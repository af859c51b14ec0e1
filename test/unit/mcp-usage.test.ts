// Usage controls for MCP servers: a `tool_calls` rate limit counts tools/call messages only; `requests`
// limits count every message. (Token limits and token/cost budgets do not apply to MCP: processing/steps/usage.ts;
// tool_calls budgets: mcp-budget.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimitSchema } from '../../extproc/config/state-schema.ts';
import { RateLimiter } from '../../extproc/state/rate-limits.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';

const who = { identity: 'agent-1', tenant: 'team-a', claims: {} };

describe('rate limits on MCP tool calls', () => {
  it('tool_calls counts tools/call only, and refuses the call over the limit', async () => {
    const limits = [rateLimitSchema.parse({ name: 'calls', per: 'identity', unit: 'tool_calls', limit: 2, window: '1m' })];
    const rl = new RateLimiter(new MemoryStateStore(), limits, { onError: 'deny' });
    for (let i = 0; i < 5; i++) assert.equal((await rl.check(who, 0, false)).ok, true, 'lists and other messages are not counted');
    assert.equal((await rl.check(who, 0, true)).ok, true);
    assert.equal((await rl.check(who, 0, true)).ok, true);
    const third = await rl.check(who, 0, true);
    assert.ok(!third.ok);
    assert.deepEqual({ reason: third.refusal.reason, unit: third.refusal.unit, limit: third.refusal.limit }, { reason: 'rate_limited', unit: 'tool_calls', limit: 'calls' });
    assert.equal((await rl.check(who, 0, false)).ok, true, 'a list still goes through');
  });

  it('requests counts every message, tool calls included', async () => {
    const limits = [rateLimitSchema.parse({ name: 'all', per: 'identity', unit: 'requests', limit: 2, window: '1m' })];
    const rl = new RateLimiter(new MemoryStateStore(), limits, { onError: 'deny' });
    assert.equal((await rl.check(who, 0, false)).ok, true);
    assert.equal((await rl.check(who, 0, true)).ok, true);
    assert.equal((await rl.check(who, 0, false)).ok, false);
  });
});
