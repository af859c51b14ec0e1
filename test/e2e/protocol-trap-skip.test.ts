// Why ext_proc keeps the request-headers message (envoy/README.md): with request_header_mode SKIP,
// Envoy 1.40 ignores header mutations in the request-body answer, so a credential set there would
// never reach the provider. Checked against the real Envoy with a scripted ext_proc server.
import assert from 'node:assert/strict';
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { validateConfig } from '../../extproc/config/load.ts';
import { findEnvoyBinary, startEnvoy, type EnvoyProcess } from '../../extproc/dev/envoy-process.ts';
import { startFakeUpstream, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { requestBodyResponse, requestHeadersResponse, responseBodyResponse, responseHeadersResponse } from '../../extproc/processing/responses.ts';
import type { ProcessingRequest, ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { stringStruct } from '../../extproc/wire/struct.ts';

describe('Envoy trap: header mutations in the request-body answer', () => {
  let server: Server;
  let upstream: FakeUpstream;
  const envoys: Record<'SEND' | 'SKIP', EnvoyProcess | undefined> = { SEND: undefined, SKIP: undefined };

  before(async () => {
    upstream = await startFakeUpstream({ respond: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }) });
    server = new Server();
    const s = envoyServices();
    server.addService(s.authorization, {
      Check: (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => { cb(null, { status: { code: 0 }, dynamic_metadata: stringStruct({ identity: 'x' }) }); },
    });
    server.addService(s.externalProcessor, {
      Process: (call: ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
        call.on('end', () => { call.end(); });
        call.on('data', (msg: ProcessingRequest) => {
          switch (msg.request) {
            case 'request_headers': call.write(requestHeadersResponse()); break;
            case 'request_body': call.write(requestBodyResponse({ set: [{ name: 'x-set-in-body-answer', value: 'yes' }] })); break;
            case 'response_headers': call.write(responseHeadersResponse({ streamBody: false })); break;
            default: call.write(responseBodyResponse());
          }
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) => { server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => { if (e === null) resolve(p); else reject(e); }); });
    const config = validateConfig({ version: 1, providers: [{ name: 'p', kind: 'openai-compatible', upstream: upstream.url, models: ['*'], credential: { source: 'none' } }], identities: [] }, 'trap');
    for (const mode of ['SEND', 'SKIP'] as const) {
      const doc = parseDocument(renderEnvoyConfig(config, { listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: port, caFile: DEFAULT_CA_FILE }));
      const filters = doc.getIn(['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config', 'http_filters']) as YAMLSeq<YAMLMap>;
      const extProc = filters.items.find((f) => f.get('name') === 'envoy.filters.http.ext_proc')?.get('typed_config') as YAMLMap | undefined;
      assert.ok(extProc !== undefined, 'the template has an ext_proc filter');
      extProc.setIn(['processing_mode', 'request_header_mode'], mode);
      envoys[mode] = await startEnvoy({ bin: findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN), configYaml: doc.toString() });
    }
  });
  after(async () => {
    for (const e of Object.values(envoys)) await e?.stop();
    server.forceShutdown();
    await upstream.close();
  });

  const headerAtUpstream = async (mode: 'SEND' | 'SKIP'): Promise<string | string[] | undefined> => {
    const r = await fetch(`http://127.0.0.1:${envoys[mode]!.listenerPort}/p/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' });
    assert.equal(r.status, 200);
    await r.text();
    return upstream.requests.at(-1)?.headers['x-set-in-body-answer'];
  };

  it('with the request headers sent, a header set in the body answer reaches the upstream', async () => {
    assert.equal(await headerAtUpstream('SEND'), 'yes');
  });

  it('with the request headers skipped, Envoy 1.40 drops it (so Tollgate keeps request_header_mode SEND)', async () => {
    assert.equal(await headerAtUpstream('SKIP'), undefined);
  });
});
