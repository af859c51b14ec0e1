// The benchmark's floor and probe, pure parts: the floor's answers encode with Tollgate's protos and set
// only the credential, the floor starts like `tollgate serve` (heap flags, message limit), the probe's
// arithmetic, "Tollgate's own cost" and the CPU profile by phase.
import { create, equals, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createAuthzContextCodec } from '../../extproc/core/authz-context.ts';
import { CALLER_CREDENTIAL_HEADERS } from '../../extproc/core/request-context.ts';
import type { CheckRequest } from '../../extproc/wire/ext-authz.ts';
import type { ProcessingRequest } from '../../extproc/wire/ext-proc.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import { byPhase, phaseOf, PROBE_PHASE, STARTUP_PHASE, TRANSPORT_PHASE, WORK_RULES, type CpuProfile } from '../bench/cpu-profile.ts';
import { connectFloorAnswer, connectFloorCheck, envoyRegistry } from '../bench/floor-connect-service.ts';
import { floorAnswer, floorCheck } from '../bench/floor-service.ts';
import type { WindowResult } from '../bench/measure.ts';
import { floorPairs, kindLabel, ownCost, renderOwnCost, renderProbeTable } from '../bench/own-cost.ts';
import { answerKind, foldGcStats, probePerRequest, type ProbePerRequest, type ProbeTotals } from '../bench/probe-stats.ts';
import { GRPC_MESSAGE_HEADROOM_BYTES, SERVE_NODE_FLAGS, serveMaxMessageBytes } from '../bench/processes.ts';
import { summarise, summariseProbe } from '../bench/report.ts';
import { DEFAULT_SETUPS, selectSetups, SETUPS } from '../bench/setups.ts';
import { baseConfigInput, mintTestKeys, testConfig } from '../helpers/config.ts';

const source = (rel: string): string => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');

describe('bench floor starts like tollgate serve', () => {
  it("uses serve's heap flags (HEAP_FLAGS in bin/tollgate.mjs)", () => {
    const m = /const HEAP_FLAGS = (\[[^\]]*\]);/.exec(source('bin/tollgate.mjs'));
    assert.ok(m?.[1] !== undefined, 'HEAP_FLAGS not found in bin/tollgate.mjs');
    assert.deepEqual(JSON.parse(m[1].replaceAll("'", '"')), [...SERVE_NODE_FLAGS]);
  });
  it("sets serve's gRPC message limit (GRPC_MESSAGE_HEADROOM_BYTES in extproc/app.ts)", () => {
    const m = /const GRPC_MESSAGE_HEADROOM_BYTES = ([\d_ *]+);/.exec(source('extproc/app.ts'));
    assert.ok(m?.[1] !== undefined, 'GRPC_MESSAGE_HEADROOM_BYTES not found in extproc/app.ts');
    assert.equal(m[1].split('*').map((x) => Number(x.trim().replaceAll('_', ''))).reduce((a, b) => a * b, 1), GRPC_MESSAGE_HEADROOM_BYTES);
    const config = testConfig(baseConfigInput(mintTestKeys(), 'http://127.0.0.1:9/v1', '/dev/null'));
    assert.equal(serveMaxMessageBytes(config), Math.max(config.limits.maxRequestBodyBytes, config.limits.maxResponseBodyBytes) + GRPC_MESSAGE_HEADROOM_BYTES);
  });
  it('docs/benchmarks.md lists every built-in set-up and the default run', () => {
    const doc = source('docs/benchmarks.md');
    for (const s of SETUPS) assert.match(doc, new RegExp(`^\\| \`${s.name}\` \\|`, 'm'), `${s.name} is not in the set-ups table`);
    assert.match(doc, new RegExp(`^\\| \`--setups a,b,c\` \\| ${DEFAULT_SETUPS.join(',')} \\|`, 'm'));
    assert.ok(doc.includes(`The default run is \`${DEFAULT_SETUPS.join(',')}\``));
  });
  it('the default run puts each Tollgate row next to its floor', () => {
    assert.deepEqual([...DEFAULT_SETUPS], ['direct', 'authz-floor', 'authz', 'floor', 'full']);
    assert.deepEqual(floorPairs(selectSetups(DEFAULT_SETUPS)), [{ setup: 'authz', floor: 'authz-floor' }, { setup: 'full', floor: 'floor' }]);
    // A floor whose Tollgate row is not in the run has nothing to be compared with.
    assert.deepEqual(floorPairs(selectSetups(['direct', 'floor', 'floor-meta'])), []);
    assert.deepEqual(floorPairs(selectSetups(['full', 'floor-meta', 'floor'])), [{ setup: 'full', floor: 'floor-meta' }, { setup: 'full', floor: 'floor' }]);
  });
});

