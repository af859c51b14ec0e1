// Hot reload and shadow mode through a real Envoy and `tollgate serve`: a tightened grant applies to
// the next request without a restart and /readyz shows the new revision; a broken policy file leaves
// the old one in force; shadow mode (global and per grant) records a would-deny without blocking.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { eventually, type Stack, startStack } from '../helpers/stack.ts';
import { awaitRecord } from '../helpers/assertions.ts';

describe('policy hot reload and shadow mode through Envoy', () => {
  let stack: Stack;
  let configPath: string;
  let original: ConfigInput;

  const readyz = async (): Promise<{ status: number; revision: string | undefined }> => {
    const r = await fetch(`http://127.0.0.1:${stack.tollgate.adminPort}/readyz`);
    const text = await r.text();
    return { status: r.status, revision: /policy_revision=(\S+)/.exec(text)?.[1] };
  };
  const chat = async (model: string, key = stack.keys.agent): Promise<{ status: number; body: string; requestId: string | null }> => {
    const r = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    return { status: r.status, body: await r.text(), requestId: r.headers.get('x-request-id') };
  };
  /** Writes a new policy file and waits for /readyz to show a revision other than `from`. */
  const reloadTo = async (next: ConfigInput, from: string | undefined): Promise<string> => {
    writeFileSync(configPath, stringify(next));
    let rev: string | undefined;
    const end = Date.now() + 5_000;
    while (Date.now() < end) {
      rev = (await readyz()).revision;
      if (rev !== undefined && rev !== from) return rev;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no reload: revision still ${rev ?? 'unknown'}\n${stack.tollgate.output().slice(-2000)}`);
  };
  const withAgentGrant = (grant: Record<string, unknown>, policy: Record<string, unknown> = {}): ConfigInput => ({
    ...original,
    identities: original.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [{ provider: 'openai', ...grant }] } : i)),
    ...(Object.keys(policy).length === 0 ? {} : { policy }),
  });

  before(async () => {
    stack = await startStack();
    configPath = join(stack.dir, 'tollgate.yaml');
    original = parse(readFileSync(configPath, 'utf8')) as ConfigInput;
  });
  after(async () => { await stack.stop(); });

  it('a tightened grant applies to the next request without a restart; /readyz shows the new revision', async () => {
    const start = await readyz();
    assert.equal(start.status, 200);
    assert.equal((await chat('gpt-4o')).status, 200, 'gpt-4o is allowed before the reload');
    const pid = stack.tollgate.child.pid;
    const rev = await reloadTo(withAgentGrant({ models: ['gpt-4o-mini'] }), start.revision);
    assert.notEqual(rev, start.revision);
    const denied = await chat('gpt-4o');
    assert.equal(denied.status, 403, denied.body);
    assert.equal((JSON.parse(denied.body) as { error: { code: string } }).error.code, 'model_forbidden');
    assert.equal((await chat('gpt-4o-mini')).status, 200);
    assert.equal(stack.tollgate.child.pid, pid, 'same process');
    assert.equal(stack.tollgate.child.exitCode, null);
    const record = await awaitRecord(stack, denied.requestId);
    assert.equal(record.policy_revision, rev, 'the audit record names the new revision');
  });

  it('a broken policy file is refused, logged, and the old policy stays in force', async () => {
    const { revision } = await readyz();
    const logBefore = stack.tollgate.output().length;
    writeFileSync(configPath, stringify(withAgentGrant({ when: 'request.model.startsWith(' })));
    await eventually(() => stack.tollgate.output().slice(logBefore).includes('policy reload refused'));
    assert.equal((await readyz()).revision, revision);
    assert.equal((await chat('gpt-4o')).status, 403, 'the tightened grant is still enforced');
    assert.equal((await chat('gpt-4o-mini')).status, 200, 'and still allows what it allowed');
    // A schema error too (a misspelt key).
    const logMid = stack.tollgate.output().length;
    writeFileSync(configPath, stringify({ ...withAgentGrant({ models: ['gpt-4o-mini'] }), polcy: {} }));
    await eventually(() => stack.tollgate.output().slice(logMid).includes('policy reload refused'));
    assert.equal((await readyz()).revision, revision);
  });

  it('global shadow mode: a would-deny is audited with the shadow field and not enforced', async () => {
    const from = (await readyz()).revision;
    const rev = await reloadTo(withAgentGrant({ models: ['gpt-4o-mini'] }, { mode: 'shadow' }), from);
    const r = await chat('gpt-4o');
    assert.equal(r.status, 200, r.body);
    const record = await awaitRecord(stack, r.requestId);
    assert.deepEqual(record.shadow, { rule: 'identities[agent-1].allow[0]', reason: 'model_forbidden' });
    assert.equal(record.policy_revision, rev);
    const clean = await chat('gpt-4o-mini');
    assert.equal((await awaitRecord(stack, clean.requestId)).shadow, null, 'an allowed request has no shadow entry');
  });

  it('a shadow grant: its failing condition is audited, not enforced; enforcing it then denies', async () => {
    const from = (await readyz()).revision;
    await reloadTo(withAgentGrant({ when: 'request.model == "gpt-4o-mini"', shadow: true }), from);
    const r = await chat('gpt-4o');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual((await awaitRecord(stack, r.requestId)).shadow, { rule: 'identities[agent-1].allow[0]', reason: 'condition_failed' });
    const from2 = (await readyz()).revision;
    await reloadTo(withAgentGrant({ when: 'request.model == "gpt-4o-mini"' }), from2);
    const enforced = await chat('gpt-4o');
    assert.equal(enforced.status, 403, enforced.body);
    assert.equal((JSON.parse(enforced.body) as { error: { code: string } }).error.code, 'condition_failed');
  });
});
