// Budgets over MCP tool calls (issue 16 item 7): a `tool_calls` budget reserves one per tools/call, all or
// nothing with the other charges, kept once the call went out and released if it was refused before.
// Through Session and the MCP pipeline (processing/steps/usage.ts admitMcpUsage, outcome/finish.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetSchema, stateConfigSchema } from '../../extproc/config/state-schema.ts';
import { BudgetGuard } from '../../extproc/state/budgets.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';
import { mcpFixture, sendMcpRequest, type PhaseFixture } from '../helpers/phase-fixtures.ts';

const who = { identity: 'agent-1', tenant: 'team-a', claims: {} };
const CALLS = { name: 'calls', per: 'identity', metric: 'tool_calls', limit: 2, window: '30d' } as const;

describe('tool_calls budgets: config and the guard', () => {
  it('a tool_calls budget is valid with a whole limit and refused with a fraction', () => {
    assert.equal(budgetSchema.parse(CALLS).metric, 'tool_calls');
    const r = stateConfigSchema.safeParse({ budgets: [{ ...CALLS, limit: 2.5 }] });
    assert.ok(!r.success);
    assert.deepEqual(r.error.issues.map((i) => [i.path.join('.'), i.message]), [['budgets.0.limit', 'a tool_calls budget must be a whole number']]);
  });

  it('tools/call counts one against tool_calls budgets only; model requests never touch them', async () => {
    const budgets = [budgetSchema.parse(CALLS), budgetSchema.parse({ name: 'tok', per: 'identity', metric: 'tokens', limit: 100, window: '1d' })];
    const g = new BudgetGuard(new MemoryStateStore(), budgets, [], { onError: 'deny' });
    const model = await g.reserve(who, 'openai', 'gpt-4o-mini', { inputTokens: 10, outputTokens: 10 });
    assert.ok(model.ok);
    assert.deepEqual(model.reservation.charges.map((c) => c.budget), ['tok']);
    const call = await g.reserveToolCall(who, 'tools');
    assert.ok(call.ok);
    assert.deepEqual(call.reservation.charges.map((c) => [c.budget, c.reserved, c.used]), [['calls', 1, 1]]);
    await g.settle(call.reservation, { inputTokens: 50, outputTokens: 50 });
    assert.ok((await g.reserveToolCall(who, 'tools')).ok, 'settling kept the one call, whatever usage was reported');
    const third = await g.reserveToolCall(who, 'tools');
    assert.ok(!third.ok);
    assert.deepEqual({ reason: third.refusal.reason, budget: third.refusal.budget, metric: third.refusal.metric, limit: third.refusal.limit, used: third.refusal.used }, { reason: 'budget_exceeded', budget: 'calls', metric: 'tool_calls', limit: 2, used: 2 });
    assert.equal(g.covers({ identity: 'x', tenant: 'y', claims: {} }), true);
    const onlyCalls = new BudgetGuard(new MemoryStateStore(), [budgetSchema.parse(CALLS)], [], { onError: 'deny' });
    assert.equal(onlyCalls.covers(who), false, 'a tool_calls budget asks no output cap of model requests');
  });
});

/** One JSON-RPC message through Session, then the stream ends: the reason it was refused for, if it was. */
async function send(f: PhaseFixture, method: string, params: Record<string, unknown>): Promise<{ denied: string | undefined }> {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }));
  const session = await sendMcpRequest(f, body);
  session.close('ended');
  await new Promise((r) => setTimeout(r, 5)); // settlement runs off the request path
  const rec = f.records().filter((r) => r.decision_id === session.request.decisionId);
  assert.equal(rec.length, 1);
  // Refused: denied (4xx) or failed (5xx); a call that went out and saw no answer here ends cancelled.
  const r = rec[0];
  return { denied: r?.outcome === 'denied' || r?.outcome === 'failed' ? (r.reason ?? 'none') : undefined };
}

const call = (f: PhaseFixture) => send(f, 'tools/call', { name: 'echo', arguments: { text: 'hi' } });

/** The value of the tool_calls budget's counter for agent-1 (the key the last reservation used). */
async function counted(f: PhaseFixture): Promise<number> {
  const charge = f.store.ops('reserve').at(-1)?.charges?.[0];
  assert.ok(charge !== undefined, 'a reservation was made');
  return f.store.counter(charge.key, charge.windowMs);
}

describe('tool_calls budgets through the MCP pipeline', () => {
  it('a call that went out stays charged; one refused before it left is given back; lists are not counted', async () => {
    const f = mcpFixture({ budgets: [CALLS] });
    try {
      f.sources.get('tools')!.failing = true;
      assert.equal((await call(f)).denied, 'credential_unavailable');
      assert.equal(await counted(f), 0, 'released: the refused call never left');
      f.sources.get('tools')!.failing = false;
      assert.equal((await call(f)).denied, undefined);
      assert.equal(await counted(f), 1, 'kept after the call went upstream');
      assert.equal((await send(f, 'tools/list', {})).denied, undefined);
      assert.equal((await call(f)).denied, undefined);
      assert.equal(await counted(f), 2);
      assert.equal((await send(f, 'tools/list', {})).denied, undefined, 'a list goes through at the limit');
      assert.equal((await call(f)).denied, 'budget_exceeded');
      assert.equal(f.records().at(-1)?.rule, 'budgets');
    } finally {
      await f.close();
    }
  });

  it('all or nothing with a rate limit: a call the rate limit refuses charges no budget', async () => {
    const f = mcpFixture({ budgets: [{ ...CALLS, limit: 5 }], rateLimits: [{ name: 'burst', per: 'identity', unit: 'tool_calls', limit: 1, window: '1m' }] });
    try {
      assert.equal((await call(f)).denied, undefined);
      assert.equal(await counted(f), 1);
      assert.equal((await call(f)).denied, 'rate_limited');
      assert.equal(f.store.ops('reserve').length, 1, 'the budget was never asked');
      assert.equal(await counted(f), 1);
    } finally {
      await f.close();
    }
  });

  it('a state store that is down follows onStateError: deny refuses, allow lets the call through degraded', async () => {
    for (const [onStateError, denied] of [['deny', 'state_unavailable'], ['allow', undefined]] as const) {
      const f = mcpFixture({ budgets: [{ ...CALLS, onStateError }] });
      try {
        f.store.failing.add('reserve');
        assert.equal((await call(f)).denied, denied, onStateError);
        if (denied === undefined) assert.equal(f.records().at(-1)?.state_degraded, true);
      } finally {
        await f.close();
      }
    }
  });
});
