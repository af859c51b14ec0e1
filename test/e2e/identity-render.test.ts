// The mTLS listener as rendered: client certificates required and checked against the trust bundle and
// the configured trust domains, XFCC sanitised (set only with trustXfcc, which needs the mTLS
// listener), and the CLI flags that go together. Real Envoy validates each rendered config.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { runCommand, UsageError } from '../../extproc/cli/commands.ts';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { findEnvoyBinary } from '../../extproc/dev/envoy-process.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { makeCa, makeLeaf } from '../helpers/certs.ts';
import { baseConfigInput, mintTestKeys, testConfig } from '../helpers/config.ts';

type Node = Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((x, k) => (x as Record<string | number, unknown> | undefined)?.[k], o);

describe('rendering the mTLS listener', () => {
  let dir: string;
  let tls: { certFile: string; keyFile: string; clientCaFile: string };
  const input = (mtls: Node | undefined): ConfigInput => ({ ...baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', '/dev/null'), ...(mtls === undefined ? {} : { identity: { mtls } }) } as ConfigInput);
  const render = (mtls: Node | undefined, listener = true): Node =>
    parse(renderEnvoyConfig(testConfig(input(mtls)), { listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: 9001, caFile: DEFAULT_CA_FILE, ...(listener ? { listenerTls: tls } : {}) })) as Node;
  const hcm = (cfg: Node): Node => at(cfg, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config') as Node;
  const validate = (cfg: Node): void => {
    const path = join(dir, `envoy-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(cfg));
    execFileSync(findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN), ['--mode', 'validate', '--config-path', path], { stdio: 'pipe' });
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-render-'));
    const ca = makeCa(dir, 'ca');
    const leaf = makeLeaf(dir, 'listener', ca, 'IP:127.0.0.1', 'serverAuth');
    tls = { certFile: leaf.certFile, keyFile: leaf.keyFile, clientCaFile: ca.certFile };
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('requires a client certificate from the bundle, with a SAN prefix per trust domain', () => {
    const cfg = render({ trustDomains: [{ name: 'a.test' }, { name: 'b.test' }] });
    const ctx = at(cfg, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'transport_socket', 'typed_config') as Node;
    assert.equal(ctx.require_client_certificate, true);
    assert.equal(at(ctx, 'common_tls_context', 'validation_context', 'trusted_ca', 'filename'), tls.clientCaFile);
    assert.deepEqual(at(ctx, 'common_tls_context', 'validation_context', 'match_typed_subject_alt_names'), [
      { san_type: 'URI', matcher: { prefix: 'spiffe://a.test/' } },
      { san_type: 'URI', matcher: { prefix: 'spiffe://b.test/' } },
    ]);
    assert.equal(hcm(cfg).forward_client_cert_details, 'SANITIZE');
    assert.equal(at(hcm(cfg), 'http_filters', 1, 'typed_config', 'include_peer_certificate'), true);
    assert.equal(at(cfg, 'static_resources', 'listeners', 0, 'enable_reuse_port'), false, 'the template keeps refusing shared ports');
    assert.deepEqual(at(hcm(cfg), 'route_config', 'virtual_hosts', 0, 'typed_per_filter_config', 'envoy.filters.http.ext_proc', 'overrides'), {});
    validate(cfg);
  });

  it('without --listen-* the listener stays plaintext and XFCC is still sanitised', () => {
    const cfg = render(undefined, false);
    assert.equal(at(cfg, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'transport_socket'), undefined);
    assert.equal(hcm(cfg).forward_client_cert_details, 'SANITIZE');
    validate(cfg);
  });

  it('trustXfcc sets XFCC from the verified certificate (SANITIZE_SET, URI only)', () => {
    const cfg = render({ trustDomains: [{ name: 'a.test' }], trustXfcc: true });
    assert.equal(hcm(cfg).forward_client_cert_details, 'SANITIZE_SET');
    assert.deepEqual(hcm(cfg).set_current_client_cert_details, { uri: true });
    validate(cfg);
  });

  it('refuses trustXfcc without the mTLS listener', () => {
    assert.throws(() => render({ trustDomains: [{ name: 'a.test' }], trustXfcc: true }, false), /trustXfcc is set: the listener needs downstream mTLS/);
  });

  it('the --listen-* flags go together', async () => {
    const cfgPath = join(dir, 'tollgate.json');
    writeFileSync(cfgPath, JSON.stringify(input(undefined)));
    await assert.rejects(runCommand(['envoy', 'render', '--config', cfgPath, '--tollgate', '127.0.0.1:9001', '--listen-cert', tls.certFile]), UsageError);
    const r = await runCommand(['envoy', 'render', '--config', cfgPath, '--tollgate', '127.0.0.1:9001', '--listen-cert', tls.certFile, '--listen-key', tls.keyFile, '--listen-client-ca', tls.clientCaFile]);
    if (r.kind !== 'done') throw new Error('expected output');
    assert.match(r.output, /require_client_certificate: true/);
  });
});
