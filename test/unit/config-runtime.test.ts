// The policy compiled from a config and the service material read at start: credential sources,
// provider routing by path, policy revision, identity lookups.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashApiKey } from '../../extproc/identity/api-key.ts';
import { ConfigError, loadConfigFile, parseConfig, validateConfig } from '../../extproc/config/load.ts';
import { loadServiceMaterial } from '../../extproc/service-material.ts';
import { createAuthzContextCodec, type AuthzContextCodec } from '../../extproc/core/authz-context.ts';
import { createCredentialBroker, type CredentialBroker } from '../../extproc/credentials/broker.ts';
import { compilePolicy, policyRevisionOf, providerForPath, type Policy } from '../../extproc/policy/policy.ts';

/** What a request sees: the compiled policy, and the broker over the sources read at start. */
type Runtime = Policy & { readonly credentials: CredentialBroker; readonly policyRevision: string };
function buildRuntime(cfg: Config, env: Readonly<Record<string, string | undefined>>): Runtime {
  const material = loadServiceMaterial(cfg, env);
  const policy = compilePolicy(cfg);
  assert.ok(Object.isFrozen(policy), 'the compiled policy is frozen');
  return Object.freeze({ ...policy, policyRevision: policy.revision, credentials: createCredentialBroker(material.credentialSources, { refreshMs: 5_000, expiryMarginMs: 30_000 }) });
}
import type { Config, ConfigInput } from '../../extproc/config/schema.ts';

const VALID = fileURLToPath(new URL('../fixtures/config/valid/', import.meta.url));
const KEY_A1 = hashApiKey('key-a1');
const KEY_A2 = hashApiKey('key-a2');
const KEY_B = hashApiKey('key-b');

function input(credentialFile: string): ConfigInput {
  return {
    version: 1,
    providers: [
      { name: 'openai', kind: 'openai', upstream: 'https://api.openai.com/v1', models: ['gpt-4o', 'gpt-4o-mini'], credential: { source: 'env', name: 'OPENAI_API_KEY' } },
      { name: 'anthropic', kind: 'anthropic', upstream: 'https://api.anthropic.com', models: ['claude-*'], credential: { source: 'file', path: credentialFile } },
      { name: 'local-vllm', kind: 'openai-compatible', upstream: 'http://127.0.0.1:8000/v1', models: ['*'], credential: { source: 'none' } },
    ],
    identities: [
      {
        id: 'agent-a',
        tenant: 'team-a',
        apiKeyHashes: [KEY_A1, KEY_A2],
        allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }, { provider: 'anthropic' }],
      },
      { id: 'agent-b', apiKeyHashes: [KEY_B], allow: [] },
    ],
  };
}

