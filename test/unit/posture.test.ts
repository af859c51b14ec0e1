// `tollgate posture`: each control over configs that hold it and configs that break it, the fail-on
// threshold, the text and JSON output, and the CLI's exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { validateConfig } from '../../extproc/config/load.ts';
import { runPosture } from '../../extproc/cli/posture.ts';
import { assessPosture, formatPostureJson, formatPostureText, type ControlResult, type PostureReport } from '../../extproc/posture/assess.ts';
import { NOT_APPLICABLE, SEVERITIES, type Control } from '../../extproc/posture/control.ts';
import { CONTROLS } from '../../extproc/posture/controls.ts';
import { FRAMEWORK_TITLES } from '../../extproc/posture/frameworks.ts';

const NOW = new Date('2026-10-01T12:00:00Z');
const HASH = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

type Obj = Record<string, unknown>;

/** The weakest config the schema accepts: static env key, API keys, plaintext gRPC on loopback. */
function baseInput(): Obj {
  return {
    version: 1,
    providers: [{ name: 'openai', kind: 'openai', upstream: 'https://api.openai.com', models: ['gpt-4o-mini'], credential: { source: 'env', name: 'OPENAI_API_KEY' } }],
    identities: [{ id: 'agent', apiKeyHashes: [HASH(1)], allow: [{ provider: 'openai' }] }],
  };
}

/** Validated by the real schema (so every field the table uses exists today), then given extra sections. */
function parsed(input: Obj, extra: Obj = {}): Obj {
  return { ...(validateConfig(input, 'test') as unknown as Obj), ...extra };
}

const result = (report: PostureReport, id: string): ControlResult => {
  const r = report.results.find((x) => x.id === id);
  assert.ok(r, `control ${id} is in the report`);
  return r;
};
const assess = (cfg: unknown): PostureReport => assessPosture(cfg, { source: 't', failOn: 'high', now: NOW });

const JWT_SECTION: Obj = { jwt: { issuers: [{ issuer: 'https://issuer.example', audiences: ['tollgate'], jwks: { remote: { url: 'https://issuer.example/jwks' } } }] } };
/** Sections the hardened config adds on top of what it validates through the schema. */
const HARDENED_EXTRA: Obj = {
  dlp: { enabled: true, response: { scan: true }, actions: [{ detectors: ['secret.*'], action: 'block' }] },
  audit: { sink: { type: 'stdout' }, chain: { enabled: true, algorithm: 'hmac-sha256', key: { source: 'file', path: '/run/k' } } },
  budgets: [{ name: 'daily', per: 'identity', metric: 'tokens', limit: 1_000_000, window: '1d' }],
  rateLimits: [{ name: 'rpm', per: 'identity', unit: 'requests', limit: 60, window: '1m' }],
  anomaly: { enabled: true, deny: [] },
  state: { backend: 'redis', url: 'rediss://redis.internal:6380/0', password: { source: 'file', path: '/run/redis-password' }, onError: 'deny' },
};

function hardenedInput(): Obj {
  return {
    version: 1,
    server: {
      grpc: { host: '0.0.0.0', port: 9001, tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', clientCaFile: '/tls/ca.crt' } },
      admin: { host: '0.0.0.0', port: 9002, killSwitchToken: { source: 'file', path: '/run/kill' } },
    },
    vault: { address: 'https://vault.internal:8200', auth: { method: 'kubernetes', role: 'tollgate' } },
    providers: [{
      name: 'openai', kind: 'openai', upstream: 'https://api.openai.com', models: ['gpt-4o-mini'],
      credential: { source: 'vault-leased', path: 'openai/creds/{tenant}' },
      owner: { team: 'platform', contact: 'platform@example.com' }, reviewBy: '2027-01-01',
    }],
    identity: JWT_SECTION,
    identities: [{ id: 'agent', jwtSubjects: [{ issuer: 'https://issuer.example', subject: 'agent' }], allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }], owner: { team: 'ml', contact: 'ml@example.com' }, reviewBy: '2026-12-31' }],
  };
}

