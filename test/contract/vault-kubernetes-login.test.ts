// Tollgate's own Vault login by Kubernetes, against a real OpenBao 2.7.2 dev server whose
// `auth/kubernetes` reviews service-account tokens at a loopback HTTPS fake of the Kubernetes API
// (POST /apis/authentication.k8s.io/v1/tokenreviews; CA and tokens made at run time). Proves: login
// with a token file and a KV v2 read; refusals (another service account, another namespace, a token
// the API does not know, a wrong audience, a wrong reviewer credential) with clear errors; the token
// file re-read on re-login after rotation; and no service-account or Vault token in any output.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveVaultConnection, vaultSchema, type VaultConfig } from '../../extproc/config/vault-schema.ts';
import type { Credential, CredentialScope } from '../../extproc/credentials/credential-source.ts';
import { createVaultRuntime, type VaultRuntime } from '../../extproc/credentials/vault/build.ts';
import { VaultError } from '../../extproc/credentials/vault/errors.ts';
import { serviceAccountTokenMinter, startFakeKubeApi, type FakeKubeApi, type ServiceAccountIdentity, type ServiceAccountTokenMinter } from '../helpers/fake-kube-api.ts';
import { startOpenBao, type OpenBao } from '../helpers/openbao.ts';

const NS = 'ai-gateway';
const SA = 'tollgate-extproc';
const AUDIENCE = 'vault';
const POLICY = `
path "secret/data/tollgate/*" { capabilities = ["read"] }
`;
const KV = { source: 'vault-kv2', mount: 'secret', path: 'tollgate/{provider}', field: 'api_key', as: 'api-key' } as const;

const reveal = (c: Credential | undefined): string | undefined => (c === undefined || c.kind === 'none' || c.kind === 'aws' ? undefined : c.secret.reveal());
const scope = (identity: string): CredentialScope => ({ tenant: 'team-a', identity, provider: 'openai' });

let dir: string;
let bao: OpenBao;
let kube: FakeKubeApi;
let minter: ServiceAccountTokenMinter;
const self: ServiceAccountIdentity = { namespace: NS, name: SA, uid: crypto.randomUUID() };
const runtimes: VaultRuntime[] = [];
/** Every secret this file creates: service-account tokens, the reviewer token, Vault tokens Tollgate got. */
const planted: string[] = [];
/** Everything that could be printed: error messages and stacks, observer events. */
const output: string[] = [];

function runtime(auth: Record<string, unknown>): { rt: VaultRuntime; calls: string[]; events: string[] } {
  const cfg: VaultConfig = vaultSchema.parse({ address: bao.address, auth, retries: 0, timeoutMs: 3_000 });
  const calls: string[] = [];
  const events: string[] = [];
  const rt = createVaultRuntime(cfg, resolveVaultConnection(cfg, {}), {
    observer: { vaultCall: (op, outcome) => calls.push(`${op}:${outcome}`), authEvent: (k) => events.push(k) },
  });
  runtimes.push(rt);
  return { rt, calls, events };
}

/** Mints a token with `claims` (default: this service account, audience "vault"), plants it, writes it to `file`. */
async function tokenFile(file: string, claims: Partial<ServiceAccountIdentity & { audiences: string[] }> = {}): Promise<{ path: string; token: string }> {
  const token = await minter.mint({ ...self, audiences: [AUDIENCE], ...claims });
  planted.push(token);
  const path = join(dir, file);
  writeFileSync(path, `${token}\n`);
  return { path, token };
}

const rejection = async (p: Promise<unknown>): Promise<VaultError> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof VaultError, `expected a VaultError, got ${String(err)}`);
  output.push(err.message, err.stack ?? '', err.cause instanceof Error ? `${err.cause.message}\n${err.cause.stack ?? ''}` : err.cause === undefined ? '' : JSON.stringify(err.cause));
  return err;
};