describe('buildRuntime', () => {
  let dir = '';
  let credFile = '';
  const env = { OPENAI_API_KEY: '  sk-env-value \n' };
  let runtime: Runtime;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-runtime-'));
    credFile = join(dir, 'anthropic.key');
    writeFileSync(credFile, 'sk-ant-file-value\n');
    runtime = buildRuntime(validateConfig(input(credFile), 't'), env);
  });
  after(async () => {
    await runtime.credentials.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const runtimeError = (cfg: Config, e: Readonly<Record<string, string | undefined>>): ConfigError => {
    try {
      buildRuntime(cfg, e);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      return err;
    }
    assert.fail('expected buildRuntime to throw');
  };

  const missingEnv: readonly [string, Readonly<Record<string, string | undefined>>][] = [
    ['unset', {}],
    ['undefined', { OPENAI_API_KEY: undefined }],
    ['empty', { OPENAI_API_KEY: '' }],
    ['blank', { OPENAI_API_KEY: ' \t\n' }],
  ];
  for (const [label, e] of missingEnv) {
    it(`an ${label} credential env var is a ConfigError naming providers[0].credential and the variable`, () => {
      const err = runtimeError(validateConfig(input(credFile), 't'), e);
      assert.match(err.message, /^providers\[0\]\.credential \(openai\): /);
      assert.match(err.message, /OPENAI_API_KEY/);
    });
  }

  it('a missing credential file is a ConfigError naming providers[1].credential and ENOENT', () => {
    const err = runtimeError(validateConfig(input(join(dir, 'absent.key')), 't'), env);
    assert.match(err.message, /^providers\[1\]\.credential \(anthropic\): ENOENT$/);
  });

  it('an empty credential file is a ConfigError naming providers[1].credential', () => {
    const empty = join(dir, 'empty.key');
    writeFileSync(empty, '\n');
    assert.match(runtimeError(validateConfig(input(empty), 't'), env).message, /^providers\[1\]\.credential \(anthropic\): /);
  });

  it('an empty credential file is reported as empty, not just by its error code', () => {
    const empty = join(dir, 'empty2.key');
    writeFileSync(empty, '');
    assert.match(runtimeError(validateConfig(input(empty), 't'), env).message, /is empty/);
  });

  it('serves the env and file credentials through the broker, trimmed', async () => {
    const scope = { tenant: 'team-a', identity: 'agent-a' };
    const openai = await runtime.credentials.get({ ...scope, provider: 'openai' });
    assert.equal(openai.kind, 'api-key');
    assert.equal(openai.secret.reveal(), 'sk-env-value');
    const anthropic = await runtime.credentials.get({ ...scope, provider: 'anthropic' });
    assert.equal(anthropic.kind === 'api-key' ? anthropic.secret.reveal() : undefined, 'sk-ant-file-value');
    const local = await runtime.credentials.get({ ...scope, provider: 'local-vllm' });
    assert.equal(local.kind, 'none');
  });

  it('builds one provider per entry with its kind, path prefix and model matcher', () => {
    assert.deepEqual([...runtime.providers.keys()], ['openai', 'anthropic', 'local-vllm']);
    const table: readonly [string, string, string][] = [
      ['openai', 'openai', '/openai/'],
      ['anthropic', 'anthropic', '/anthropic/'],
      ['local-vllm', 'openai-compatible', '/local-vllm/'],
    ];
    for (const [name, kind, prefix] of table) {
      const p = runtime.providers.get(name);
      assert.ok(p);
      assert.equal(p.kind.kind, kind);
      assert.equal(p.pathPrefix, prefix);
      assert.equal(p.config.name, name);
    }
    const openai = runtime.providers.get('openai')!;
    assert.equal(openai.allowsModel('gpt-4o'), true);
    assert.equal(openai.allowsModel('gpt-4o-2024-08-06'), false);
    assert.equal(runtime.providers.get('anthropic')!.allowsModel('claude-sonnet-4'), true);
    assert.equal(runtime.providers.get('anthropic')!.allowsModel('gpt-4o'), false);
    assert.equal(runtime.providers.get('local-vllm')!.allowsModel('anything/at-all'), true);
  });

  const paths: readonly [string, string | undefined][] = [
    ['/openai/v1/chat/completions', 'openai'],
    ['/openai/', 'openai'],
    ['/anthropic/v1/messages', 'anthropic'],
    ['/local-vllm/v1/completions?x=1', 'local-vllm'],
    ['/openai', undefined],
    ['/openai?x=/', undefined],
    ['/OpenAI/v1/chat/completions', undefined],
    ['/unknown/v1/chat/completions', undefined],
    ['/v1/chat/completions', undefined],
    ['openai/v1/chat/completions', undefined],
    ['//openai/v1', undefined],
    ['/', undefined],
    ['', undefined],
  ];
  for (const [path, expected] of paths) {
    it(`providerForPath(${JSON.stringify(path)}) is ${expected ?? 'none'}`, () => {
      assert.equal(providerForPath(runtime, path)?.name, expected);
    });
  }

  it('maps every key hash of an identity to the same identity runtime', () => {
    const a1 = runtime.identitiesByKeyHash.get(KEY_A1);
    assert.ok(a1);
    assert.equal(runtime.identitiesByKeyHash.get(KEY_A2), a1);
    assert.equal(runtime.identitiesById.get('agent-a'), a1);
    assert.equal(a1.id, 'agent-a');
    assert.equal(a1.tenant, 'team-a');
    const b = runtime.identitiesByKeyHash.get(KEY_B);
    assert.equal(b?.id, 'agent-b');
    assert.equal(b.tenant, 'default');
    assert.equal(b.providers.size, 0);
    assert.equal(runtime.identitiesByKeyHash.get(hashApiKey('key-unknown')), undefined);
    assert.equal(runtime.identitiesById.get('agent-c'), undefined);
    assert.equal(runtime.identitiesByKeyHash.size, 3);
    assert.equal(runtime.identitiesById.size, 2);
  });

  it("keeps each identity's own model restriction, or none to use the provider's list", () => {
    const a = runtime.identitiesById.get('agent-a')!;
    assert.deepEqual([...a.providers.keys()], ['openai', 'anthropic']);
    const openai = a.providers.get('openai')?.[0]?.models;
    assert.ok(openai);
    assert.equal(openai('gpt-4o-mini'), true);
    assert.equal(openai('gpt-4o'), false);
    assert.equal(a.providers.get('anthropic')?.[0]?.models, undefined);
    assert.equal(a.providers.get('openai')?.[0]?.rule, 'identities[agent-a].allow[0]');
    assert.equal(a.providers.has('anthropic'), true);
    assert.equal(a.providers.has('local-vllm'), false);
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(runtime));
    assert.ok(Object.isFrozen(runtime.providers.get('openai')));
    assert.ok(Object.isFrozen(runtime.identitiesById.get('agent-a')));
  });
});

