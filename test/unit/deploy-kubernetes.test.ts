// deploy/kubernetes: every manifest validated against the Kubernetes OpenAPI schemas that the
// kubernetes-models package ships (nothing fetched), plus the cross-references a schema cannot see:
// selectors, named ports, mounts under the paths the config names, NetworkPolicy peers, and the
// embedded Tollgate config against the real config schema and the posture report.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer, IPodSpec, IVolume } from 'kubernetes-models/v1';
import { validateConfig } from '../../extproc/config/load.ts';
import { configSchema, type Config } from '../../extproc/config/schema.ts';
import { dlpSchema } from '../../extproc/config/dlp-schema.ts';
import { auditChainSchema, stateConfigSchema } from '../../extproc/config/state-schema.ts';
import { assessPosture } from '../../extproc/posture/assess.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(ROOT, 'deploy', 'kubernetes');
type Obj = Record<string, unknown>;

const kustomization = parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
const docs = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => ({ file: f, obj: d.toJS() as Obj })));
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};
const one = (kind: string): unknown => {
  const found = docs.filter((d) => d.obj['kind'] === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]?.obj;
};

interface Dep { metadata: { name: string }; spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: IPodSpec } } }
const dep = one('Deployment') as Dep;
const pod = dep.spec.template.spec;
const container = pod.containers[0] as IContainer;
const svc = one('Service') as { spec: { clusterIP?: string; selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } };
const cm = one('ConfigMap') as { metadata: { name: string }; data: Record<string, string> };
const pdb = one('PodDisruptionBudget') as { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } };
interface Peer { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> }; ipBlock?: { cidr: string } }
const np = one('NetworkPolicy') as { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from: Peer[]; ports: { port: string | number }[] }[]; egress: { to: Peer[]; ports: { port: number }[] }[] } };

/** Same rule as compose-files.test.ts: keys the main schema does not take yet go to their own section schemas. */
function validateShipped(raw: Obj): Config {
  const main = structuredClone(raw);
  const sections: [string[], string | undefined, z.ZodType][] = [[['state', 'budgets', 'prices', 'rateLimits', 'anomaly'], undefined, stateConfigSchema], [['dlp'], undefined, dlpSchema], [['chain'], 'audit', auditChainSchema]];
  const probe = configSchema.safeParse(main);
  for (const issue of probe.success ? [] : probe.error.issues.filter((i) => i.code === 'unrecognized_keys')) {
    const under = issue.path.join('.');
    const holder = (under === '' ? main : main[under]) as Obj;
    for (const [keys, u, schema] of sections) {
      const taken = issue.keys.filter((k) => keys.includes(k) && (u ?? '') === under);
      if (taken.length === 0) continue;
      // A multi-key section schema (state) takes an object of its keys; a one-key section (dlp, chain) takes the value.
      const part = keys.length > 1 ? Object.fromEntries(taken.map((k) => [k, holder[k]])) : holder[taken[0] ?? ''];
      const r = schema.safeParse(part);
      assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
      for (const k of taken) Reflect.deleteProperty(holder, k);
    }
    const left = issue.keys.filter((k) => Object.hasOwn(holder, k));
    assert.deepEqual(left, [], `keys in no schema under "${under}"`);
  }
  return validateConfig(main, 'configmap.yaml#config.yaml');
}
const rawConfig = parseYaml(cm.data['config.yaml'] ?? '') as Obj;
const config = validateShipped(rawConfig);

const mountFor = (path: string): { volume: IVolume; mountPath: string } | undefined => {
  const m = (container.volumeMounts ?? []).filter((v) => path === v.mountPath || path.startsWith(v.mountPath.replace(/\/?$/, '/'))).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = pod.volumes?.find((v) => v.name === m?.name);
  return m === undefined || volume === undefined ? undefined : { volume, mountPath: m.mountPath };
};
const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean => Object.entries(a).every(([k, v]) => b[k] === v);

describe('deploy/kubernetes: schemas', () => {
  it('kustomization lists every manifest, and each validates against the Kubernetes schema for its kind', () => {
    assert.deepEqual(Object.keys(MODELS).map((k) => k.split('/').pop()).sort(), [...new Set(docs.map((d) => String(d.obj['kind'])))].sort());
    for (const { file, obj } of docs) {
      const key = `${String(obj['apiVersion'])}/${String(obj['kind'])}`;
      const Model = MODELS[key];
      assert.ok(Model, `${file}: ${key} has a model`);
      assert.doesNotThrow(() => { new Model(obj as never).validate(); }, `${file} (${key})`);
    }
  });

  it('the schema validation is real: a wrong type or a missing required field is refused', () => {
    const broken = structuredClone(dep) as unknown as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } }; selector?: unknown } };
    const c0 = broken.spec.template.spec.containers[0];
    assert.ok(c0?.ports[0]);
    c0.ports[0].containerPort = 'grpc';
    assert.throws(() => { new Deployment(broken as never).validate(); }, /containerPort must be integer/);
    const noSelector = structuredClone(dep) as unknown as { spec: Partial<Dep['spec']> };
    delete noSelector.spec.selector;
    assert.throws(() => { new Deployment(noSelector as never).validate(); }, /must have required property selector/);
  });
});

