// The identity end-to-end stack: `tollgate serve` (child process), two fake upstreams (the provider
// under test, "openai", and a second provider, "other", that egress tricks must never reach), a
// JWKS server, a SPIFFE PKI made at run time, and two real Envoys in front of the same Tollgate:
// one plaintext listener (JWT and API keys) and one mTLS listener (SPIFFE X509-SVIDs). Both reach
// Tollgate over mTLS with server.grpc.tls.allowedClients naming Envoy: `serve` refuses SPIFFE
// identities on a gRPC port that does not authenticate Envoy.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { makeCa, makeLeaf, type Pem } from './certs.ts';
import { baseConfigInput, mintTestKeys, testConfig, type TestKeys } from './config.ts';
import { JwksServer, makeSigningKey, type SigningKey } from './jwks-server.ts';
import { makeSpiffePki, type SpiffePki } from './spiffe-certs.ts';
import { spawnTollgate, type TollgateProcess } from './stack.ts';

export const TRUST_DOMAIN = 'td-a.test';
export const OTHER_TRUST_DOMAIN = 'td-b.test';
export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'tollgate';
/** Envoy's identity on the gRPC port (its client certificate's URI SAN). */
export const ENVOY_GRPC_ID = 'spiffe://tollgate.test/envoy';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface IdentityStack {
  readonly dir: string;
  readonly keys: TestKeys;
  readonly providerKey: string;
  readonly openai: FakeUpstream;
  readonly other: FakeUpstream;
  readonly jwks: JwksServer;
  readonly signingKey: SigningKey;
  readonly pki: SpiffePki;
  readonly tollgate: TollgateProcess;
  /** Plaintext listener (JWT, API keys). */
  readonly plain: EnvoyProcess;
  /** mTLS listener (SPIFFE). */
  readonly mtls: EnvoyProcess;
  readonly plainUrl: string;
  readonly configPath: string;
  readonly input: ConfigInput;
  /** A client certificate and key (PEM text) for `spiffeId`, issued by `trustDomain`'s CA. */
  clientCert(name: string, issuerTrustDomain: string, san: string): { cert: string; key: string };
  /** An HTTPS request to the mTLS listener with an optional client certificate. Rejects on a refused handshake. */
  mtlsRequest(path: string, init: { client?: { cert: string; key: string }; headers?: Record<string, string>; body?: string; method?: string }): Promise<Reply>;
  audit(): AuditRecord[];
  stop(): Promise<void>;
}