describe('policyRevision', () => {
  const revisionOfText = (text: string): string => policyRevisionOf(parseConfig(text, 't'));
  const base = `
version: 1
providers:
  - { name: p, kind: openai, upstream: "https://api.openai.com/v1", models: ["gpt-4o"], credential: { source: none } }
identities:
  - { id: a, apiKeyHashes: ["${KEY_A1}"], allow: [{ provider: p }] }
`;

  it('is 16 lower-case hex digits', () => {
    assert.match(revisionOfText(base), /^[0-9a-f]{16}$/);
  });

  const same: readonly [string, string][] = [
    ['the YAML and JSON spellings', 'json'],
    ['keys in another order', `
identities:
  - { allow: [{ provider: p }], apiKeyHashes: ["${KEY_A1}"], id: a }
providers:
  - { credential: { source: none }, models: ["gpt-4o"], upstream: "https://api.openai.com/v1", kind: openai, name: p }
version: 1
`],
    // The revision covers policy content only: server, logging and audit settings do not change a decision.
    ['another log level', `${base}logging: { level: debug }\n`],
    ['defaults spelled out', `${base}
server: { grpc: { host: 127.0.0.1, port: 9001 }, drainSeconds: 5 }
logging: { level: info }
audit: { sink: { type: stdout } }
`],
  ];
  for (const [label, text] of same) {
    it(`is the same for ${label}`, () => {
      const other = text === 'json' ? JSON.stringify(parseConfig(base, 't')) : text;
      assert.equal(revisionOfText(other), revisionOfText(base));
    });
  }

  const different: readonly [string, string][] = [
    ['another model', base.replace('["gpt-4o"]', '["gpt-4o", "gpt-4o-mini"]')],
    ['another tenant', base.replace('{ id: a,', '{ id: a, tenant: t2,')],
    ['another identity model restriction', base.replace('{ provider: p }', '{ provider: p, models: ["gpt-4o"] }')],
  ];
  for (const [label, text] of different) {
    it(`differs for ${label}`, () => {
      assert.notEqual(revisionOfText(text), revisionOfText(base));
    });
  }

  it('the runtime carries the revision of its config', async () => {
    const cfg = loadConfigFile(join(VALID, 'minimal.yaml'));
    const rt = buildRuntime(cfg, {});
    assert.equal(rt.policyRevision, policyRevisionOf(cfg));
    assert.equal(rt.policyRevision, buildRuntime(loadConfigFile(join(VALID, 'minimal.json')), {}).policyRevision);
    await rt.credentials.close();
  });
});