describe('deploy/kubernetes: Deployment', () => {
  it('runs the image as a non-root numeric user with a read-only root filesystem and no capabilities', () => {
    const user = /^USER\s+(\d+):(\d+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, Number(user?.[1]));
    assert.equal(pod.securityContext.runAsGroup, Number(user?.[2]));
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
    const sc = container.securityContext;
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.privileged, false);
    assert.deepEqual(sc.capabilities?.drop, ['ALL']);
    assert.equal(sc.capabilities.add, undefined);
    assert.equal(pod.automountServiceAccountToken, false, 'no default API token in the pod');
    assert.ok(mountFor('/tmp')?.volume.emptyDir, 'a writable /tmp on an emptyDir');
  });

  it('probes the admin port: readiness /readyz, liveness and startup /healthz, on the configured port', () => {
    const admin = container.ports?.find((p) => p.name === 'admin');
    assert.equal(admin?.containerPort, config.server.admin.port);
    assert.equal(container.ports?.find((p) => p.name === 'grpc')?.containerPort, config.server.grpc.port);
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' });
    assert.deepEqual(container.startupProbe?.httpGet, { path: '/healthz', port: 'admin' });
  });

  it('has requests and limits, a heap below the memory limit, and a grace period that covers drain + shutdown', () => {
    const mi = (q: string | number | undefined): number => { const m = /^(\d+)(Mi|Gi)$/.exec(String(q)); assert.ok(m, String(q)); return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1); };
    const r = container.resources;
    assert.ok(r?.requests?.['cpu'] !== undefined && r.requests['memory'] !== undefined && r.limits?.['cpu'] !== undefined && r.limits['memory'] !== undefined);
    const heap = Number(/--max-old-space-size=(\d+)/.exec(container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
    assert.ok(heap > 0 && heap <= mi(r.limits['memory']) * 0.8, `heap ${heap} MiB leaves room under the limit`);
    // The measured peak of the shipped heap settings (docs/operations.md, Sizing) fits under the request.
    assert.ok(mi(r.requests['memory']) >= 192, 'the memory request covers the measured peak');
    assert.ok(mi(r.requests['memory']) <= mi(r.limits['memory']));
    assert.ok((pod.terminationGracePeriodSeconds ?? 30) >= config.server.drainSeconds + config.server.shutdownGraceSeconds + 5);
    assert.ok(dep.spec.replicas >= 2);
  });

  it("runs serve with the shipped heap flags (HEAP_FLAGS in bin/tollgate.mjs), not another heap", () => {
    // NODE_OPTIONS with a heap flag makes serve keep it instead of HEAP_FLAGS, so the manifest states them.
    const m = /const HEAP_FLAGS = (\[[^\]]*\]);/.exec(readFileSync(join(ROOT, 'bin', 'tollgate.mjs'), 'utf8'));
    assert.ok(m?.[1] !== undefined, 'HEAP_FLAGS not found in bin/tollgate.mjs');
    const shipped = JSON.parse(m[1].replaceAll("'", '"')) as string[];
    const options = (container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '').split(/\s+/).filter((f) => f !== '');
    assert.deepEqual(options.filter((f) => /^--max-(semi|old)-space-size=/.test(f)), shipped);
  });

  it('mounts every file the config names, read-only, from the right volume', () => {
    const args = container.args ?? [];
    const configPath = args[args.indexOf('--config') + 1] ?? '';
    const cfgMount = mountFor(configPath);
    assert.equal(cfgMount?.volume.configMap?.name, cm.metadata.name);
    assert.equal(configPath, `${cfgMount.mountPath}/config.yaml`);
    assert.equal((container.volumeMounts ?? []).some((m) => m.subPath !== undefined), false, 'no subPath (it would never see ConfigMap updates)');
    const tls = config.server.grpc.tls;
    assert.ok(tls);
    const files: [string, (v: IVolume) => boolean][] = [
      [tls.certFile, (v) => v.secret?.secretName === 'tollgate-grpc-tls'],
      [tls.keyFile, (v) => v.secret?.secretName === 'tollgate-grpc-tls'],
      [tls.clientCaFile, (v) => v.secret?.secretName === 'tollgate-grpc-tls'],
    ];
    for (const src of [config.server.admin.killSwitchToken, config.server.authzContextKey]) { assert.ok(src?.source === 'file'); files.push([src.path, (v) => v.secret?.secretName === 'tollgate-secrets']); }
    const auth = config.vault?.auth;
    assert.ok(auth?.method === 'kubernetes');
    files.push([auth.jwtFile, (v) => v.projected?.sources?.some((s) => s.serviceAccountToken?.audience === 'vault' && (s.serviceAccountToken.expirationSeconds ?? 3600) <= 3600 && auth.jwtFile.endsWith('/' + s.serviceAccountToken.path)) === true]);
    for (const [path, ok] of files) {
      const m = mountFor(path);
      assert.ok(m && ok(m.volume), `${path} comes from the expected volume`);
      assert.ok(container.volumeMounts?.find((v) => v.mountPath === m.mountPath)?.readOnly, `${path} is mounted read-only`);
    }
    for (const v of pod.volumes ?? []) assert.ok(container.volumeMounts?.some((m) => m.name === v.name), `volume ${v.name} is used`);
  });
});