export async function startIdentityStack(tweak: (c: ConfigInput, s: { jwksUrl: string }) => ConfigInput = (c) => c): Promise<IdentityStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-identity-'));
  const cleanups: (() => Promise<void> | void)[] = [() => { rmSync(dir, { recursive: true, force: true }); }];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const keys = mintTestKeys();
    const providerKey = `sk-test-${randomBytes(18).toString('hex')}`;
    const credFile = join(dir, 'openai-key');
    writeFileSync(credFile, providerKey + '\n', { mode: 0o600 });
    const openai = await startFakeUpstream({ respond: openAiResponder(providerKey) });
    cleanups.push(() => openai.close());
    const other = await startFakeUpstream({ respond: openAiResponder() });
    cleanups.push(() => other.close());
    const signingKey = await makeSigningKey('k1');
    const jwks = await JwksServer.start([signingKey]);
    cleanups.push(() => jwks.stop());
    const pki = makeSpiffePki([TRUST_DOMAIN, OTHER_TRUST_DOMAIN]);
    cleanups.push(() => { pki.cleanup(); });
    const serverCa = makeCa(dir, 'listener-ca');
    const listenerCert: Pem = makeLeaf(dir, 'listener', serverCa, 'IP:127.0.0.1', 'serverAuth');
    const grpcCa = makeCa(dir, 'grpc-ca');
    const grpcServer = makeLeaf(dir, 'tollgate-grpc', grpcCa, 'IP:127.0.0.1', 'serverAuth');
    const envoyClient = makeLeaf(dir, 'envoy-client', grpcCa, `URI:${ENVOY_GRPC_ID}`, 'clientAuth');

    const auditPath = join(dir, 'audit.jsonl');
    const base = baseConfigInput(keys, `${openai.url}/v1`, credFile);
    let input: ConfigInput = {
      ...base,
      server: { ...base.server, grpc: { host: '127.0.0.1', port: 0, tls: { certFile: grpcServer.certFile, keyFile: grpcServer.keyFile, clientCaFile: grpcCa.certFile, allowedClients: [ENVOY_GRPC_ID] } } },
      providers: [...base.providers, { name: 'other', kind: 'openai', upstream: `${other.url}/v1`, models: ['*'], credential: { source: 'none' } }],
      identity: {
        mtls: { trustDomains: [{ name: TRUST_DOMAIN }], requireCertificate: true },
        jwt: {
          issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ['ES256'], requireNbf: false, jwks: { remote: { url: jwks.url, minRefreshIntervalSeconds: 1, requestWaitMs: 2_000 } } }],
        },
      },
      audit: { sink: { type: 'file', path: auditPath } },
      logging: { level: 'debug' },
    };
    input = tweak(input, { jwksUrl: jwks.url });
    const config = testConfig(input);
    const configPath = join(dir, 'tollgate.yaml');
    writeFileSync(configPath, stringify(input));
    const tollgate = await spawnTollgate(configPath);
    cleanups.push(async () => { await tollgate.stop(); });
    const bin = findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN);
    const render = (listenerTls?: { certFile: string; keyFile: string; clientCaFile: string }): string =>
      renderEnvoyConfig(config, {
        listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: tollgate.grpcPort, caFile: DEFAULT_CA_FILE,
        tollgateTls: { certFile: envoyClient.certFile, keyFile: envoyClient.keyFile, caFile: grpcCa.certFile },
        ...(listenerTls === undefined ? {} : { listenerTls }),
      });
    const plain = await startEnvoy({ bin, configYaml: render() });
    cleanups.push(() => plain.stop());
    const mtls = await startEnvoy({ bin, configYaml: render({ certFile: listenerCert.certFile, keyFile: listenerCert.keyFile, clientCaFile: pki.ca(TRUST_DOMAIN).certFile }) });
    cleanups.push(() => mtls.stop());
    const listenerCa = readFileSync(serverCa.certFile, 'utf8');

    return {
      dir, keys, providerKey, openai, other, jwks, signingKey, pki, tollgate, plain, mtls, configPath, input,
      plainUrl: `http://127.0.0.1:${plain.listenerPort}`,
      clientCert(name, issuerTd, san) {
        const cert = pki.leaf(name, issuerTd, san);
        return { cert, key: readFileSync(join(pki.dir, `${name}.key`), 'utf8') };
      },
      mtlsRequest(path, init) {
        return new Promise((resolve, reject) => {
          const body = init.body;
          const req = httpsRequest({
            host: '127.0.0.1', port: mtls.listenerPort, path, method: init.method ?? (body === undefined ? 'GET' : 'POST'), agent: false, ca: listenerCa,
            headers: { ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }), ...init.headers },
            ...(init.client === undefined ? {} : { cert: init.client.cert, key: init.client.key }),
          }, (res) => {
            let text = '';
            res.on('data', (b: Buffer) => { text += b.toString('utf8'); });
            res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }); });
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end(body);
        });
      },
      audit: () => (existsSync(auditPath) ? readFileSync(auditPath, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord) : []),
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** `fetch` through the plaintext Envoy. */
export async function plainRequest(s: IdentityStack, path: string, init: { headers?: Record<string, string>; body?: string; method?: string } = {}): Promise<Reply> {
  const res = await fetch(s.plainUrl + path, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers }, body: init.body ?? null });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

export const errorCode = (r: Reply): string | undefined => {
  try {
    return (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
};

export const chatBody = (model: string): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
