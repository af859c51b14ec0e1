// Vault-issued cloud credentials end to end through a real Envoy: Bedrock signed with SigV4 from the
// AWS engine shape (verified by a fake Bedrock against the credentials the fake Vault issued), Vertex
// with a GCP engine token re-fetched before expires_at_seconds, and Azure OpenAI with an api-key from
// KV v2 in a real OpenBao. OpenBao has no AWS or GCP engine, so those two shapes come from the fake Vault.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from '../../extproc/dev/fake-upstream.ts';
import { CONVERSE_RESPONSE, startFakeBedrock, type FakeBedrock } from '../helpers/fake-bedrock.ts';
import { startFakeVault, type FakeVault } from '../helpers/fake-vault.ts';
import { startOpenBao, type OpenBao } from '../helpers/openbao.ts';
import { sha256 } from '../helpers/sigv4-verify.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const fixture = (p: string): string => readFileSync(fileURLToPath(new URL(`../fixtures/providers/${p}`, import.meta.url)), 'utf8');
const REGION = 'us-east-1';
const BEDROCK_PATH = '/bedrock/model/amazon.nova-lite-v1%3A0/converse';
const VERTEX_PATH = '/vertex/v1/projects/tollgate-test-1/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent';
const GCP_TTL_S = 4;
const MARGIN_MS = 1_000;
const EMAIL = `jane.doe.${randomBytes(4).toString('hex')}@acme-corp.io`;

/** Adds providers and lets agent-1 (tenant team-a) use them. */
function withProviders(c: ConfigInput, providers: ConfigInput['providers']): ConfigInput {
  return {
    ...c,
    providers: [...c.providers, ...providers],
    identities: c.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [...i.allow, ...providers.map((p) => ({ provider: p.name }))] } : i)),
  };
}