describe('deploy/kubernetes: Service, PodDisruptionBudget, NetworkPolicy', () => {
  const podLabels = dep.spec.template.metadata.labels;
  const isEnvoy = { 'app.kubernetes.io/name': 'envoy', 'app.kubernetes.io/part-of': 'tollgate' };

  it('the Service is headless, selects the pods and targets their named ports', () => {
    assert.equal(svc.spec.clusterIP, 'None', 'headless, so Envoy balances and health-checks each pod');
    assert.ok(sameLabels(svc.spec.selector, podLabels));
    assert.ok(sameLabels(dep.spec.selector.matchLabels, podLabels));
    for (const p of svc.spec.ports) assert.equal(container.ports?.find((c) => c.name === p.targetPort)?.containerPort, p.port, p.name);
  });

  it('the PodDisruptionBudget selects the pods and keeps at least one up', () => {
    assert.ok(sameLabels(pdb.spec.selector.matchLabels, podLabels));
    assert.ok((pdb.spec.maxUnavailable ?? 99) < dep.spec.replicas);
  });

  it('the NetworkPolicy admits only Envoy to the gRPC port, and Prometheus and operator pods to the admin port', () => {
    assert.ok(sameLabels(np.spec.podSelector.matchLabels, podLabels));
    assert.deepEqual([...np.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    // Which rules open a port, and to whom.
    const openers = (port: string): Peer[][] => np.spec.ingress.filter((r) => r.ports.some((p) => p.port === port || p.port === container.ports?.find((c) => c.name === port)?.containerPort)).map((r) => r.from);
    const grpc = openers('grpc');
    assert.equal(grpc.length, 1);
    assert.deepEqual(grpc[0], [{ podSelector: { matchLabels: isEnvoy } }], 'Envoy pods in this namespace only');
    const admin = openers('admin');
    assert.equal(admin.length, 2);
    assert.ok(admin[0]?.every((p) => p.podSelector?.matchLabels['app.kubernetes.io/name'] === 'prometheus' && p.namespaceSelector !== undefined));
    // The kill switch: operator pods in this namespace only (labelled as docs/deploy.md says).
    assert.deepEqual(admin[1], [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'tollgate-admin', 'app.kubernetes.io/part-of': 'tollgate' } } }]);
    for (const rule of np.spec.ingress) {
      assert.ok(rule.from.length > 0 && rule.ports.length > 0, 'no rule opens every port or admits everyone');
      for (const peer of rule.from) assert.equal(peer.ipBlock, undefined);
    }
  });

  it('docs/vault.md\'s Kubernetes role command binds the audience the projected token carries', () => {
    const vaultDoc = readFileSync(new URL('../../docs/vault.md', import.meta.url), 'utf8');
    const role = /bao write auth\/kubernetes\/role\/tollgate(?:[^\n]*\\\n)*[^\n]*/.exec(vaultDoc)?.[0] ?? '';
    assert.match(role, /\baudience=vault\b/, role);
  });

  it('egress reaches DNS, Vault and Redis on the ports the config uses', () => {
    const ports = np.spec.egress.flatMap((r) => r.ports.map((p) => p.port));
    assert.ok(ports.includes(53));
    assert.ok(ports.includes(Number(new URL(config.vault?.address ?? '').port)), 'Vault');
    assert.ok(ports.includes(Number(new URL((rawConfig['state'] as { url: string }).url).port)), 'Redis');
  });
});

describe('deploy/kubernetes: the embedded Tollgate config', () => {
  it('validates, and the posture report finds no gap at high or above', () => {
    const report = assessPosture(rawConfig, { source: 'configmap', failOn: 'high', now: new Date('2026-12-01T00:00:00Z') });
    const high = report.results.filter((r) => r.status === 'gap' && (r.severity === 'high' || r.severity === 'critical'));
    assert.deepEqual(high.map((r) => r.id), []);
    assert.equal(report.failed, false);
    for (const id of ['transport.grpc-tls', 'identity.workload-auth', 'vault.transport', 'vault.login', 'state.transport', 'audit.chain-keyed', 'dlp.request']) assert.equal(report.results.find((r) => r.id === id)?.status, 'pass', id);
  });
});
