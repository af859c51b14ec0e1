// Claim-scoped usage controls and claim-declared classifications with JWTs, through a real Envoy: a token
// without the claim a budget is scoped by is refused (group_missing) unless the subject names a default
// group, and a classification claim that is an array counts every element (the most restrictive class wins).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { mint } from '../helpers/jwks-server.ts';
import { AUDIENCE, chatBody, errorCode, ISSUER, plainRequest, startIdentityStack, type IdentityStack } from '../helpers/identity-stack.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const SUBJECT = 'claims-agent';

function tweak(c: ConfigInput): ConfigInput {
  return {
    ...c,
    identities: [...c.identities, { id: 'claims-agent', tenant: 'team-j', jwtSubjects: [{ issuer: ISSUER, subject: SUBJECT }], allow: [{ provider: 'openai' }, { provider: 'other' }] }],
    prices: [{ provider: 'openai', model: 'gpt-4o*', maxOutputTokens: 100 }, { provider: 'other', model: '*', maxOutputTokens: 100 }],
    budgets: [{ name: 'team-tokens', per: { claim: 'team' }, metric: 'tokens', limit: 1_000_000, window: '30d' }],
    rateLimits: [{ name: 'dept-rpm', per: { claim: 'dept', default: 'unassigned' }, unit: 'requests', limit: 1, window: '1h' }],
    routing: { classes: [{ name: 'onprem', providers: ['other'] }], declared: { claim: 'classification', map: { confidential: 'onprem' } } },
  };
}

describe('claim-scoped budgets and claim arrays, through a real Envoy', () => {
  let s: IdentityStack;
  const now = (): number => Math.floor(Date.now() / 1000);
  const token = (extra: Record<string, unknown>): Promise<string> => mint(s.signingKey, { iss: ISSUER, aud: AUDIENCE, sub: SUBJECT, iat: now(), exp: now() + 300, jti: randomUUID(), ...extra });
  const send = async (extra: Record<string, unknown>) => plainRequest(s, '/openai/chat/completions', { headers: { authorization: `Bearer ${await token(extra)}` }, body: chatBody('gpt-4o-mini') });
  const counts = (): [number, number] => [s.openai.requests.length, s.other.requests.length];

  before(async () => { s = await startIdentityStack(tweak); });
  after(async () => { await s.stop(); });

  it('a token with the claim is metered; a token without it is refused with group_missing and reaches no upstream', async () => {
    const ok = await send({ team: 'blue', dept: 'eng' });
    assert.equal(ok.status, 200, ok.body);
    const before = counts();
    const missing = await send({ dept: 'ops' });
    assert.equal(missing.status, 403, missing.body);
    assert.equal(errorCode(missing), 'group_missing');
    assert.equal(missing.headers['x-should-retry'], 'false');
    assert.deepEqual(counts(), before);
    const rec = await awaitRecord(s, String(missing.headers['x-request-id']));
    assert.equal(rec.reason, 'group_missing');
    assert.equal(rec.rule, 'budgets');
  });

  it("a subject's default group counts tokens without the claim together", async () => {
    const first = await send({ team: 'blue' });
    assert.equal(first.status, 200, first.body);
    const second = await send({ team: 'green' });
    assert.equal(second.status, 429, 'the second token without dept shares the default group, limit 1');
    assert.equal(errorCode(second), 'rate_limited');
  });

  it('a classification claim array counts every element: ["public","confidential"] routes on-prem, not to the cloud', async () => {
    const [openai, other] = counts();
    const r = await send({ team: 'blue', dept: 'routing', classification: ['public', 'confidential'] });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(counts(), [openai, other + 1], 'only the on-prem upstream was called');
  });
});