/** Each row: a config and what one control must say about it. */
interface Row {
  readonly name: string;
  readonly cfg: () => unknown;
  readonly id: string;
  readonly status: ControlResult['status'];
  readonly severity?: ControlResult['severity'];
  readonly field?: string;
  readonly message?: RegExp;
}

const withProvider = (p: Obj): Obj => ({ ...baseInput(), providers: [{ name: 'openai', kind: 'openai', models: ['gpt-4o-mini'], upstream: 'https://api.openai.com', ...p }] });
const vaultInput = (vault: Obj, credential: Obj = { source: 'vault-kv2', path: 'openai/{tenant}' }): Obj => ({ ...withProvider({ credential }), vault });

const ROWS: readonly Row[] = [
  { name: 'API keys only', cfg: () => parsed(baseInput()), id: 'identity.workload-auth', status: 'gap', severity: 'high', field: 'identity.jwt', message: /only with static Tollgate API keys/ },
  { name: 'JWT issuer configured', cfg: () => parsed({ ...baseInput(), identity: JWT_SECTION }), id: 'identity.workload-auth', status: 'pass' },
  { name: 'SPIFFE mTLS configured', cfg: () => parsed(baseInput(), { identity: { mtls: { trustDomains: [{ name: 'prod.example' }] } } }), id: 'identity.workload-auth', status: 'pass' },
  { name: 'API keys alongside JWT', cfg: () => parsed({ ...baseInput(), identity: JWT_SECTION }), id: 'identity.api-keys-remaining', status: 'gap', severity: 'low', message: /1 identities still accept a static API key: agent/ },
  { name: 'API keys without workload identity', cfg: () => parsed(baseInput()), id: 'identity.api-keys-remaining', status: 'not-applicable' },
  { name: 'env credential', cfg: () => parsed(baseInput()), id: 'credentials.vault-issued', status: 'gap', severity: 'high', field: 'providers[].credential.source', message: /provider openai: a static key from an environment variable/ },
  { name: 'file credential', cfg: () => parsed(withProvider({ credential: { source: 'file', path: '/k' } })), id: 'credentials.vault-issued', status: 'gap', message: /from a file/ },
  { name: 'no credential (local model)', cfg: () => parsed(withProvider({ credential: { source: 'none' }, upstream: 'http://127.0.0.1:11434' })), id: 'credentials.vault-issued', status: 'pass' },
  { name: 'vault-kv2 credential', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'kubernetes', role: 'r' } })), id: 'credentials.vault-issued', status: 'pass' },
  { name: 'vault-kv2 is long-lived', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'kubernetes', role: 'r' } })), id: 'credentials.short-lived', status: 'gap', severity: 'medium', message: /long-lived key read from Vault KV/ },
  { name: 'vault-aws is short-lived', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'kubernetes', role: 'r' } }, { source: 'vault-aws', endpoint: 'sts', role: 'bedrock' })), id: 'credentials.short-lived', status: 'pass' },
  { name: 'short-lived without Vault', cfg: () => parsed(baseInput()), id: 'credentials.short-lived', status: 'not-applicable' },
  { name: 'one Vault path for everyone', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'kubernetes', role: 'r' } }, { source: 'vault-kv2', path: 'openai/shared' })), id: 'credentials.per-identity', status: 'gap', severity: 'low', message: /every identity shares one credential/ },
  { name: 'Vault path per tenant', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'kubernetes', role: 'r' } })), id: 'credentials.per-identity', status: 'pass' },
  { name: 'plaintext gRPC on 0.0.0.0', cfg: () => parsed({ ...baseInput(), server: { grpc: { host: '0.0.0.0' } } }), id: 'transport.grpc-tls', status: 'gap', severity: 'high', field: 'server.grpc.tls', message: /0\.0\.0\.0/ },
  { name: 'plaintext gRPC on a service name', cfg: () => parsed({ ...baseInput(), server: { grpc: { host: 'tollgate.ns.svc' } } }), id: 'transport.grpc-tls', status: 'gap' },
  { name: 'plaintext gRPC on 127.0.0.2', cfg: () => parsed({ ...baseInput(), server: { grpc: { host: '127.0.0.2' } } }), id: 'transport.grpc-tls', status: 'pass' },
  { name: 'gRPC default host', cfg: () => parsed(baseInput()), id: 'transport.grpc-tls', status: 'pass' },
  { name: 'mTLS on 0.0.0.0', cfg: () => parsed(hardenedInput()), id: 'transport.grpc-tls', status: 'pass' },
  { name: 'SPIFFE without mTLS to Envoy', cfg: () => parsed({ ...baseInput(), identity: { mtls: { trustDomains: [{ name: 'prod.example' }] } } }), id: 'transport.grpc-peer-claims', status: 'gap', severity: 'critical', message: /serve` refuses to start/ },
  { name: 'SPIFFE with trustUnauthenticatedPeers', cfg: () => parsed({ ...baseInput(), server: { grpc: { trustUnauthenticatedPeers: true } }, identity: { mtls: { trustDomains: [{ name: 'prod.example' }] } } }), id: 'transport.grpc-peer-claims', status: 'gap', severity: 'critical', field: 'server.grpc.trustUnauthenticatedPeers', message: /any client of the gRPC port can claim any SPIFFE identity/ },
  { name: 'SPIFFE with mTLS and allowedClients', cfg: () => parsed({ ...hardenedInput(), server: { grpc: { host: '0.0.0.0', tls: { certFile: '/c', keyFile: '/k', clientCaFile: '/ca', allowedClients: ['spiffe://prod.example/envoy'] } } }, identity: { ...JWT_SECTION, mtls: { trustDomains: [{ name: 'prod.example' }] } } }), id: 'transport.grpc-peer-claims', status: 'pass' },
  { name: 'no SPIFFE callers', cfg: () => parsed(baseInput()), id: 'transport.grpc-peer-claims', status: 'not-applicable' },
  { name: 'credential over http to a remote host', cfg: () => parsed(withProvider({ upstream: 'http://llm.internal:8000', credential: { source: 'env', name: 'K' } })), id: 'transport.upstream-tls', status: 'gap', severity: 'critical', field: 'providers[].upstream', message: /llm\.internal over plaintext http/ },
  { name: 'credential over http to loopback', cfg: () => parsed(withProvider({ upstream: 'http://127.0.0.1:8000', credential: { source: 'env', name: 'K' } })), id: 'transport.upstream-tls', status: 'pass' },
  { name: 'no credential over http', cfg: () => parsed(withProvider({ upstream: 'http://ollama:11434', credential: { source: 'none' } })), id: 'transport.upstream-tls', status: 'pass' },
  { name: 'Vault over remote http', cfg: () => parsed(vaultInput({ address: 'http://openbao:8200', auth: { method: 'kubernetes', role: 'r' } })), id: 'vault.transport', status: 'gap', severity: 'high', field: 'vault.address', message: /openbao is plaintext http/ },
  { name: 'Vault skipVerify', cfg: () => parsed(vaultInput({ address: 'https://v:8200', tls: { skipVerify: true }, auth: { method: 'kubernetes', role: 'r' } })), id: 'vault.transport', status: 'gap', field: 'vault.tls.skipVerify' },
  { name: 'Vault over https', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'kubernetes', role: 'r' } })), id: 'vault.transport', status: 'pass' },
  { name: 'no Vault', cfg: () => parsed(baseInput()), id: 'vault.transport', status: 'not-applicable' },
  { name: 'Vault token login', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'token', tokenFile: '/t' } })), id: 'vault.login', status: 'gap', severity: 'medium', field: 'vault.auth.method' },
  { name: 'Vault token login by default', cfg: () => parsed(vaultInput({ address: 'https://v:8200' })), id: 'vault.login', status: 'gap' },
  { name: 'Vault AppRole login', cfg: () => parsed(vaultInput({ address: 'https://v:8200', auth: { method: 'approle', roleId: 'r', secretIdFile: '/s' } })), id: 'vault.login', status: 'pass' },
  { name: 'no kill switch', cfg: () => parsed(baseInput()), id: 'offboarding.kill-switch', status: 'gap', severity: 'medium', field: 'server.admin.killSwitchToken' },
  { name: 'kill switch on shared state', cfg: () => parsed({ ...baseInput(), server: { admin: { killSwitchToken: { source: 'env', name: 'KILL' } } }, state: { backend: 'redis', host: 'redis' } }), id: 'offboarding.kill-switch', status: 'pass' },
  { name: 'kill switch on memory state', cfg: () => parsed({ ...baseInput(), server: { admin: { killSwitchToken: { source: 'env', name: 'KILL' } } } }), id: 'offboarding.kill-switch', status: 'gap', severity: 'medium', field: 'state.backend', message: /another replica does not see it and a restart re-enables/ },
  { name: 'no owners', cfg: () => parsed(baseInput()), id: 'inventory.ownership', status: 'gap', severity: 'low', field: 'identities[].owner', message: /1 identities have no owner: agent/ },
  { name: 'review past due', cfg: () => parsed({ ...hardenedInput(), identities: [{ id: 'old', jwtSubjects: [{ issuer: 'https://issuer.example', subject: 'x' }], allow: [], owner: { team: 't', contact: 'x@y.z' }, reviewBy: '2026-09-30' }] }), id: 'inventory.ownership', status: 'gap', severity: 'high', field: 'identities[].reviewBy', message: /identity old: review was due 2026-09-30/ },
  { name: 'review due today is not past', cfg: () => parsed({ ...hardenedInput(), identities: [{ id: 'today', jwtSubjects: [{ issuer: 'https://issuer.example', subject: 'x' }], allow: [], owner: { team: 't', contact: 'x@y.z' }, reviewBy: '2026-10-01' }] }), id: 'inventory.ownership', status: 'pass' },
  { name: 'provider without review date', cfg: () => parsed({ ...hardenedInput(), providers: [{ name: 'openai', kind: 'openai', upstream: 'https://api.openai.com', models: ['*'], credential: { source: 'vault-leased', path: 'x/{tenant}' }, owner: { team: 'p', contact: 'p@x.y' } }] }), id: 'inventory.ownership', status: 'gap', field: 'providers[].reviewBy', message: /1 providers have no review date: openai/ },
  { name: 'any model of a "*" provider', cfg: () => parsed(withProvider({ models: ['*'], credential: { source: 'none' } })), id: 'agency.least-privilege', status: 'gap', severity: 'medium', message: /identity agent may use any model of provider openai/ },
  { name: 'narrowed grant on a "*" provider', cfg: () => parsed({ ...withProvider({ models: ['*'], credential: { source: 'none' } }), identities: [{ id: 'agent', apiKeyHashes: [HASH(1)], allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }] }] }), id: 'agency.least-privilege', status: 'pass' },
  { name: 'no dlp section in the object', cfg: () => { const c = parsed(baseInput()); delete c['dlp']; return c; }, id: 'dlp.request', status: 'gap', severity: 'high', field: 'dlp' },
  { name: 'dlp omitted from the file (the schema defaults it on)', cfg: () => parsed(baseInput()), id: 'dlp.request', status: 'pass' },
  { name: 'dlp disabled', cfg: () => parsed(baseInput(), { dlp: { enabled: false } }), id: 'dlp.request', status: 'gap', field: 'dlp.enabled' },
  { name: 'dlp present', cfg: () => parsed(baseInput(), { dlp: {} }), id: 'dlp.request', status: 'pass' },
  { name: 'response scan off', cfg: () => parsed(baseInput(), { dlp: { response: { scan: false } } }), id: 'dlp.response', status: 'gap', severity: 'medium', field: 'dlp.response.scan' },
  { name: 'response scan default', cfg: () => parsed(baseInput(), { dlp: {} }), id: 'dlp.response', status: 'pass' },
  { name: 'secrets allowed for all', cfg: () => parsed(baseInput(), { dlp: { actions: [{ detectors: ['pii.*'], action: 'mask' }, { detectors: ['secret.jwt'], action: 'allow' }] } }), id: 'dlp.secrets-blocked', status: 'gap', severity: 'high', field: 'dlp.actions[1]' },
  { name: 'secrets allowed for one identity', cfg: () => parsed(baseInput(), { dlp: { actions: [{ detectors: ['secret.*'], action: 'allow', when: { identities: ['ci'] } }] } }), id: 'dlp.secrets-blocked', status: 'pass' },
  { name: 'provider-side fetches and tools refused (the defaults)', cfg: () => parsed(baseInput(), { dlp: {} }), id: 'dlp.provider-side', status: 'pass' },
  { name: 'provider fetches allowed', cfg: () => parsed(baseInput(), { dlp: { allowProviderFetch: true } }), id: 'dlp.provider-side', status: 'gap', severity: 'medium', field: 'dlp.allowProviderFetch' },
  { name: 'web search allowed', cfg: () => parsed(baseInput(), { dlp: { allowServerTools: ['web_search'] } }), id: 'dlp.provider-side', status: 'gap', severity: 'medium', field: 'dlp.allowServerTools', message: /server-side tools allowed: web_search/ },
  { name: 'remote MCP allowed', cfg: () => parsed(baseInput(), { dlp: { allowServerTools: ['web_search', 'mcp'] } }), id: 'dlp.provider-side', status: 'gap', severity: 'high', field: 'dlp.allowServerTools' },
  { name: 'provider-side checks off with dlp', cfg: () => parsed(baseInput(), { dlp: { enabled: false } }), id: 'dlp.provider-side', status: 'gap', field: 'dlp' },
  { name: 'secret detector disabled', cfg: () => parsed(baseInput(), { dlp: { detectors: { disable: ['secret.aws-access-key'] } } }), id: 'dlp.secrets-blocked', status: 'gap', severity: 'medium', field: 'dlp.detectors.disable' },
  { name: 'audit not chained', cfg: () => parsed(baseInput()), id: 'audit.chain', status: 'gap', severity: 'medium', field: 'audit.chain.enabled' },
  { name: 'audit chained', cfg: () => parsed(baseInput(), { audit: { sink: { type: 'stdout' }, chain: { enabled: true } } }), id: 'audit.chain', status: 'pass' },
  { name: 'plain sha256 chain', cfg: () => parsed(baseInput(), { audit: { sink: { type: 'stdout' }, chain: { enabled: true, algorithm: 'sha256' } } }), id: 'audit.chain-keyed', status: 'gap', severity: 'low' },
  { name: 'keyed chain', cfg: () => parsed(baseInput(), { audit: { sink: { type: 'stdout' }, chain: { enabled: true, algorithm: 'hmac-sha256', key: { source: 'env', name: 'K' } } } }), id: 'audit.chain-keyed', status: 'pass' },
  { name: 'no budgets', cfg: () => parsed(baseInput()), id: 'consumption.budgets', status: 'gap', severity: 'high', field: 'budgets' },
  { name: 'budgets', cfg: () => parsed(baseInput(), { budgets: HARDENED_EXTRA['budgets'] }), id: 'consumption.budgets', status: 'pass' },
  { name: 'no rate limits', cfg: () => parsed(baseInput()), id: 'consumption.rate-limits', status: 'gap', severity: 'medium', field: 'rateLimits' },
  { name: 'rate limits', cfg: () => parsed(baseInput(), { rateLimits: HARDENED_EXTRA['rateLimits'] }), id: 'consumption.rate-limits', status: 'pass' },
  { name: 'anomaly on', cfg: () => parsed(baseInput(), { anomaly: { enabled: true } }), id: 'consumption.anomaly', status: 'pass' },
  { name: 'anomaly off', cfg: () => parsed(baseInput(), { anomaly: { enabled: false } }), id: 'consumption.anomaly', status: 'gap', severity: 'low' },
  { name: 'state fails closed by default', cfg: () => parsed(baseInput(), { state: { backend: 'redis', url: 'redis://127.0.0.1:6379' }, budgets: HARDENED_EXTRA['budgets'] }), id: 'state.fail-closed', status: 'pass' },
  { name: 'state fails open', cfg: () => parsed(baseInput(), { state: { backend: 'memory', onError: 'allow' } }), id: 'state.fail-closed', status: 'gap', severity: 'high', field: 'state.onError' },
  { name: 'a budget fails open', cfg: () => parsed(baseInput(), { budgets: [{ name: 'b', per: 'identity', metric: 'tokens', limit: 5, window: '1d', onStateError: 'allow' }] }), id: 'state.fail-closed', status: 'gap', field: 'budgets[0].onStateError', message: /budgets\[0\] \(b\)/ },
  { name: 'memory state with limits', cfg: () => parsed(baseInput(), { rateLimits: HARDENED_EXTRA['rateLimits'] }), id: 'state.shared', status: 'gap', severity: 'medium', message: /N times its value/ },
  { name: 'memory state without limits', cfg: () => parsed(baseInput()), id: 'state.shared', status: 'gap', severity: 'low', message: /replay protection/ },
  { name: 'redis state', cfg: () => parsed(baseInput(), { state: { backend: 'redis', url: 'redis://127.0.0.1:6379' } }), id: 'state.shared', status: 'pass' },
  { name: 'plaintext remote redis', cfg: () => parsed(baseInput(), { state: { backend: 'redis', url: 'redis://redis:6379/0' } }), id: 'state.transport', status: 'gap', severity: 'medium', message: /Redis at redis is plaintext/ },
  { name: 'rediss with password', cfg: () => parsed(baseInput(), { state: HARDENED_EXTRA['state'] }), id: 'state.transport', status: 'pass' },
  { name: 'loopback redis', cfg: () => parsed(baseInput(), { state: { backend: 'redis', host: '127.0.0.1', port: 6379 } }), id: 'state.transport', status: 'pass' },
];

describe('posture controls', () => {
  for (const row of ROWS) {
    it(`${row.id}: ${row.name} → ${row.status}${row.severity === undefined ? '' : ` (${row.severity})`}`, () => {
      const r = result(assess(row.cfg()), row.id);
      assert.equal(r.status, row.status, JSON.stringify(r.details));
      if (row.severity !== undefined) assert.equal(r.severity, row.severity);
      if (row.field !== undefined) assert.ok(r.details.some((d) => d.field === row.field), `a detail names field ${row.field}: ${JSON.stringify(r.details)}`);
      if (row.message !== undefined) assert.ok(r.details.some((d) => row.message?.test(d.message)), `a detail matches ${String(row.message)}: ${JSON.stringify(r.details)}`);
      if (row.status !== 'gap') assert.deepEqual(r.details, []);
    });
  }

  it('the hardened config has no gap at all', () => {
    const report = assess(parsed(hardenedInput(), HARDENED_EXTRA));
    const gaps = report.results.filter((r) => r.status === 'gap');
    assert.deepEqual(gaps.map((g) => `${g.id}: ${g.details.map((d) => d.message).join('; ')}`), []);
    assert.equal(report.failed, false);
    assert.equal(report.summary.pass + report.summary.notApplicable, CONTROLS.length);
  });

  it('the weakest config is a gap on every framework the report covers', () => {
    const report = assess(parsed({ ...baseInput(), server: { grpc: { host: '0.0.0.0' } } }, { dlp: { enabled: false } }));
    const refs = new Set(report.results.filter((r) => r.status === 'gap').flatMap((r) => r.refs));
    for (const ref of ['NHI1', 'NHI2', 'NHI4', 'NHI7', 'LLM02', 'LLM10', 'ZT-T2', 'ZT-T6', 'ZT-T7'] as const) assert.ok(refs.has(ref), `a gap cites ${ref}`);
    assert.equal(report.failed, true);
  });

  it('every table row has a unique id, a field, a remediation and known framework refs, and every row is exercised above', () => {
    const ids = CONTROLS.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const c of CONTROLS) {
      assert.ok(c.refs.length > 0 && c.refs.every((r) => FRAMEWORK_TITLES[r].length > 0), c.id);
      assert.match(c.field, /^[a-zA-Z]/, c.id);
      assert.ok(c.remediation.length > 20, c.id);
      assert.ok(ROWS.some((r) => r.id === c.id && r.status === 'gap'), `a row shows ${c.id} failing`);
      assert.ok(ROWS.some((r) => r.id === c.id && r.status !== 'gap'), `a row shows ${c.id} holding or not applying`);
    }
  });

  it('a control whose check throws is a gap, not a pass', () => {
    const broken: Control = { id: 'x.broken', title: 't', refs: ['NHI2'], severity: 'medium', field: 'f', remediation: 'r', check: () => { throw new TypeError('boom'); } };
    const ok: Control = { ...broken, id: 'x.na', check: () => NOT_APPLICABLE };
    const report = assessPosture({}, { source: 's', failOn: 'medium', controls: [broken, ok], now: NOW });
    assert.equal(result(report, 'x.broken').status, 'gap');
    assert.match(result(report, 'x.broken').details[0]?.message ?? '', /check failed: TypeError/);
    assert.equal(result(report, 'x.na').status, 'not-applicable');
    assert.equal(report.failed, true);
  });

  it('unknown or malformed sections do not crash any control', () => {
    for (const junk of [null, 42, 'x', [], { providers: 'no', identities: [null, 3], dlp: [], state: 'redis', audit: { chain: 1 }, budgets: {} }]) {
      const report = assess(junk);
      assert.equal(report.results.length, CONTROLS.length);
      assert.ok(report.results.every((r) => r.details.every((d) => !/check failed/.test(d.message))), JSON.stringify(junk));
    }
  });
});

describe('posture fail-on threshold', () => {
  // Gaps: state.fail-closed is high (fails open), nothing else at high or critical when everything else is hardened.
  const oneHigh = (): Obj => parsed(hardenedInput(), { ...HARDENED_EXTRA, state: { ...(HARDENED_EXTRA['state'] as Obj), onError: 'allow' } });
  const oneLow = (): Obj => parsed(hardenedInput(), { ...HARDENED_EXTRA, anomaly: { enabled: false } });
  const table = [
    { cfg: oneHigh, failOn: 'critical', failed: false },
    { cfg: oneHigh, failOn: 'high', failed: true },
    { cfg: oneHigh, failOn: 'low', failed: true },
    { cfg: oneHigh, failOn: 'never', failed: false },
    { cfg: oneLow, failOn: 'medium', failed: false },
    { cfg: oneLow, failOn: 'low', failed: true },
  ] as const;
  for (const t of table) {
    it(`${t.cfg.name} with --fail-on ${t.failOn} → ${t.failed ? 'fail' : 'ok'}`, () => {
      const report = assessPosture(t.cfg(), { source: 's', failOn: t.failOn, now: NOW });
      assert.equal(report.failed, t.failed);
      assert.equal(report.summary.gap, 1);
    });
  }
});

describe('posture output', () => {
  const report = assess(parsed({ ...baseInput(), server: { grpc: { host: '0.0.0.0' } } }));

  it('text lists gaps worst first, then passes, then controls that do not apply, each gap with refs, fields and a fix', () => {
    const text = formatPostureText(report);
    const tags = text.split('\n').filter((l) => /^(GAP|PASS|N\/A) /.test(l));
    assert.equal(tags.length, CONTROLS.length);
    const rank = (l: string): number => (l.startsWith('GAP') ? 10 - SEVERITIES.indexOf(l.split(/\s+/)[1] as (typeof SEVERITIES)[number]) : l.startsWith('PASS') ? 20 : 30);
    assert.deepEqual(tags.map(rank), [...tags.map(rank)].sort((a, b) => a - b));
    assert.match(text, /GAP {2}high {5}transport\.grpc-tls/);
    assert.match(text, /refs: OWASP NHI4:2025 Insecure Authentication/);
    assert.match(text, /\(field: server\.grpc\.tls\)/);
    assert.match(text, /fail-on: high → FAIL/);
  });

  it('JSON carries the summary, every result with its field and remediation, and the framework titles', () => {
    const json = JSON.parse(formatPostureJson(report)) as { failed: boolean; summary: { gap: number; gapsBySeverity: Record<string, number> }; results: { id: string; status: string; field: string; remediation: string; details: { field: string }[] }[]; frameworks: Record<string, string> };
    assert.equal(json.failed, true);
    assert.equal(json.results.length, CONTROLS.length);
    assert.equal(json.summary.gap, json.results.filter((r) => r.status === 'gap').length);
    const detailCount = json.results.reduce((n, r) => n + r.details.length, 0);
    assert.equal(Object.values(json.summary.gapsBySeverity).reduce((a, b) => a + b, 0), detailCount);
    assert.equal(json.frameworks['LLM10'], 'OWASP LLM10:2025 Unbounded Consumption');
    const grpc = json.results.find((r) => r.id === 'transport.grpc-tls');
    assert.equal(grpc?.status, 'gap');
    assert.equal(grpc.details[0]?.field, 'server.grpc.tls');
  });
});

describe('tollgate posture (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-posture-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  // Planted values: posture must not read the sources a config names, let alone print them.
  const PLANTED = `sk-planted-${Date.now().toString(36)}-secret`;
  const secretFile = join(dir, 'provider-key');
  writeFileSync(secretFile, PLANTED);
  process.env['POSTURE_PLANTED_KEY'] = PLANTED;
  after(() => { delete process.env['POSTURE_PLANTED_KEY']; });

  const write = (name: string, cfg: Obj): string => {
    const p = join(dir, name);
    writeFileSync(p, stringify(cfg));
    return p;
  };
  const weak = write('weak.yaml', { ...baseInput(), providers: [{ name: 'openai', kind: 'openai', upstream: 'https://api.openai.com', models: ['gpt-4o-mini'], credential: { source: 'env', name: 'POSTURE_PLANTED_KEY' } }, { name: 'other', kind: 'anthropic', upstream: 'https://api.anthropic.com', models: ['claude-*'], credential: { source: 'file', path: secretFile } }] });
  const hardened = write('hardened.yaml', hardenedInput());

  const cases = [
    { name: 'weak config, default fail-on high', args: ['--config', weak], exit: 1, out: /GAP {2}high/ },
    { name: 'weak config, --fail-on never', args: ['--config', weak, '--fail-on', 'never'], exit: 0, out: /fail-on: never/ },
    { name: 'weak config as JSON', args: ['--config', weak, '--json'], exit: 1, out: /"failed": true/ },
    { name: 'schema-valid hardened config has nothing critical', args: ['--config', hardened, '--fail-on', 'critical'], exit: 0, out: /fail-on: critical → ok/ },
    { name: 'an http upstream with a credential is critical', args: ['--config', write('http.yaml', withProvider({ upstream: 'http://llm.internal', credential: { source: 'env', name: 'K' } })), '--fail-on', 'critical'], exit: 1, out: /GAP {2}critical transport\.upstream-tls/ },
    { name: 'missing --config', args: [], exit: 2, out: /--config FILE is required/ },
    { name: 'bad --fail-on', args: ['--config', weak, '--fail-on', 'severe'], exit: 2, out: /--fail-on must be one of/ },
    { name: 'unknown option', args: ['--config', weak, '--yaml'], exit: 2, out: /Unknown option/ },
    { name: 'missing file', args: ['--config', join(dir, 'nope.yaml')], exit: 2, out: /cannot read configuration: ENOENT/ },
    { name: 'invalid config names the field', args: ['--config', write('bad.yaml', { ...baseInput(), server: { grpc: { port: 'x' } } })], exit: 2, out: /server\.grpc\.port/ },
  ];
  for (const c of cases) {
    it(`${c.name} → exit ${c.exit}`, () => {
      const r = runPosture(c.args, NOW);
      assert.equal(r.exitCode, c.exit, r.output);
      assert.match(r.output, c.out);
      assert.ok(!r.output.includes(PLANTED), 'no planted secret in the output');
    });
  }

  it('the CLI judges the validated config: omitted sections count with their schema defaults', () => {
    const r = runPosture(['--config', hardened, '--json', '--fail-on', 'low'], NOW);
    const json = JSON.parse(r.output) as { results: { id: string; status: string }[] };
    // budgets and audit.chain are absent from hardened.yaml: gaps. DLP is on by the schema's default when omitted.
    for (const id of ['consumption.budgets', 'audit.chain']) assert.equal(json.results.find((x) => x.id === id)?.status, 'gap', id);
    assert.equal(json.results.find((x) => x.id === 'dlp.request')?.status, 'pass');
    assert.equal(json.results.find((x) => x.id === 'transport.grpc-tls')?.status, 'pass');
    assert.equal(r.exitCode, 1);
  });
});