describe('bench floor answers', () => {
  const services = envoyServices();
  const credential = Buffer.from('Bearer sk-floor', 'latin1');
  const encodeDecode = (value: unknown): Record<string, unknown> => {
    const m = services.externalProcessor.Process!;
    return services.ExternalProcessorClient.service.Process!.responseDeserialize(m.responseSerialize(value)) as Record<string, unknown>;
  };
  for (const kind of ['request_headers', 'request_body', 'response_headers', 'response_body', 'request_trailers', 'response_trailers']) {
    it(`${kind}: the matching answer, encoded with Tollgate's protos; only request headers carry an edit`, () => {
      const answer = floorAnswer({ request: kind } as unknown as ProcessingRequest, credential);
      assert.ok(answer !== undefined);
      assert.equal(answerKind(answer), kind);
      const decoded = JSON.stringify(encodeDecode(answer));
      assert.equal(decoded.includes('set_headers'), kind === 'request_headers', decoded);
      assert.ok(!decoded.includes('mode_override') && !decoded.includes('body_mutation'), decoded);
    });
  }
  it('request headers: authorization set in raw_value with append false', () => {
    const d = encodeDecode(floorAnswer({ request: 'request_headers' } as unknown as ProcessingRequest, credential)) as { request_headers: { response: { header_mutation: { set_headers: { header: { key: string; raw_value: Buffer; value?: string }; append: { value: boolean } }[] } } } };
    const [h] = d.request_headers.response.header_mutation.set_headers;
    assert.equal(h?.header.key, 'authorization');
    assert.equal(Buffer.from(h.header.raw_value).toString('latin1'), 'Bearer sk-floor');
    assert.ok(h.header.value === undefined || h.header.value === '');
    assert.equal(h.append.value, false);
  });
  it('an unknown message gets no answer (the floor fails the stream)', () => {
    assert.equal(floorAnswer({ request: 'protocol_config' } as unknown as ProcessingRequest, credential), undefined);
  });
  const check = (headers: Record<string, string>): CheckRequest => ({ attributes: { request: { http: { headers } } } });
  it('Check: an empty allow for a request with a body; the credential for one without, as Tollgate does', () => {
    const c = floorCheck({ providerKey: 'sk-floor', metadata: 'none' });
    assert.deepEqual(c(check({ 'content-length': '1024' })), { status: { code: 0 }, ok_response: {} });
    assert.deepEqual(c(check({ 'transfer-encoding': 'chunked' })), { status: { code: 0 }, ok_response: {} });
    for (const headers of [{}, { 'content-length': '0' }]) {
      assert.deepEqual(c(check(headers)).ok_response?.headers, [{ header: { key: 'authorization', value: 'Bearer sk-floor' }, append: { value: false } }]);
    }
  });
  it("Check with Tollgate-sized metadata: the authz context's fields and seal, and the caller's credential headers removed", () => {
    const res = floorCheck({ providerKey: 'sk-floor', metadata: 'tollgate' })(check({ 'content-length': '5' }));
    const fields = Object.keys(res.dynamic_metadata?.fields ?? {}).sort();
    const codec = createAuthzContextCodec(Buffer.alloc(32, 1), 1000);
    const want = Object.keys(codec.encode({ identity: { id: 'a', tenant: 't', kind: 'api_key' }, provider: 'p', decisionId: 'd', policyRevision: 'r', method: 'POST', path: '/', withoutBody: false, claims: '{}', shadow: '', issuedAtMs: 1 })).sort();
    assert.deepEqual(fields, want);
    assert.deepEqual(res.ok_response?.headers_to_remove, [...CALLER_CREDENTIAL_HEADERS]);
    // It must encode (the Struct is what Envoy stores and forwards to ext_proc).
    assert.ok(services.authorization.Check!.responseSerialize(res).length > 200);
  });
});

