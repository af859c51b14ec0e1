// Config schema and loading: valid and invalid files under test/fixtures/config/.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile, parseConfig, validateConfig } from '../../extproc/config/load.ts';
import type { Config, ConfigInput } from '../../extproc/config/schema.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const VALID = join(FIXTURES, 'valid');
const INVALID = join(FIXTURES, 'invalid');

interface Issue {
  readonly message: string;
  /** The "→ at" path z.prettifyError prints; undefined for an issue at the root. */
  readonly path: string | undefined;
}

/** Splits a ConfigError message (origin line, then z.prettifyError output) into its issues. */
function issuesOf(message: string): Issue[] {
  const issues: { message: string; path: string | undefined }[] = [];
  for (const line of message.split('\n').slice(1)) {
    if (line.startsWith('✖ ')) issues.push({ message: line.slice(2), path: undefined });
    else if (line.startsWith('  → at ')) {
      const last = issues.at(-1);
      assert.ok(last, `path line before any issue: ${line}`);
      last.path = line.slice('  → at '.length);
    }
  }
  return issues;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

type InvalidCase =
  | { readonly issues: readonly { readonly path: string | undefined; readonly message: RegExp }[]; readonly todo?: string }
  | { readonly yaml: RegExp; readonly todo?: string };

const HASH_MSG = /^must be "sha256:" followed by 64 lower-case hex digits/;
const PATTERN_MSG = /^must be a model name, optionally ending in "\*", or "\*" alone$/;
const URL_MSG = /^must be an absolute http:\/\/ or https:\/\/ URL$/;
const URL_PARTS_MSG = /^must not contain a query, fragment or user info$/;

/** Every file in invalid/ with the exact issues its error must list. */
const INVALID_CASES: Readonly<Record<string, InvalidCase>> = {
  'unknown-key-top-level.yaml': { issues: [{ path: undefined, message: /^Unrecognized key: "loggin"$/ }] },
  'unknown-key-provider.yaml': {
    issues: [
      { path: 'providers[0]', message: /^Unrecognized key: "model"$/ },
      { path: 'providers[0].models', message: /^is required \(list the models this provider serves\)$/ },
    ],
  },
  'models-missing.yaml': {
    issues: [{ path: 'providers[0].models', message: /^is required \(list the models this provider serves\)$/ }],
  },
  'mcp-grant-on-model-provider.yaml': {
    issues: [
      { path: 'providers[1].models', message: /^an MCP server serves no models: leave models out$/ },
      { path: 'identities[0].allow[0].mcp', message: /^provider "openai" is not an MCP server \(kind mcp\)$/ },
    ],
  },
  'unknown-key-nested.json': {
    issues: [
      { path: 'server.grpc', message: /^Unrecognized key: "prot"$/ },
      { path: 'identities[0].allow[0]', message: /^Unrecognized key: "modles"$/ },
    ],
  },
  'bad-port.yaml': {
    issues: [
      { path: 'server.grpc.port', message: /<=65535/ },
      { path: 'server.admin.port', message: />=0/ },
    ],
  },
  'port-not-a-number.json': { issues: [{ path: 'server.grpc.port', message: /expected number, received string/ }] },
  'port-collision.yaml': { issues: [{ path: 'server.admin.port', message: /^must differ from server\.grpc\.port$/ }] },
  'duplicate-provider-names.yaml': { issues: [{ path: 'providers[1].name', message: /^duplicate provider name "openai"$/ }] },
  'identity-unknown-provider.yaml': { issues: [{ path: 'identities[0].allow[1].provider', message: /^unknown provider "anthropic"$/ }] },
  'bad-key-hash.yaml': {
    issues: [
      { path: 'identities[0].apiKeyHashes[1]', message: HASH_MSG },
      { path: 'identities[0].apiKeyHashes[2]', message: HASH_MSG },
    ],
  },
  'duplicate-key-hash.yaml': { issues: [{ path: 'identities[1].apiKeyHashes[1]', message: /already used by another identity/ }] },
  'duplicate-identity-id.yaml': { issues: [{ path: 'identities[1].id', message: /^duplicate identity id "agent-1"$/ }] },
  'upstream-query.yaml': { issues: [{ path: 'providers[0].upstream', message: URL_PARTS_MSG }] },
  'upstream-userinfo.yaml': { issues: [{ path: 'providers[0].upstream', message: URL_PARTS_MSG }] },
  'upstream-fragment.yaml': { issues: [{ path: 'providers[0].upstream', message: URL_PARTS_MSG }] },
  'upstream-scheme.yaml': { issues: [{ path: 'providers[0].upstream', message: URL_MSG }] },
  'upstream-no-scheme.yaml': {
    issues: [{ path: 'providers[0].upstream', message: URL_MSG }],
  },
  'bad-model-pattern.yaml': {
    issues: [
      { path: 'providers[0].models[1]', message: PATTERN_MSG },
      { path: 'identities[0].allow[0].models[0]', message: PATTERN_MSG },
    ],
  },
  'empty-models.yaml': { issues: [{ path: 'providers[0].models', message: /expected array to have >=1 items/ }] },
  'no-providers.yaml': { issues: [{ path: 'providers', message: /expected array to have >=1 items/ }] },
  'bad-provider-name.yaml': { issues: [{ path: 'providers[0].name', message: /^must be lower-case letters, digits and dashes/ }] },
  'unknown-provider-kind.yaml': { issues: [{ path: 'providers[0].kind', message: /expected one of "openai"\|"openai-compatible"\|"anthropic"\|"azure-openai"\|"bedrock"\|"vertex"/ }] },
  'credential-discriminator.yaml': {
    issues: [
      { path: 'providers[0].credential.source', message: /^Invalid discriminator value\. Expected 'env' \| 'file' \| 'none' \| 'vault-kv2' \| 'vault-azure-kv2' \| 'vault-leased' \| 'vault-aws' \| 'vault-gcp'$/ },
      { path: 'providers[1].credential', message: /^Unrecognized key: "path"$/ },
      { path: 'providers[1].credential.name', message: /expected string, received undefined/ },
    ],
  },
  'credential-env-name.yaml': { issues: [{ path: 'providers[0].credential.name', message: /^must be an environment variable name$/ }] },
  'wrong-version.yaml': { issues: [{ path: 'version', message: /expected 1/ }] },
  'missing-version.json': { issues: [{ path: 'version', message: /expected 1/ }] },
  'max-request-body-too-small.yaml': { issues: [{ path: 'limits.maxRequestBodyBytes', message: />=1024/ }] },
  'max-request-body-too-large.json': {
    issues: [
      { path: 'limits.maxRequestBodyBytes', message: /<=67108864/ },
      { path: 'limits.maxResponseBodyBytes', message: /expected int/ },
    ],
  },
  'bad-log-level.yaml': { issues: [{ path: 'logging.level', message: /expected one of "fatal"/ }] },
  'audit-file-without-path.yaml': { issues: [{ path: 'audit.sink.path', message: /expected string, received undefined/ }] },
  'empty.yaml': { issues: [{ path: undefined, message: /expected object, received null/ }] },
  'not-a-mapping.yaml': { issues: [{ path: undefined, message: /expected object, received array/ }] },
  'duplicate-yaml-keys.yaml': { yaml: /Map keys must be unique at line 8, column 5/ },
  'duplicate-json-keys.json': { yaml: /Map keys must be unique at line 7, column 3/ },
  'malformed.yaml': { yaml: /at line 5, column 1/ },
  'malformed.json': { yaml: /at line 7, column 1/ },
  'alias-bomb.yaml': { yaml: /Excessive alias count/ },
};

describe('config: invalid files', () => {
  it('every file in invalid/ has a case, and every case has a file', () => {
    assert.deepEqual(readdirSync(INVALID).sort(), Object.keys(INVALID_CASES).sort());
  });

  for (const [file, expected] of Object.entries(INVALID_CASES)) {
    const options = expected.todo === undefined ? {} : { todo: expected.todo };
    it(`${file} is rejected with a ConfigError naming the offending field`, options, () => {
      const path = join(INVALID, file);
      const err = configError(() => loadConfigFile(path));
      assert.ok(err.message.startsWith(`${path}: `), 'the message starts with the file name');
      if ('yaml' in expected) {
        assert.match(err.message, /: not valid YAML\/JSON: /);
        assert.match(err.message, expected.yaml);
        assert.ok(err.cause instanceof Error, 'the parser error is kept as the cause');
        return;
      }
      assert.match(err.message.split('\n')[0] ?? '', /: invalid configuration$/);
      const issues = issuesOf(err.message);
      assert.equal(issues.length, expected.issues.length, `issues: ${JSON.stringify(issues)}`);
      for (const want of expected.issues) {
        const hit = issues.find((i) => i.path === want.path && want.message.test(i.message));
        assert.ok(hit, `no issue at ${want.path ?? '(root)'} matching ${String(want.message)} in ${JSON.stringify(issues)}`);
      }
    });
  }

  it('parseConfig reports the origin it is given, not a file name', () => {
    const text = readFileSync(join(INVALID, 'duplicate-provider-names.yaml'), 'utf8');
    const err = configError(() => parseConfig(text, 'inline-config'));
    assert.match(err.message, /^inline-config: invalid configuration\n/);
    assert.deepEqual(issuesOf(err.message).map((i) => i.path), ['providers[1].name']);
  });

  it('an upstream with a password is rejected without echoing the password', () => {
    const err = configError(() => loadConfigFile(join(INVALID, 'upstream-userinfo.yaml')));
    assert.doesNotMatch(err.message, /hunter2/);
  });

  it('a file that cannot be read is a ConfigError naming the file and the errno code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
    try {
      const missing = join(dir, 'nope.yaml');
      assert.match(configError(() => loadConfigFile(missing)).message, new RegExp(`^${missing}: cannot read configuration: ENOENT$`));
      assert.match(configError(() => loadConfigFile(dir)).message, /: cannot read configuration: EISDIR$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config: valid files', () => {
  const files = readdirSync(VALID).sort();

  it('the valid/ directory holds YAML and JSON files', () => {
    assert.ok(files.some((f) => f.endsWith('.yaml')));
    assert.ok(files.some((f) => f.endsWith('.json')));
  });

  for (const file of files) {
    it(`${file} loads`, () => {
      const cfg = loadConfigFile(join(VALID, file));
      assert.equal(cfg.version, 1);
      assert.ok(cfg.providers.length >= 1);
    });
  }

  it('the YAML and JSON spellings of a config parse to the same object', () => {
    assert.deepEqual(loadConfigFile(join(VALID, 'minimal.yaml')), loadConfigFile(join(VALID, 'minimal.json')));
    assert.deepEqual(loadConfigFile(join(VALID, 'full.yaml')), loadConfigFile(join(VALID, 'full.json')));
  });

  it('fills every default into a minimal config', () => {
    const cfg = loadConfigFile(join(VALID, 'minimal.yaml'));
    assert.deepEqual(cfg.server, {
      grpc: { host: '127.0.0.1', port: 9001, insecure: false, trustUnauthenticatedPeers: false, maxConcurrentStreams: 1000 },
      admin: { host: '127.0.0.1', port: 9002 },
      drainSeconds: 5,
      shutdownGraceSeconds: 10,
      authzContextMaxAgeSeconds: 30,
    });
    assert.deepEqual(cfg.limits, { maxRequestBodyBytes: 1024 * 1024, maxResponseBodyBytes: 4 * 1024 * 1024 });
    assert.deepEqual(cfg.audit.sink, { type: 'stdout' });
    assert.equal(cfg.audit.chain.enabled, false, 'audit chaining is opt-in');
    assert.equal(cfg.state.backend, 'memory', 'shared state defaults to in-process memory');
    assert.deepEqual([cfg.budgets, cfg.rateLimits, cfg.prices], [[], [], []]);
    assert.deepEqual(cfg.policy, { mode: 'enforce', waivers: [] });
    assert.deepEqual(cfg.logging, { level: 'info' });
    const ident = cfg.identities[0];
    assert.ok(ident);
    assert.equal(ident.tenant, 'default');
    assert.equal(ident.allow[0]?.provider, 'openai');
    assert.ok(!('models' in ident.allow[0]), 'no model restriction is invented');
    assert.equal(cfg.providers[0]?.timeoutSeconds, 300);
  });

  it('keeps explicit values, including zeros, instead of defaults', () => {
    const cfg = loadConfigFile(join(VALID, 'full.yaml'));
    assert.deepEqual(cfg.server, {
      grpc: { host: '0.0.0.0', port: 19001, insecure: false, trustUnauthenticatedPeers: false, maxConcurrentStreams: 1000 },
      admin: { host: '127.0.0.1', port: 19002 },
      drainSeconds: 0,
      shutdownGraceSeconds: 30,
      authzContextMaxAgeSeconds: 30,
    });
    assert.deepEqual(cfg.limits, { maxRequestBodyBytes: 2097152, maxResponseBodyBytes: 8388608 });
    assert.deepEqual(cfg.audit.sink, { type: 'file', path: '/var/log/tollgate/audit.jsonl' });
    assert.equal(cfg.logging.level, 'debug');
    assert.deepEqual(cfg.providers.map((p) => p.timeoutSeconds), [120, 300, 0.5]);
    assert.deepEqual(cfg.providers.map((p) => p.credential), [
      { source: 'env', name: 'OPENAI_API_KEY' },
      { source: 'file', path: '/run/secrets/anthropic' },
      { source: 'none' },
    ]);
    assert.deepEqual(cfg.identities.map((i) => i.tenant), ['team-a', 'team-b']);
  });

  it('fills defaults inside a partly given section', () => {
    const cfg = loadConfigFile(join(VALID, 'anchors.yaml'));
    assert.deepEqual(cfg.server.grpc, { host: '127.0.0.1', port: 0, insecure: false, trustUnauthenticatedPeers: false, maxConcurrentStreams: 1000 });
    assert.deepEqual(cfg.server.admin, { host: '127.0.0.1', port: 0 }, 'equal ports are fine when both are 0 (kernel-chosen)');
    assert.equal(cfg.server.drainSeconds, 5);
  });

  it('resolves YAML aliases', () => {
    const cfg = loadConfigFile(join(VALID, 'anchors.yaml'));
    assert.deepEqual(cfg.providers[1]?.models, ['gpt-4o', 'gpt-4o-mini']);
  });
});

describe('config: field tables', () => {
  const withProvider = (patch: Record<string, unknown>): ConfigInput => ({
    version: 1,
    providers: [{ name: 'p', kind: 'openai', upstream: 'https://api.openai.com/v1', models: ['*'], credential: { source: 'none' }, ...patch }],
    identities: [],
  });

  const pathsOf = (input: unknown): (string | undefined)[] => issuesOf(configError(() => validateConfig(input, 't')).message).map((i) => i.path);

  const goodUpstreams = [
    'https://api.openai.com/v1',
    'https://api.openai.com/v1/',
    'http://127.0.0.1:8080',
    'http://[::1]:11434/v1',
    'https://example.openai.azure.com/openai',
    'HTTPS://API.OPENAI.COM/v1',
  ];
  for (const upstream of goodUpstreams) {
    it(`accepts upstream ${upstream}`, () => {
      const cfg: Config = validateConfig(withProvider({ upstream }), 't');
      assert.equal(cfg.providers[0]?.upstream, upstream);
    });
  }

  const badUpstreams = [
    'https://api.openai.com/v1?api-version=1',
    'https://sk-live@api.openai.com/v1',
    'https://u:p@api.openai.com/v1',
    'https://api.openai.com/v1#x',
    'ftp://api.openai.com/v1',
    'ws://127.0.0.1:8080',
    'file:///etc/passwd',
  ];
  for (const upstream of badUpstreams) {
    it(`rejects upstream ${upstream} at providers[0].upstream`, () => {
      assert.deepEqual(pathsOf(withProvider({ upstream })), ['providers[0].upstream']);
    });
  }

  const goodPatterns = ['*', 'gpt-4o', 'gpt-4o*', 'claude-3-5-sonnet-20241022', 'meta-llama/Llama-3.1-8B-Instruct', 'ns:model@v1.2', 'a'.repeat(200), 'a'.repeat(200) + '*'];
  for (const pattern of goodPatterns) {
    it(`accepts model pattern ${pattern.slice(0, 40)}`, () => {
      assert.deepEqual(validateConfig(withProvider({ models: [pattern] }), 't').providers[0]?.models, [pattern]);
    });
  }

  const badPatterns = ['', '**', '*gpt', 'gpt-*-mini', 'gpt 4o', '-gpt', '.gpt', 'gpt-4o**', 'a'.repeat(201)];
  for (const pattern of badPatterns) {
    it(`rejects model pattern ${JSON.stringify(pattern.slice(0, 40))} at providers[0].models[0]`, () => {
      assert.deepEqual(pathsOf(withProvider({ models: [pattern] })), ['providers[0].models[0]']);
    });
  }

  const badTimeouts: readonly unknown[] = [0, -1, 3601, '30'];
  for (const timeoutSeconds of badTimeouts) {
    it(`rejects timeoutSeconds ${JSON.stringify(timeoutSeconds)}`, () => {
      assert.deepEqual(pathsOf(withProvider({ timeoutSeconds })), ['providers[0].timeoutSeconds']);
    });
  }

  const limitCases: readonly [unknown, boolean][] = [
    [1024, true],
    [64 * 1024 * 1024, true],
    [1023, false],
    [64 * 1024 * 1024 + 1, false],
    [2048.5, false],
    ['1048576', false],
  ];
  for (const [value, ok] of limitCases) {
    it(`maxRequestBodyBytes ${JSON.stringify(value)} is ${ok ? 'accepted' : 'rejected'}`, () => {
      const input = { ...withProvider({}), limits: { maxRequestBodyBytes: value } };
      if (ok) assert.equal(validateConfig(input, 't').limits.maxRequestBodyBytes, value);
      else assert.deepEqual(pathsOf(input), ['limits.maxRequestBodyBytes']);
    });
  }

  it('rejects the same key hash twice inside one identity', () => {
    const hash = 'sha256:' + 'a'.repeat(64);
    const input = { ...withProvider({}), identities: [{ id: 'x', apiKeyHashes: [hash, hash], allow: [] }] };
    assert.deepEqual(pathsOf(input), ['identities[0].apiKeyHashes[1]']);
  });

  it('rejects an identity with no way to match it (no key hashes, SPIFFE IDs or JWT subjects)', () => {
    const input = { ...withProvider({}), identities: [{ id: 'x', apiKeyHashes: [], allow: [] }] };
    assert.deepEqual(pathsOf(input), ['identities[0]']);
  });

  it('allows equal grpc and admin ports on different hosts', () => {
    const input = { ...withProvider({}), server: { grpc: { host: '127.0.0.1', port: 9001 }, admin: { host: '127.0.0.2', port: 9001 } } };
    assert.equal(validateConfig(input, 't').server.admin.port, 9001);
  });
});