describe('buildRuntime: the authz context key and gRPC TLS material', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-runtime-key-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const minimal = (server: ConfigInput['server']): Config =>
    validateConfig({ version: 1, server, providers: [{ name: 'p', kind: 'openai', upstream: 'https://example.com', models: ['*'], credential: { source: 'none' } }], identities: [] }, 'test');
  const ctx = { identity: { id: 'a', tenant: 't', kind: 'api_key' as const }, provider: 'p', decisionId: 'd', policyRevision: 'r', method: 'GET', path: '/p/v1/models', withoutBody: true, claims: '{}', shadow: '', issuedAtMs: Date.now() };
  const codec = (cfg: Config, e: Readonly<Record<string, string | undefined>>): AuthzContextCodec => createAuthzContextCodec(loadServiceMaterial(cfg, e).authzContextKey, 30_000);
  const fields = (rec: Record<string, string>) => (name: string): string | undefined => rec[name];

  it('replicas configured with the same key verify each other\'s seals; random keys do not', () => {
    const key = 'k'.repeat(40);
    const a = codec(minimal({ authzContextKey: { source: 'env', name: 'TG_KEY' } }), { TG_KEY: key });
    writeFileSync(join(dir, 'key'), `${key}\n`);
    const b = codec(minimal({ authzContextKey: { source: 'file', path: join(dir, 'key') } }), {});
    assert.deepEqual(b.decode(fields(a.encode(ctx)), Date.now()), ctx, 'env and file sources yield the same key');
    const random1 = codec(minimal({}), {});
    const random2 = codec(minimal({}), {});
    assert.equal(random2.decode(fields(random1.encode(ctx)), Date.now()), 'seal');
  });

  it('a key shorter than 32 bytes is a ConfigError naming the field and the source', () => {
    assert.throws(() => buildRuntime(minimal({ authzContextKey: { source: 'env', name: 'TG_KEY' } }), { TG_KEY: 'short' }),
      (err: unknown) => err instanceof ConfigError && /server\.authzContextKey: must hold at least 32 bytes \(environment variable TG_KEY\)/.test(err.message) && !err.message.includes('short'));
  });

  it('an unreadable key file or TLS file is a ConfigError naming the field and the path', () => {
    const missing = join(dir, 'missing');
    assert.throws(() => buildRuntime(minimal({ authzContextKey: { source: 'file', path: missing } }), {}),
      (err: unknown) => err instanceof ConfigError && err.message === `server.authzContextKey: ${missing}: ENOENT`);
    writeFileSync(join(dir, 'not-pem'), 'hello');
    assert.throws(() => buildRuntime(minimal({ grpc: { tls: { certFile: join(dir, 'not-pem'), keyFile: missing, clientCaFile: missing } } }), {}),
      (err: unknown) => err instanceof ConfigError && err.message === `server.grpc.tls.certFile: ${join(dir, 'not-pem')} is not PEM`);
  });
});

describe('buildRuntime: a Vault lease renewal that could never be served', () => {
  const leased = (renewIncrementS: number): Config => validateConfig({
    version: 1,
    vault: { address: 'http://127.0.0.1:8200', expiryMarginMs: 60_000 },
    providers: [{ name: 'p', kind: 'openai', upstream: 'https://example.com', models: ['*'], credential: { source: 'vault-leased', path: 'database/creds/{tenant}', renewIncrementS } }],
    identities: [],
  }, 'test');
  const env = { VAULT_TOKEN: 'hvs.test-token' };

  it('refuses renewIncrementS not longer than vault.expiryMarginMs at load, naming both', () => {
    assert.throws(() => loadServiceMaterial(leased(60), env), (e: unknown) => e instanceof ConfigError && /^providers\[0\]\.credential \(p\): renewIncrementS \(60 s\) is not longer than vault\.expiryMarginMs \(60000 ms\)/.test(e.message));
  });

  it('accepts a renewal longer than the margin', () => {
    assert.ok(loadServiceMaterial(leased(61), env).credentialSources.has('p'));
  });
});