describe('bench floor on connect-node answers as the grpc-js floor', () => {
  const services = envoyServices();
  const registry = envoyRegistry();
  const message = (name: string): DescMessage => {
    const m = registry.getMessage(name);
    assert.ok(m !== undefined, name);
    return m;
  };
  const processingResponse = message('envoy.service.ext_proc.v3.ProcessingResponse');
  const checkResponse = message('envoy.service.auth.v3.CheckResponse');
  // The same message, field by field, once both are decoded (encoders may or may not write a zero value
  // they were given explicitly, e.g. BoolValue{value: false}; the wire meaning is the same).
  const assertSameMessage = (desc: DescMessage, ours: Record<string, unknown>, theirs: Uint8Array, what: string): void => {
    const a = fromBinary(desc, toBinary(desc, create(desc, ours)));
    const b = fromBinary(desc, theirs);
    assert.ok(equals(desc, a, b), `${what}: ${JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v))} vs ${JSON.stringify(b, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v))}`);
  };
  const credential = Buffer.from('Bearer sk-floor', 'latin1');
  const camel: Record<string, string> = {
    request_headers: 'requestHeaders', request_body: 'requestBody', response_headers: 'responseHeaders',
    response_body: 'responseBody', request_trailers: 'requestTrailers', response_trailers: 'responseTrailers',
  };
  for (const [kind, oneofCase] of Object.entries(camel)) {
    it(`${kind}: the same message as floorAnswer encoded by grpc-js`, () => {
      const ours = connectFloorAnswer({ request: { case: oneofCase } }, credential);
      assert.ok(ours !== undefined);
      const theirs = services.externalProcessor.Process!.responseSerialize(floorAnswer({ request: kind } as unknown as ProcessingRequest, credential));
      assertSameMessage(processingResponse, ours, theirs, kind);
    });
  }
  it('an unknown message gets no answer (the floor fails the stream)', () => {
    assert.equal(connectFloorAnswer({ request: { case: 'protocolConfig' } }, credential), undefined);
    assert.equal(connectFloorAnswer({ request: { case: undefined } }, credential), undefined);
  });
  it('Check: the same message as floorCheck with metadata none, with and without a body', () => {
    const ours = connectFloorCheck('sk-floor');
    const theirs = floorCheck({ providerKey: 'sk-floor', metadata: 'none' });
    for (const headers of [{ 'content-length': '1024' }, { 'transfer-encoding': 'chunked' }, {}, { 'content-length': '0' }]) {
      const want = services.authorization.Check!.responseSerialize(theirs({ attributes: { request: { http: { headers } } } }));
      assertSameMessage(checkResponse, ours({ attributes: { request: { http: { headers } } } }), want, JSON.stringify(headers));
    }
  });
  it('the registry decodes what Envoy sends: a ProcessingRequest encoded by grpc-js reads back with its oneof case', () => {
    const client = services.ExternalProcessorClient.service.Process!;
    const bytes = client.requestSerialize({ request_body: { body: Buffer.from('{"a":1}'), end_of_stream: true } });
    const desc = message('envoy.service.ext_proc.v3.ProcessingRequest');
    const decoded = fromBinary(desc, bytes) as unknown as { request: { case: string; value: { body: Uint8Array; endOfStream: boolean } } };
    assert.equal(decoded.request.case, 'requestBody');
    assert.equal(Buffer.from(decoded.request.value.body).toString('utf8'), '{"a":1}');
    assert.equal(decoded.request.value.endOfStream, true);
  });
});

