// Scale-out stack: one real Envoy in front of several `tollgate serve` processes (same authz context
// key, same Redis state), and a recording fake upstream. Envoy's tollgate cluster lists every replica,
// so ext_authz Check and the ext_proc stream of one request can land on different replicas.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream, type Responder } from '../../extproc/dev/fake-upstream.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { baseConfigInput, mintTestKeys, testConfig, type TestKeys } from './config.ts';
import { startRedis, type TestRedis } from './redis.ts';
import { spawnTollgate, type TollgateProcess } from './stack.ts';

export interface ReplicaStack {
  readonly dir: string;
  readonly keys: TestKeys;
  readonly providerKey: string;
  readonly upstream: FakeUpstream;
  readonly redis: TestRedis;
  readonly replicas: readonly TollgateProcess[];
  readonly envoy: EnvoyProcess;
  readonly url: string;
  /** One audit file per replica, in replica order. */
  readonly auditPaths: readonly string[];
  /** Every replica's parsed audit records (a partial last line, e.g. mid-write, is skipped). */
  audit(): AuditRecord[];
  /** Each replica's parsed audit records, in replica order. */
  auditByReplica(): AuditRecord[][];
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  readonly count?: number;
  readonly respond?: (providerKey: string) => Responder;
  /** Changes each replica's config; `index` is the replica's position. */
  readonly tweak?: (c: ConfigInput, index: number) => ConfigInput;
  readonly env?: NodeJS.ProcessEnv;
}

function readRecords(path: string): AuditRecord[] {
  if (!existsSync(path)) return [];
  const out: AuditRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try { out.push(JSON.parse(line) as AuditRecord); } catch { /* a line being written */ }
  }
  return out;
}

/**
 * The rendered Envoy config with the tollgate cluster listing every replica's gRPC port (the renderer's
 * `tollgateEndpoints`, `envoy render --tollgate A --tollgate B`). ext_authz gets its own copy of that
 * cluster (`tollgate_authz`, same endpoints, listed in reverse): each cluster then round-robins on its
 * own, so consecutive ext_proc streams alternate between replicas whatever ext_authz does, and a
 * request's Check and its ext_proc stream often land on different ones.
 */
export function envoyForReplicas(config: ReturnType<typeof testConfig>, ports: readonly number[]): string {
  const cfg = parseYaml(renderEnvoyConfig(config, {
    listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: ports[0] ?? 1, caFile: DEFAULT_CA_FILE,
    tollgateEndpoints: ports.map((port) => ({ host: '127.0.0.1', port })),
  })) as EnvoyYaml;
  const clusters = cfg.static_resources.clusters;
  const cluster = clusters.find((c) => c.name === 'tollgate');
  if (cluster === undefined) throw new Error('rendered Envoy config has no tollgate cluster');
  const endpoints = (name: string, list: readonly number[]): unknown => ({
    cluster_name: name,
    endpoints: [{ lb_endpoints: list.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }],
  });
  clusters.push({ ...structuredClone(cluster), name: 'tollgate_authz', load_assignment: endpoints('tollgate_authz', [...ports].reverse()) });
  const hcm = cfg.static_resources.listeners[0]?.filter_chains[0]?.filters[0]?.typed_config;
  const authz = hcm?.http_filters.find((f) => f.name === 'envoy.filters.http.ext_authz');
  const grpc = authz?.typed_config.grpc_service as { envoy_grpc: { cluster_name: string } } | undefined;
  if (grpc === undefined) throw new Error('rendered Envoy config has no ext_authz gRPC service');
  grpc.envoy_grpc.cluster_name = 'tollgate_authz';
  return stringify(cfg);
}

interface EnvoyYaml {
  static_resources: {
    clusters: { name: string; load_assignment?: unknown; type?: string }[];
    listeners: { filter_chains: { filters: { typed_config: { http_filters: { name: string; typed_config: Record<string, unknown> }[] } }[] }[] }[];
  };
}

/** Starts Redis, the upstream, `count` (default 2) Tollgate replicas sharing key and state, and Envoy. */
export async function startReplicas(opts: ReplicaOptions = {}): Promise<ReplicaStack> {
  const count = opts.count ?? 2;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-replicas-'));
  const keys = mintTestKeys();
  const providerKey = `sk-test-${randomBytes(18).toString('hex')}`;
  const credFile = join(dir, 'openai-key');
  writeFileSync(credFile, providerKey + '\n', { mode: 0o600 });
  const authzKeyFile = join(dir, 'authz-key');
  writeFileSync(authzKeyFile, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  const redis = await startRedis();
  const upstream = await startFakeUpstream({ respond: (opts.respond ?? openAiResponder)(providerKey) });
  const replicas: TollgateProcess[] = [];
  const auditPaths: string[] = [];
  let envoy: EnvoyProcess | undefined;
  const stop = async (): Promise<void> => {
    await envoy?.stop();
    for (const r of replicas) await r.stop();
    await upstream.close();
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let first: ReturnType<typeof testConfig> | undefined;
    for (let i = 0; i < count; i++) {
      const auditPath = join(dir, `audit-${i}.jsonl`);
      auditPaths.push(auditPath);
      let input: ConfigInput = {
        ...baseConfigInput(keys, `${upstream.url}/v1`, credFile),
        audit: { sink: { type: 'file', path: auditPath } },
        logging: { level: 'debug' },
        state: { backend: 'redis', host: '127.0.0.1', port: redis.port, keyPrefix: 'e2e:', timeoutMs: 100, connectTimeoutMs: 500 },
      };
      input = { ...input, server: { ...input.server, authzContextKey: { source: 'file', path: authzKeyFile } } };
      if (opts.tweak !== undefined) input = opts.tweak(input, i);
      first ??= testConfig(input);
      const configPath = join(dir, `tollgate-${i}.yaml`);
      writeFileSync(configPath, stringify(input), { mode: 0o600 });
      replicas.push(await spawnTollgate(configPath, opts.env ?? process.env));
    }
    if (first === undefined) throw new Error('no replicas');
    envoy = await startEnvoy({
      bin: findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN),
      configYaml: envoyForReplicas(first, replicas.map((r) => r.grpcPort)),
    });
    // Envoy's gRPC health checks mark each endpoint healthy after its first probe (1 s interval).
    await waitForHealthyEndpoints(envoy.adminUrl, count);
  } catch (err) {
    await stop();
    throw err;
  }
  const e = envoy;
  return {
    dir, keys, providerKey, upstream, redis, replicas, envoy: e, url: `http://127.0.0.1:${e.listenerPort}`, auditPaths,
    audit: () => auditPaths.flatMap(readRecords),
    auditByReplica: () => auditPaths.map(readRecords),
    stop,
  };
}

/** Polls Envoy's /clusters until the `count` endpoints of both tollgate clusters report healthy. */
export async function waitForHealthyEndpoints(adminUrl: string, count: number, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const text = await fetch(`${adminUrl}/clusters`).then((r) => r.text()).catch(() => '');
    const healthy = text.split('\n').filter((l) => /^tollgate(_authz)?::/.test(l) && l.includes('::health_flags::healthy')).length;
    if (healthy >= 2 * count) return;
    if (Date.now() > end) throw new Error(`only ${healthy} of ${count} tollgate endpoints healthy in Envoy:\n${text.split('\n').filter((l) => l.startsWith('tollgate')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