async function configureMount(mount: string, reviewerJwt: string): Promise<void> {
  await bao.api('POST', `sys/auth/${mount}`, { type: 'kubernetes' });
  await bao.api('POST', `auth/${mount}/config`, {
    kubernetes_host: kube.url,
    kubernetes_ca_cert: kube.caPem,
    token_reviewer_jwt: reviewerJwt,
    disable_local_ca_jwt: true,
  });
  await bao.api('POST', `auth/${mount}/role/tollgate`, {
    bound_service_account_names: [SA],
    bound_service_account_namespaces: [NS],
    audience: AUDIENCE,
    token_policies: ['tollgate-k8s'],
    token_ttl: '1h',
    token_max_ttl: '24h',
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-k8s-'));
  minter = await serviceAccountTokenMinter();
  [bao, kube] = await Promise.all([startOpenBao({ env: process.env }), startFakeKubeApi(dir)]);
  planted.push(kube.reviewerToken);
  await bao.api('POST', 'secret/data/tollgate/openai', { data: { api_key: 'sk-k8s-v1' } });
  await bao.api('PUT', 'sys/policies/acl/tollgate-k8s', { policy: POLICY });
  await configureMount('kubernetes', kube.reviewerToken);
  // A second mount whose reviewer credential the API server does not accept.
  const stranger = await minter.mint({ namespace: 'vault', name: 'not-a-reviewer', uid: crypto.randomUUID(), audiences: ['https://kubernetes.default.svc.cluster.local'] });
  planted.push(stranger);
  await configureMount('kube-bad-reviewer', stranger);
});

after(async () => {
  await Promise.allSettled(runtimes.map((r) => r.close()));
  await Promise.allSettled([bao.stop(), kube.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('OpenBao kubernetes auth: Tollgate logs in with a service-account token file', { timeout: 30_000 }, () => {
  it('logs in (default mount "kubernetes"), reads a KV v2 provider key, and Vault asked the API server with the reviewer token and audience', async () => {
    const { path, token } = await tokenFile('sa-token-v1');
    kube.admit('sa-v1', token, self, [AUDIENCE]);
    const reviewsBefore = kube.reviews.length;
    const { rt, calls, events } = runtime({ method: 'kubernetes', role: 'tollgate', jwtFile: path });
    await rt.start();
    assert.deepEqual(events, ['login']);
    const c = await rt.source(KV).fetch(scope('agent-1'));
    assert.equal(reveal(c), 'sk-k8s-v1');
    assert.deepEqual(calls, ['login_kubernetes:ok', 'kv2_read:ok']);
    assert.deepEqual(kube.reviews.slice(reviewsBefore), [{ label: 'sa-v1', reviewerBearer: true, audiences: [AUDIENCE], authenticated: true, status: 201 }]);

    const vaultToken = (await rt.auth.token()).reveal();
    planted.push(vaultToken);
    const look = (await bao.api('POST', 'auth/token/lookup', { token: vaultToken })) as { data: { meta: Record<string, string>; policies: string[]; path: string; ttl: number; renewable: boolean } };
    assert.equal(look.data.path, 'auth/kubernetes/login');
    assert.deepEqual(look.data.meta, { role: 'tollgate', service_account_name: SA, service_account_namespace: NS, service_account_uid: self.uid, service_account_secret_name: '' });
    assert.ok(look.data.policies.includes('tollgate-k8s'));
    assert.ok(rt.auth.expiresAt !== undefined && rt.auth.expiresAt > Date.now() + 3_000_000, 'the 1 h token TTL is tracked');
    assert.ok(look.data.renewable && look.data.ttl > 3_000);

    // The role's policy is enforced on the token Tollgate got: a path outside it is a 403.
    await bao.api('POST', 'secret/data/other/openai', { data: { api_key: 'sk-not-yours' } });
    const denied = await rejection(rt.source({ ...KV, path: 'other/{provider}' }).fetch(scope('agent-1')));
    assert.equal(denied.status, 403);
  });

  // Each row: a token that must not log in. `admitAs` is what the fake API server says the token is
  // (undefined: it does not know the token); `reviewed` is whether Vault got as far as a TokenReview.
  const refusals: {
    name: string;
    claims?: Partial<ServiceAccountIdentity & { audiences: string[] }>;
    admitAs?: ServiceAccountIdentity;
    mount?: string;
    reason: RegExp;
    reviewed: false | { authenticated: boolean; reviewerBearer: boolean; status: number };
  }[] = [
    { name: 'another service account in the same namespace (known to the API)', claims: { name: 'batch-worker', uid: crypto.randomUUID() }, admitAs: { namespace: NS, name: 'batch-worker', uid: 'x' }, reason: /service account name not authorized/, reviewed: false },
    { name: 'the same name in another namespace (known to the API)', claims: { namespace: 'default' }, admitAs: { namespace: 'default', name: SA, uid: self.uid }, reason: /namespace not authorized/, reviewed: false },
    { name: 'a token for another audience', claims: { audiences: ['https://kubernetes.default.svc.cluster.local'] }, admitAs: self, reason: /aud|audience/, reviewed: false },
    { name: 'right claims, but the API server does not know the token (forged or deleted)', reason: /permission denied/, reviewed: { authenticated: false, reviewerBearer: true, status: 201 } },
    { name: 'right claims, but the API server says it belongs to another service account', admitAs: { namespace: NS, name: 'batch-worker', uid: self.uid }, reason: /permission denied/, reviewed: { authenticated: true, reviewerBearer: true, status: 201 } },
    { name: 'a valid token, but Vault\'s reviewer credential is refused by the API server', admitAs: self, mount: 'kube-bad-reviewer', reason: /permission denied/, reviewed: { authenticated: false, reviewerBearer: false, status: 401 } },
  ];
  for (const [i, row] of refusals.entries()) {
    it(`refuses ${row.name}: HTTP 403, a clear reason, no token in the error`, async () => {
      const { path, token } = await tokenFile(`refused-${i}`, row.claims ?? {});
      if (row.admitAs !== undefined) kube.admit(`refused-${i}`, token, row.admitAs, row.claims?.audiences ?? [AUDIENCE]);
      const reviewsBefore = kube.reviews.length;
      const { rt, calls, events } = runtime({ method: 'kubernetes', role: 'tollgate', jwtFile: path, ...(row.mount === undefined ? {} : { mount: row.mount }) });
      const err = await rejection(rt.start());
      await rt.close(); // stops the background re-login before it can add reviews
      assert.equal(err.status, 403);
      assert.equal(err.op, 'login_kubernetes');
      assert.match(err.message, /^vault login_kubernetes: HTTP 403/);
      assert.match(err.message, row.reason);
      assert.ok(!err.message.includes(token) && !(err.stack ?? '').includes(token), 'the service-account token is not in the error');
      assert.deepEqual(calls, ['login_kubernetes:denied']);
      assert.deepEqual(events, ['login_failed']);
      const seen = kube.reviews.slice(reviewsBefore);
      if (row.reviewed === false) assert.deepEqual(seen, [], 'Vault refused on the claims, before asking the API server');
      else {
        assert.equal(seen.length, 1);
        const [r] = seen;
        assert.deepEqual({ authenticated: r?.authenticated, reviewerBearer: r?.reviewerBearer, status: r?.status }, row.reviewed);
      }
    });
  }

  it('re-reads the token file on re-login: rotate the file, revoke the Vault token, the next read logs in with the new token', async () => {
    const first = await tokenFile('rotating-token');
    kube.admit('rot-v1', first.token, self, [AUDIENCE]);
    const { rt, calls } = runtime({ method: 'kubernetes', role: 'tollgate', jwtFile: first.path });
    await rt.start();
    const t1 = (await rt.auth.token()).reveal();
    planted.push(t1);
    assert.equal(kube.reviews.at(-1)?.label, 'rot-v1');

    // The kubelet rotates the projected token: new file content; the old token is no longer valid.
    const second = await tokenFile('rotating-token');
    assert.equal(second.path, first.path);
    kube.forget(first.token);
    kube.admit('rot-v2', second.token, self, [AUDIENCE]);
    await bao.api('POST', 'auth/token/revoke', { token: t1 });

    const c = await rt.source(KV).fetch(scope('agent-1'));
    assert.equal(reveal(c), 'sk-k8s-v1');
    assert.deepEqual(calls, ['login_kubernetes:ok', 'kv2_read:denied', 'login_kubernetes:ok', 'kv2_read:ok']);
    assert.deepEqual(kube.reviews.slice(-1).map((r) => [r.label, r.authenticated]), [['rot-v2', true]], 'the re-login sent the rotated token');
    const t2 = (await rt.auth.token()).reveal();
    planted.push(t2);
    assert.notEqual(t2, t1);

    // And the old file content would no longer have worked: the API server now refuses it.
    const stale = runtime({ method: 'kubernetes', role: 'tollgate', jwtFile: join(dir, 'stale') });
    writeFileSync(join(dir, 'stale'), first.token);
    const err = await rejection(stale.rt.start());
    await stale.rt.close();
    assert.equal(err.status, 403);
    assert.equal(kube.reviews.at(-1)?.label, 'unknown');
  });

  it('a custom mount is honoured (auth/<mount>/login)', async () => {
    await bao.api('POST', 'sys/auth/k8s-east', { type: 'kubernetes' });
    await bao.api('POST', 'auth/k8s-east/config', { kubernetes_host: kube.url, kubernetes_ca_cert: kube.caPem, token_reviewer_jwt: kube.reviewerToken, disable_local_ca_jwt: true });
    await bao.api('POST', 'auth/k8s-east/role/east', { bound_service_account_names: [SA], bound_service_account_namespaces: [NS], audience: AUDIENCE, token_policies: ['tollgate-k8s'], token_ttl: '10m' });
    const { path, token } = await tokenFile('east-token');
    kube.admit('east', token, self, [AUDIENCE]);
    const { rt, calls } = runtime({ method: 'kubernetes', mount: 'k8s-east', role: 'east', jwtFile: path });
    await rt.start();
    const vaultToken = (await rt.auth.token()).reveal();
    planted.push(vaultToken);
    const look = (await bao.api('POST', 'auth/token/lookup', { token: vaultToken })) as { data: { path: string; ttl: number } };
    assert.equal(look.data.path, 'auth/k8s-east/login');
    assert.ok(look.data.ttl > 0 && look.data.ttl <= 600);
    assert.equal(reveal(await rt.source(KV).fetch(scope('a'))), 'sk-k8s-v1');
    assert.deepEqual(calls, ['login_kubernetes:ok', 'kv2_read:ok']);
    // The same role name on the default mount does not exist: the mount really selects the backend.
    const wrong = runtime({ method: 'kubernetes', role: 'east', jwtFile: path });
    const err = await rejection(wrong.rt.start());
    await wrong.rt.close();
    assert.equal(err.status, 400);
    assert.match(err.message, /invalid role name/);
  });
});

describe('no service-account or Vault token in any output', () => {
  it('greps errors, observer events, the fake API server log and the OpenBao server output for every planted token', async () => {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    assert.ok(planted.length >= 8, `planted ${planted.length}`);
    const texts = [...output, ...kube.log, JSON.stringify(kube.reviews), bao.output()];
    assert.ok(output.length > 0 && kube.log.length > 0 && bao.output().length > 0, 'there is output to grep');
    for (const secret of planted) {
      const signature = secret.split('.').at(-1) ?? secret;
      for (const t of texts) {
        assert.ok(!t.includes(secret), 'a planted token appeared in output');
        if (signature.length >= 16) assert.ok(!t.includes(signature), 'a planted token signature appeared in output');
      }
    }
  });
});