describe('bench probe arithmetic', () => {
  it('names an ext_proc answer by the phase field it sets', () => {
    assert.equal(answerKind({ response_body: { response: {} } }), 'response_body');
    assert.equal(answerKind({ immediate_response: { status: { code: 403 } } }), 'immediate_response');
    assert.equal(answerKind({}), 'other');
    assert.equal(answerKind(null), 'other');
  });
  it('sums what each collection freed, never a negative amount, and its pause', () => {
    const gc = (before: number, after: number, cost: number): Parameters<typeof foldGcStats>[0][number] => ({ cost, beforeGC: { heapStatistics: { usedHeapSize: before } }, afterGC: { heapStatistics: { usedHeapSize: after } } });
    assert.deepEqual(foldGcStats([gc(100, 40, 5), gc(90, 95, 2)]), { freedBytes: 60, count: 2, pauseUs: 7 });
    assert.deepEqual(foldGcStats([]), { freedBytes: 0, count: 0, pauseUs: 0 });
  });
  const totals = (check: number, body: number, heap: number, gcs = 0): ProbeTotals => ({
    messages: { 'check:in': { count: check, bytes: check * 500 }, ...(body > 0 ? { 'request_body:in': { count: body, bytes: body * 1300 } } : {}) },
    heapAllocatedBytes: heap, gcCount: gcs, gcPauseUs: gcs * 100,
  });
  it('per request: mean bytes per message kind, kinds per request, heap and GC growth; replicas summed', () => {
    const p = probePerRequest([totals(10, 0, 1000), totals(5, 5, 0)], [totals(60, 40, 101_000, 2), totals(55, 55, 50_000, 3)], 100)!;
    assert.deepEqual(p.messages, { 'check:in': { bytes: 500, perRequest: 1 }, 'request_body:in': { bytes: 1300, perRequest: 0.9 } });
    assert.equal(p.wireBytes, (100 * 500 + 90 * 1300) / 100);
    assert.equal(p.heapBytes, 1500);
    assert.equal(p.gcPerRequest, 0.05);
    assert.equal(p.gcPauseUs, 5);
  });
  it('no probe, mismatched reads or no requests: undefined; kinds that did not grow are left out', () => {
    assert.equal(probePerRequest([], [], 10), undefined);
    assert.equal(probePerRequest([totals(1, 0, 0)], [], 10), undefined);
    assert.equal(probePerRequest([totals(1, 0, 0)], [totals(2, 0, 0)], 0), undefined);
    assert.deepEqual(Object.keys(probePerRequest([totals(1, 3, 0)], [totals(2, 3, 0)], 1)!.messages), ['check:in']);
  });
  it('medians over rounds, field by field', () => {
    const p = (wire: number, heap: number, kinds: Record<string, number>): ProbePerRequest => ({ messages: Object.fromEntries(Object.entries(kinds).map(([k, b]) => [k, { bytes: b, perRequest: 1 }])), wireBytes: wire, heapBytes: heap, gcPerRequest: 0, gcPauseUs: 0 });
    const s = summariseProbe([p(10, 100, { a: 1 }), undefined, p(30, 300, { a: 3, b: 7 }), p(20, 900, { a: 2 })])!;
    assert.equal(s.wireBytes, 20);
    assert.equal(s.heapBytes, 300);
    assert.deepEqual(s.messages, { a: { bytes: 2, perRequest: 1 }, b: { bytes: 7, perRequest: 1 } });
    assert.equal(summariseProbe([undefined]), undefined);
  });
});

function win(setup: string, load: string, o: { p50: number; p99: number; rps: number; cpuT: number; cpuE: number; peakT: number; heap: number; wire: number }): WindowResult {
  return {
    setup, load, round: 0, connections: 4,
    wrk: { requests: o.rps * 5, durationUs: 5e6, errors: 0, non2xx: 0, firstBadStatus: 0, lateSlots: 0, p50Us: o.p50, p90Us: o.p50, p99Us: o.p99, maxUs: o.p99, meanUs: o.p50, rps: o.rps },
    cpuUsPerRequest: { envoy: o.cpuE, tollgate: o.cpuT, upstream: 10, total: o.cpuE + o.cpuT + 10 },
    peakRssBytes: { envoy: 1, tollgate: o.peakT, upstream: 1 },
    peakReset: true, handlerUsPerRequest: NaN, counters: {}, otherBusyCores: 0,
    probe: { messages: { 'check:in': { bytes: 700, perRequest: 1 }, 'request_body:out': { bytes: 12, perRequest: 1 } }, wireBytes: o.wire, heapBytes: o.heap, gcPerRequest: 0.002, gcPauseUs: 1.5 },
  };
}

