// Tollgate's own gRPC port: `serve` refuses plaintext beyond loopback unless told otherwise, and with
// mTLS and server.grpc.tls.allowedClients only Envoy's identity may open an ext_proc stream.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { credentials, Metadata, status, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { checkGrpcExposure } from '../../extproc/app.ts';
import { devConfig } from '../../extproc/cli/dev.ts';
import { testConfig, baseConfigInput, mintTestKeys } from '../helpers/config.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { createLogger } from '../../extproc/telemetry/logger.ts';
import { pem, type Pem } from '../helpers/certs.ts';
import { startMtlsStack, type MtlsStack } from '../helpers/mtls-stack.ts';
import { chat, eventually, spawnTollgate, TOLLGATE_BIN } from '../helpers/stack.ts';

const ENVOY_ID = 'spiffe://tollgate.test/envoy';

describe('the gRPC port refuses plaintext beyond loopback', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tollgate-grpc-port-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const serveExit = (host: string, extra: Record<string, unknown> = {}, grpc: Record<string, unknown> = {}): Promise<{ code: number | null; out: string }> => {
    const input = { ...baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', join(dir, 'k')), server: { grpc: { host, port: 0, ...grpc }, admin: { host: '127.0.0.1', port: 0 } }, ...extra };
    const path = join(dir, `cfg-${host.replace(/\W/g, '_')}-${Object.keys(extra).length}-${Object.keys(grpc).join('_')}.yaml`);
    writeFileSync(join(dir, 'k'), 'sk-x\n');
    writeFileSync(path, stringify(input));
    const child = spawn(process.execPath, [TOLLGATE_BIN, 'serve', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      // A server that should have refused but started: stop it, so the test fails instead of hanging.
      if (out.includes('tollgate ready')) child.kill('SIGTERM');
    });
    return new Promise((resolve) => child.on('exit', (code) => { resolve({ code, out }); }));
  };

  // Refused before anything is bound, so no test here listens beyond loopback.
  for (const host of ['0.0.0.0', '::', '10.1.2.3', 'tollgate.internal']) {
    it(`serve exits 2 for plaintext on ${host}`, async () => {
      const r = await serveExit(host);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /refusing to listen in plaintext/);
      assert.doesNotMatch(r.out, /tollgate ready/);
    });
  }

  // SPIFFE callers: the caller's identity reaches Tollgate as a claim in the Check, so only an
  // authenticated Envoy may make it (or the operator opts out, loudly).
  const spiffe = { identity: { mtls: { trustDomains: [{ name: 'prod.test' }] } } };
  it('serve exits 2 for identity.mtls on a plaintext loopback port, naming server.grpc.tls', async () => {
    const r = await serveExit('127.0.0.1', spiffe);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /server\.grpc\.tls: identity\.mtls is configured/);
    assert.match(r.out, /trustUnauthenticatedPeers/);
    assert.doesNotMatch(r.out, /tollgate ready/);
  });

  it('serve exits 2 for identity.mtls with server.grpc.tls but no allowedClients, naming the field', async () => {
    const r = await serveExit('127.0.0.1', spiffe, { tls: { certFile: join(dir, 'c'), keyFile: join(dir, 'k'), clientCaFile: join(dir, 'ca') } });
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /server\.grpc\.tls\.allowedClients: /);
    assert.doesNotMatch(r.out, /tollgate ready/);
  });

  it('serve starts with identity.mtls and trustUnauthenticatedPeers, with a warning', async () => {
    const input = { ...baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', join(dir, 'k')), server: { grpc: { host: '127.0.0.1', port: 0, trustUnauthenticatedPeers: true }, admin: { host: '127.0.0.1', port: 0 } }, ...spiffe, logging: { level: 'warn' } };
    const path = join(dir, 'cfg-optout.yaml');
    writeFileSync(join(dir, 'k'), 'sk-x\n');
    writeFileSync(path, stringify(input));
    const t = await spawnTollgate(path);
    try {
      assert.match(t.output(), /server\.grpc\.trustUnauthenticatedPeers: ANY client of the gRPC port may claim ANY SPIFFE identity/);
    } finally {
      await t.stop();
    }
  });

  const exposure: { name: string; grpc: Record<string, unknown>; refused: boolean; warns: boolean }[] = [
    { name: 'loopback 127.0.0.1', grpc: { host: '127.0.0.1' }, refused: false, warns: false },
    { name: 'loopback 127.8.9.10', grpc: { host: '127.8.9.10' }, refused: false, warns: false },
    { name: 'loopback ::1', grpc: { host: '::1' }, refused: false, warns: false },
    { name: 'localhost', grpc: { host: 'localhost' }, refused: false, warns: false },
    { name: 'a unix socket', grpc: { host: 'unix:/run/tollgate/grpc.sock' }, refused: false, warns: false },
    { name: '0.0.0.0 with insecure: true', grpc: { host: '0.0.0.0', insecure: true }, refused: false, warns: true },
    { name: '0.0.0.0 with tls', grpc: { host: '0.0.0.0', tls: { certFile: 'c', keyFile: 'k', clientCaFile: 'ca' } }, refused: false, warns: false },
    { name: '0.0.0.0 plaintext', grpc: { host: '0.0.0.0' }, refused: true, warns: false },
  ];
  for (const e of exposure) {
    it(`exposure check: ${e.name}`, () => {
      const config = testConfig({ ...baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', '/dev/null'), server: { grpc: { port: 0, ...e.grpc } } });
      const lines: string[] = [];
      const logger = createLogger('warn', { write: (l: string) => { lines.push(l); } });
      if (e.refused) assert.throws(() => { checkGrpcExposure(config.server.grpc, logger); }, /refusing to listen in plaintext/);
      else checkGrpcExposure(config.server.grpc, logger);
      assert.equal(lines.some((l) => l.includes('server.grpc.insecure')), e.warns);
    });
  }
});

describe('tollgate dev with SPIFFE callers', () => {
  const spiffeConfig = (grpc: Record<string, unknown>) => testConfig({ ...baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', '/dev/null'), server: { grpc: { port: 0, ...grpc } }, identity: { mtls: { trustDomains: [{ name: 'prod.test' }] } } });

  it('on loopback without allowedClients: dev sets trustUnauthenticatedPeers (which Tollgate logs) instead of refusing', () => {
    assert.equal(devConfig(spiffeConfig({ host: '127.0.0.1' })).server.grpc.trustUnauthenticatedPeers, true);
    assert.equal(devConfig(spiffeConfig({ host: 'unix:/tmp/tollgate-dev.sock' })).server.grpc.trustUnauthenticatedPeers, true);
  });

  it('beyond loopback: dev refuses like serve, naming the field', () => {
    assert.throws(() => devConfig(spiffeConfig({ host: '10.1.2.3', insecure: true })), /^ConfigError: server\.grpc\.tls: identity\.mtls is configured/);
  });

  it('with allowedClients, or without SPIFFE callers: the config is used as it is', () => {
    const withTls = spiffeConfig({ host: '127.0.0.1', tls: { certFile: 'c', keyFile: 'k', clientCaFile: 'ca', allowedClients: [ENVOY_ID] } });
    assert.equal(devConfig(withTls), withTls);
    const plain = testConfig({ ...baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', '/dev/null'), server: { grpc: { port: 0 } } });
    assert.equal(devConfig(plain), plain);
  });
});

describe('mTLS on the gRPC port with allowedClients: only Envoy\'s identity', () => {
  let stack: MtlsStack;
  let ca: Pem;
  let envoyClient: Pem;
  let sameCaStranger: Pem;

  before(async () => {
    stack = await startMtlsStack(ENVOY_ID, [ENVOY_ID]);
    ({ ca, envoyClient } = stack);
    sameCaStranger = stack.client('stranger', 'spiffe://tollgate.test/agent');
  });
  after(async () => {
    await stack.stop();
  });

  it('Envoy, presenting the allowed identity, gets requests through (ext_authz and ext_proc)', async () => {
    const r = await chat(stack);
    assert.equal(r.status, 200, r.body);
    assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${stack.providerKey}`);
  });

  /** Opens an ext_proc stream and reports how it ended. */
  const processStream = (creds: ChannelCredentials): Promise<ServiceError | null> =>
    new Promise((resolve) => {
      const client: Client = new (envoyServices().ExternalProcessorClient)(`127.0.0.1:${stack.tollgate.grpcPort}`, creds);
      const call = client.makeBidiStreamRequest('/envoy.service.ext_proc.v3.ExternalProcessor/Process', (b: Buffer) => b, (b: Buffer) => b, new Metadata(), { deadline: Date.now() + 3_000 });
      call.on('data', () => undefined);
      call.on('error', (err: ServiceError) => { client.close(); resolve(err); });
      call.on('end', () => { client.close(); resolve(null); });
      call.end();
    });

  it('a TLS client from the same CA but another identity cannot open an ext_proc stream', async () => {
    const err = await processStream(credentials.createSsl(pem(ca.certFile), pem(sameCaStranger.keyFile), pem(sameCaStranger.certFile)));
    assert.ok(err !== null);
    assert.equal(err.code, 7, `PERMISSION_DENIED, got ${err.code}: ${err.details}`);
    await eventually(() => /not in server\.grpc\.tls\.allowedClients refused/.test(stack.tollgate.output()));
  });

  it('Envoy\'s own certificate opens a stream (the control case)', async () => {
    const err = await processStream(credentials.createSsl(pem(ca.certFile), pem(envoyClient.keyFile), pem(envoyClient.certFile)));
    assert.ok(err === null || err.code !== status.PERMISSION_DENIED, `not refused for its identity (${err?.code ?? 'ok'})`);
  });

  it('a plaintext client is refused at the handshake', async () => {
    const err = await processStream(credentials.createInsecure());
    assert.ok(err !== null);
    assert.equal(err.code, 14, `UNAVAILABLE, got ${err.code}: ${err.details}`);
  });
});