describe('Bedrock (SigV4) and Vertex (GCP token) with credentials from the Vault engine shapes', () => {
  let dir: string;
  let vault: FakeVault;
  let bedrock: FakeBedrock;
  let vertex: FakeUpstream;
  let stack: Stack;
  /** What the Vertex upstream saw: the bearer token, and whether it was valid when it arrived. */
  const vertexSeen: { token: string; validAtArrival: boolean; at: number }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-cloud-'));
    vault = await startFakeVault({ rootToken: `hvs.fake-root-${randomBytes(12).toString('hex')}` });
    vault.awsTokenFields = ['session_token', 'security_token'];
    vault.gcpTokenTtlS = GCP_TTL_S;
    const tokenFile = join(dir, 'vault-token');
    writeFileSync(tokenFile, [...vault.tokens][0] ?? '', { mode: 0o600 });
    bedrock = await startFakeBedrock({
      region: REGION,
      credentials: (id) => {
        const c = vault.awsIssued.get(id);
        return c === undefined ? undefined : { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
      },
    });
    // A Google API stand-in: only a token the GCP engine issued, and only before its expiry.
    const generateResponse = fixture('vertex/generate-response.json');
    vertex = await startFakeUpstream({
      respond: (req: RecordedRequest) => {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const expiry = vault.gcpIssued.get(token);
        const valid = expiry !== undefined && Date.now() < expiry;
        vertexSeen.push({ token, validAtArrival: valid, at: Date.now() });
        if (!valid) return { status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 401, status: 'UNAUTHENTICATED' } }) };
        return { status: 200, headers: { 'content-type': 'application/json' }, body: generateResponse };
      },
    });
    stack = await startStack({
      tweak: (c) => withProviders({
        ...c,
        vault: { address: vault.address, auth: { method: 'token', tokenFile }, expiryMarginMs: MARGIN_MS },
      }, [
        { name: 'bedrock', kind: 'bedrock', upstream: bedrock.url, region: REGION, models: ['amazon.nova-*'], credential: { source: 'vault-aws', mount: 'aws', endpoint: 'creds', role: '{tenant}' } },
        { name: 'vertex', kind: 'vertex', upstream: vertex.url, models: ['gemini-2.0-*'], credential: { source: 'vault-gcp', mount: 'gcp', kind: 'roleset', name: '{tenant}' } },
      ]),
    });
  });
  after(async () => {
    await stack.stop();
    await bedrock.close();
    await vertex.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const callerAwsToken = `caller-session-${randomBytes(8).toString('hex')}`;
  const converse = (): Promise<Response> => fetch(`${stack.url}${BEDROCK_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json', 'x-amz-security-token': callerAwsToken },
    body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: `Please write to ${EMAIL} about order 42.` }] }], inferenceConfig: { maxTokens: 64 } }),
  });

  it('Bedrock: the fake Bedrock verifies a SigV4 signature over the masked body with the Vault-issued session token', async () => {
    const r = await converse();
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.deepEqual(JSON.parse(text), JSON.parse(CONVERSE_RESPONSE));
    assert.equal(bedrock.requests.length, 1);
    const got = bedrock.requests[0]!;
    assert.equal(got.problem, undefined, `signature refused: ${got.problem ?? ''}`);
    const issued = vault.awsIssued.get(got.accessKeyId ?? '');
    assert.ok(issued !== undefined, 'signed with a key the Vault AWS engine issued');
    assert.equal(got.headers.get('x-amz-security-token'), issued.sessionToken);
    assert.equal(got.path, '/model/amazon.nova-lite-v1%3A0/converse');
    assert.equal(got.headers.get('host'), new URL(bedrock.url).host);
    // DLP masked the e-mail address before signing: the signed body is the masked one.
    const body = got.body.toString('utf8');
    assert.ok(!body.includes(EMAIL), body);
    assert.match(body, /<EMAIL_1>/);
    assert.equal(got.headers.get('x-amz-content-sha256'), sha256(got.body));
    assert.equal(Number(got.headers.get('content-length')), got.body.length);
    // The caller's credentials are gone.
    const headers = JSON.stringify([...got.headers]);
    assert.ok(!headers.includes(stack.keys.agent), 'caller key forwarded');
    assert.ok(!headers.includes(callerAwsToken), 'caller session token forwarded');
    const rec = stack.audit().filter((a) => a.provider === 'bedrock').at(-1);
    assert.ok(rec !== undefined);
    assert.match(rec.credential?.source ?? '', /^vault-aws:aws\/creds\/team-a$/);
    assert.match(rec.credential?.lease_id_hash ?? '', /^[0-9a-f]{16}$/);
  });

  it('Bedrock: the fake refuses the same request with its body changed, whether or not x-amz-content-sha256 is changed to match', async () => {
    const got = bedrock.requests[0]!;
    const headers = Object.fromEntries([...got.headers].filter(([n]) => !['host', 'content-length', 'connection', 'transfer-encoding'].includes(n)));
    const tampered = Buffer.from(got.body.toString('utf8').replace('<EMAIL_1>', '<EMAIL_2>'));
    const replay = async (body: Buffer): Promise<number> => (await fetch(`${bedrock.url}${got.path}`, { method: 'POST', headers, body })).status;
    assert.equal(await replay(got.body), 200, 'the untouched replay verifies (within the clock skew)');
    assert.equal(await replay(tampered), 403);
    assert.equal(bedrock.requests.at(-1)?.problem, 'x-amz-content-sha256 does not match the body received');
    const other = { ...headers, 'x-amz-content-sha256': sha256(tampered) };
    assert.equal((await fetch(`${bedrock.url}${got.path}`, { method: 'POST', headers: other, body: tampered })).status, 403);
    assert.equal(bedrock.requests.at(-1)?.problem, 'the signature does not match');
  });

  it('Vertex: the upstream receives the GCP engine token as a bearer; a fresh one is fetched before expires_at_seconds and no request fails', async () => {
    const statuses: number[] = [];
    const end = Date.now() + GCP_TTL_S * 2_500;
    const body = fixture('vertex/generate-request.json');
    while (Date.now() < end) {
      const r = await fetch(`${stack.url}${VERTEX_PATH}`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' }, body });
      await r.arrayBuffer();
      statuses.push(r.status);
      await new Promise((res) => setTimeout(res, 150));
    }
    assert.ok(statuses.length >= 20, `only ${statuses.length} requests`);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every request succeeded');
    assert.ok(vertexSeen.every((s) => s.validAtArrival), 'every token was valid when it reached the upstream');
    const tokens = [...new Set(vertexSeen.map((s) => s.token))];
    assert.ok(tokens.length >= 2, `the token was re-fetched (saw ${tokens.length})`);
    for (const t of tokens) {
      const expiry = vault.gcpIssued.get(t)!;
      const lastUse = Math.max(...vertexSeen.filter((s) => s.token === t).map((s) => s.at));
      assert.ok(lastUse <= expiry - MARGIN_MS + 250, `a token was used ${lastUse - (expiry - MARGIN_MS)} ms into its expiry margin`);
    }
    const fetches = vault.calls.filter((c) => c.path.startsWith('/v1/gcp/roleset/team-a/token')).length;
    assert.ok(fetches >= tokens.length && fetches <= tokens.length + 1, `${fetches} GCP token reads for ${tokens.length} tokens used`);
  });

  it('no AWS secret, session token, GCP token, Vault token or caller key appears in Tollgate\'s output or the audit log', () => {
    const out = stack.tollgate.output() + readFileSync(stack.auditPath, 'utf8');
    const planted = [...vault.tokens, stack.keys.agent, callerAwsToken, EMAIL, ...[...vault.awsIssued.values()].flatMap((c) => [c.secretAccessKey, c.sessionToken]), ...vault.gcpIssued.keys()];
    assert.ok(planted.length >= 6);
    for (const s of planted) assert.ok(!out.includes(s), `a planted secret leaked (${s.slice(0, 6)}…)`);
  });
});

describe('Azure OpenAI with an api-key from KV v2 in a real OpenBao', () => {
  let bao: OpenBao;
  let dir: string;
  let azure: FakeUpstream;
  let stack: Stack;
  const azureKey = `azure-${randomBytes(16).toString('hex')}`;
  const completion = fixture('azure-openai/chat-completion.json');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-azure-'));
    bao = await startOpenBao({ env: process.env });
    await bao.api('POST', 'secret/data/tollgate/team-a/azure', { data: { api_key: azureKey } });
    // A token limited to the one tenant's Azure path: least privilege, as docs/vault.md recommends.
    await bao.api('PUT', 'sys/policies/acl/tollgate-azure', { policy: 'path "secret/data/tollgate/+/azure" { capabilities = ["read"] }' });
    const created = (await bao.api('POST', 'auth/token/create', { policies: ['tollgate-azure'], ttl: '1h', no_default_policy: false })) as { auth: { client_token: string } };
    const tokenFile = join(dir, 'vault-token');
    writeFileSync(tokenFile, created.auth.client_token, { mode: 0o600 });
    azure = await startFakeUpstream({
      respond: (req) => (req.headers['api-key'] === azureKey
        ? { status: 200, headers: { 'content-type': 'application/json' }, body: completion }
        : { status: 401, headers: { 'content-type': 'application/json' }, body: '{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}' }),
    });
    stack = await startStack({
      tweak: (c) => withProviders({ ...c, vault: { address: bao.address, auth: { method: 'token', tokenFile } } }, [
        { name: 'azure', kind: 'azure-openai', upstream: azure.url, models: ['prod-gpt4o'], credential: { source: 'vault-azure-kv2', mount: 'secret', path: 'tollgate/{tenant}/azure' } },
      ]),
    });
  });
  after(async () => {
    await stack.stop();
    await azure.close();
    await bao.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the upstream receives api-key: <the KV v2 value> on /openai/deployments/<model>/chat/completions?api-version=…', async () => {
    const r = await fetch(`${stack.url}/azure/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'api-key': stack.keys.agent, 'content-type': 'application/json' },
      body: fixture('azure-openai/chat-request.json'),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.deepEqual(JSON.parse(text), JSON.parse(completion));
    const got = azure.requests.at(-1)!;
    assert.equal(got.path, '/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    assert.equal(got.headers['api-key'], azureKey);
    assert.equal(got.headers.authorization, undefined);
    assert.ok(!JSON.stringify(got.headers).includes(stack.keys.agent));
    const rec = stack.audit().filter((a) => a.provider === 'azure').at(-1);
    assert.equal(rec?.credential?.source, 'vault-azure-kv2:secret/tollgate/team-a/azure');
    assert.equal(rec.credential.version, 1);
  });

  it('the key is never printed', () => {
    const out = stack.tollgate.output() + readFileSync(stack.auditPath, 'utf8');
    assert.ok(!out.includes(azureKey));
  });
});