describe("bench: Tollgate's own cost", () => {
  const common = { p50: 1000, p99: 2000, rps: 200, cpuE: 100, peakT: 0, heap: 0, wire: 0 };
  const summary = summarise([
    win('full', 'rate:200', { ...common, p50: 2500, p99: 6000, cpuT: 900, cpuE: 140, peakT: 200 * 1048576, heap: 80 * 1024, wire: 9000 }),
    win('floor', 'rate:200', { ...common, p50: 2000, p99: 3000, cpuT: 300, peakT: 50 * 1048576, heap: 10 * 1024, wire: 7000 }),
    win('full', 'max:16', { ...common, rps: 1000, cpuT: 0, peakT: 300 * 1048576 }),
    win('floor', 'max:16', { ...common, rps: 4000, cpuT: 0, peakT: 60 * 1048576 }),
  ]);
  const input = { summary, idleRssBytes: { full: 130 * 1048576, floor: 50 * 1048576 }, rates: [200], withMax: true, maxConnections: 16 };
  const cost = ownCost({ setup: 'full', floor: 'floor' }, input);
  it('ratios for throughput and latency, differences for per-request costs and memory', () => {
    assert.deepEqual(cost.maxRps, { tollgate: 1000, floor: 4000, ratio: 0.25, diff: -3000 });
    assert.equal(cost.p50Us.ratio, 1.25);
    assert.equal(cost.p99Us.ratio, 2);
    assert.equal(cost.serviceCpuUs.diff, 600);
    assert.equal(cost.envoyCpuUs.diff, 40);
    assert.equal(cost.heapBytes.diff, 70 * 1024);
    assert.equal(cost.wireBytes.diff, 2000);
    assert.equal(cost.peakRssBytes.diff, 240 * 1048576);
    assert.equal(cost.idleRssBytes.diff, 80 * 1048576);
  });
  it('without the max runs, throughput is – and the peak comes from the last paced rate', () => {
    const c = ownCost({ setup: 'full', floor: 'floor' }, { ...input, withMax: false });
    assert.ok(Number.isNaN(c.maxRps.ratio));
    assert.equal(c.peakRssBytes.diff, 150 * 1048576);
    assert.doesNotMatch(renderOwnCost([c], new Map(), { ...input, withMax: false }), /max req\/s/);
  });
  it('prints each cell as Tollgate vs floor, then the ratio or the difference', () => {
    const out = renderOwnCost([cost], new Map([['full', 'Tollgate full chain'], ['floor', 'floor, full chain']]), input);
    assert.match(out, /Tollgate full chain vs floor, full chain/);
    assert.match(out, /\| 1000 vs 4000 \(0\.25×\) \| 2\.50 vs 2\.00 \(1\.25×\) \| 6\.00 vs 3\.00 \(2\.00×\) \| 900 vs 300 \(\+600\) \| 140 vs 100 \(\+40\) \| 80\.0 vs 10\.0 \(\+70\.0\) \| 9000 vs 7000 \(\+2000\) \| 300 vs 60 \(\+240\) \| 130 vs 50 \(\+80\) \|/);
    assert.equal(renderOwnCost([], new Map(), input), '');
  });
  it('the probe table: one column per message kind in request order, ×n when not one per request', () => {
    assert.equal(kindLabel('check:in'), 'Check in');
    assert.equal(kindLabel('response_body:out'), 'response_body out');
    const p = summary.full!['rate:200']!.probe!;
    const out = renderProbeTable([
      { label: 'Envoy direct', probe: undefined },
      { label: 'full', probe: { ...p, messages: { 'response_body:in': { bytes: 400, perRequest: 3 }, ...p.messages, 'check:in': { bytes: 700, perRequest: 1.02 } } } },
    ], '@200');
    const head = out.split('\n').find((l) => l.startsWith('| set-up'))!;
    assert.deepEqual(head.split('|').map((x) => x.trim()).filter((x) => x !== ''), ['set-up', 'Check in B', 'request_body out B', 'response_body in B', 'gRPC B/req', 'heap KB/req', 'GCs/1k req', 'GC pause µs/req']);
    assert.match(out, /\| full \| 700 \| 12 \| 400 ×3\.00 \| 9000 \| 80\.0 \| 2\.0 \| 1\.5 \|/);
    assert.doesNotMatch(out, /Envoy direct/);
    assert.equal(renderProbeTable([{ label: 'x', probe: undefined }], '@200'), '');
  });
});

describe('bench CPU profile by phase', () => {
  const f = (functionName: string, url = ''): { functionName: string; url: string } => ({ functionName, url });
  const P = 'file:///w/extproc/';
  it('the outermost ext_proc step module holds what it calls, library code included', () => {
    const stack = [f('processTicksAndRejections', 'node:internal/process/task_queues'), f('step', `${P}processing/stream-handler.ts`), f('handle', `${P}processing/session.ts`), f('requestBody', `${P}processing/steps/request-body.ts`), f('scan', `${P}processing/steps/content.ts`), f('detect', `${P}detectors/email.ts`), f('stringify', '')];
    assert.equal(phaseOf(stack), 'ext_proc step request-body');
  });
  it('Check, the stream outside the steps, the floor, start-up, GC, transport', () => {
    assert.equal(phaseOf([f('onData', 'file:///w/node_modules/@grpc/grpc-js/build/src/server.js'), f('Check', `${P}server/grpc-server.ts`), f('check', `${P}authz/check-handler.ts`), f('createHmac', 'node:crypto')]), 'ext_authz Check');
    assert.equal(phaseOf([f('onData', 'file:///w/node_modules/@grpc/grpc-js/x.js'), f('step', `${P}processing/stream-handler.ts`)]), 'ext_proc stream (session, outside the steps)');
    assert.equal(phaseOf([f('x', 'file:///w/node_modules/@grpc/grpc-js/x.js'), f('', 'file:///w/test/bench/floor-service.ts')]), 'floor handlers');
    assert.equal(phaseOf([f('run', 'node:internal/modules/esm/module_job'), f('', `${P}processing/steps/request-body.ts`)]), STARTUP_PHASE);
    assert.equal(phaseOf([f('(garbage collector)')]), 'GC');
    assert.equal(phaseOf([f('(program)')]), 'V8 (program)');
    assert.equal(phaseOf([f('onStreamRead', 'node:internal/stream_base_commons'), f('decode', 'file:///w/node_modules/protobufjs/x.js')]), TRANSPORT_PHASE);
    assert.equal(phaseOf([f('tick', `${P}telemetry/metrics.ts`)]), 'Tollgate, other (server, telemetry, timers)');
  });
  it("the probe's wrappers are transparent: decoding under them is transport; only the probe's own frames are the probe's", () => {
    const grpc = f('onData', 'file:///w/node_modules/@grpc/grpc-js/x.js');
    const wrapper = f('requestDeserialize', 'file:///w/test/bench/probe.ts');
    assert.equal(phaseOf([grpc, wrapper, f('decode', 'file:///w/node_modules/protobufjs/x.js')]), TRANSPORT_PHASE);
    assert.equal(phaseOf([grpc, wrapper]), PROBE_PHASE);
    assert.equal(phaseOf([grpc, wrapper, f('answerKind', 'file:///w/test/bench/probe-stats.ts')]), PROBE_PHASE);
  });
  it("Tollgate's Process decoder passes through like the probe: the decoding under it is transport", () => {
    const grpc = f('onData', 'file:///w/node_modules/@grpc/grpc-js/x.js');
    const decoder = f('requestDeserialize', `${P}wire/proto.ts`);
    assert.equal(phaseOf([grpc, decoder, f('ProcessingRequest$decode')]), TRANSPORT_PHASE);
    assert.equal(phaseOf([grpc, decoder, f('splitField', `${P}wire/proto-split.ts`)]), 'Tollgate, other (server, telemetry, timers)');
  });
  it('by kind of work: writes, digests, metrics, audit, scan, JSON and decoding before the phase that called them', () => {
    const grpc = f('onData', 'file:///w/node_modules/@grpc/grpc-js/x.js');
    const stream = f('answer', `${P}processing/stream-handler.ts`);
    const work = (...frames: { functionName: string; url: string }[]): string => phaseOf([grpc, ...frames], WORK_RULES);
    assert.equal(work(stream, f('write', `${P}processing/stream-handler.ts`), f('sendMessage', 'file:///w/node_modules/@grpc/grpc-js/y.js')), 'writing ext_proc answers (grpc-js, HTTP/2)');
    assert.equal(work(f('Check.answer.then.callback.code', `${P}server/grpc-server.ts`), f('respond', 'node:internal/http2/core')), 'writing Check answers (grpc-js, HTTP/2)');
    assert.equal(work(f('Check', `${P}server/grpc-server.ts`), f('check', `${P}authz/check-handler.ts`), f('encode', `${P}core/authz-context.ts`), f('', `${P}core/digest.ts`), f('Hash', 'node:internal/crypto/hash')), 'HMAC and SHA-256');
    assert.equal(work(stream, f('handle', `${P}processing/session.ts`), f('#done', `${P}processing/session.ts`), f('observe', 'file:///w/node_modules/prom-client/lib/histogram.js')), 'metrics (prom-client)');
    assert.equal(work(stream, f('finish', `${P}outcome/finish.ts`), f('write', `${P}telemetry/audit.ts`)), 'audit record (build, serialize, write)');
    assert.equal(work(stream, f('run', `${P}processing/steps/content.ts`), f('scan', `${P}detectors/scanner.ts`)), 'DLP scan (request and response)');
    assert.equal(work(stream, f('parseStrictJson', `${P}providers/shared/strict-json.ts`)), 'JSON parse and walk');
    assert.equal(work(stream, f('open', `${P}processing/open.ts`), f('get', `${P}wire/proto.ts`), f('Struct$decode')), 'decoding what Envoy sent (protobuf)');
    assert.equal(work(f('requestDeserialize', `${P}wire/proto.ts`), f('CheckRequest$decode')), 'decoding what Envoy sent (protobuf)');
    assert.equal(work(stream, f('headerMap', `${P}processing/headers.ts`)), 'ext_proc, the rest (session, steps, answers built)');
    assert.equal(work(f('onStreamRead', 'node:internal/stream_base_commons')), TRANSPORT_PHASE);
  });
  it('byPhase walks the profile tree and sums self time per phase, idle left out', () => {
    const node = (id: number, functionName: string, url: string, children: number[] = []): CpuProfile['nodes'][number] & { children: number[] } => ({ id, callFrame: { functionName, url, lineNumber: 0 }, children });
    const p: CpuProfile = {
      nodes: [
        node(1, '(root)', '', [2, 5, 6, 7]),
        node(2, 'emit', 'file:///w/node_modules/@grpc/grpc-js/x.js', [3]),
        node(3, 'check', `${P}authz/check-handler.ts`, [4]),
        node(4, 'digest', 'node:crypto'),
        node(5, '(garbage collector)', ''),
        node(6, '(idle)', ''),
        node(7, 'onStreamRead', 'node:internal/stream_base_commons'),
      ],
      samples: [4, 4, 3, 5, 6, 7, 2],
      timeDeltas: [1000, 1000, 1000, 1000, 5000, 2000, 2000],
    };
    assert.deepEqual(byPhase(p).map((x) => [x.name, x.selfMs]), [['ext_authz Check', 3], [TRANSPORT_PHASE, 4], ['GC', 1]].sort((a, b) => (b[1] as number) - (a[1] as number)));
    assert.equal(byPhase(p).reduce((a, x) => a + x.share, 0), 1);
  });
});
