// Pure helpers of the overhead benchmark (test/bench): statistics, flags, wrk output, /proc and
// Prometheus parsing, set-up transforms on the real rendered Envoy config, summaries, profiles, chart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/envoy/render.ts';
import { chartSpec, chartSvg } from '../bench/chart.ts';
import { parseBenchArgs } from '../bench/cli.ts';
import { byFunction, byPackage, packageOf, type CpuProfile } from '../bench/cpu-profile.ts';
import type { WindowResult } from '../bench/measure.ts';
import { parseCpuTotals, parseStatTicks, parseStatusKb } from '../bench/proc.ts';
import { metricDeltas, sumMetric } from '../bench/prom.ts';
import { ratiosTo, renderTables, summarise } from '../bench/report.ts';
import { chatBody, clusters, connectionManager, httpFilterNames, removeHttpFilter, selectSetups, setProcessingMode, setTollgateEndpoints, SETUPS, type EnvoyConfig } from '../bench/setups.ts';
import { formatRatio, median, percentile, ratio, spread } from '../bench/stats.ts';
import { assertClean, luaString, parseWrkOutput, wrkScript, type WrkResult } from '../bench/wrk.ts';
import { baseConfigInput, mintTestKeys, testConfig } from '../helpers/config.ts';

describe('bench stats', () => {
  const xs = [5, 1, 4, 2, 3, 10, 7, 6, 9, 8];
  for (const [p, want] of [[0, 1], [10, 1], [50, 5], [90, 9], [99, 10], [100, 10]] as const) {
    it(`percentile p${p} (nearest rank) = ${want}`, () => { assert.equal(percentile(xs, p), want); });
  }
  it('percentile rejects p outside 0..100 and is NaN for no data', () => {
    assert.throws(() => percentile(xs, 101));
    assert.ok(Number.isNaN(percentile([], 50)));
  });
  for (const [input, want] of [[[3, 1, 2], 2], [[4, 1, 3, 2], 2.5], [[7], 7]] as const) {
    it(`median ${JSON.stringify(input)} = ${want}`, () => { assert.equal(median(input), want); });
  }
  it('median of nothing is NaN; the input is not reordered', () => {
    assert.ok(Number.isNaN(median([])));
    const a = [3, 1, 2];
    median(a);
    assert.deepEqual(a, [3, 1, 2]);
  });
  it('ratio is NaN without a positive base', () => {
    assert.equal(ratio(3, 2), 1.5);
    for (const [v, b] of [[1, 0], [1, -1], [undefined, 1], [1, undefined], [NaN, 1]] as const) assert.ok(Number.isNaN(ratio(v, b)));
    assert.equal(formatRatio(2.345), '2.35×');
    assert.equal(formatRatio(NaN), '–');
  });
  it('spread is (max − min) / median', () => {
    assert.equal(spread([9, 10, 11]), 0.2);
    assert.equal(spread([5]), 0);
  });
});

describe('bench flags', () => {
  it('defaults run the default set-ups at 200 and 500 req/s', () => {
    const o = parseBenchArgs([]);
    assert.deepEqual(o.rates, [200, 500]);
    assert.equal(o.seconds, 5);
    assert.equal(o.rounds, 3);
    assert.equal(o.connections, 4);
    assert.equal(o.maxConnections, 16);
    assert.equal(o.p99LimitMs, 50);
    assert.equal(o.setups, undefined);
    assert.equal(o.png, '.tmp/bench/overhead.png');
    assert.equal(o.skipMax, false);
    assert.equal(o.heapFlags, undefined);
  });
  it('--heap-flags: semi-space and old-space sizes only, split on spaces', () => {
    assert.deepEqual(parseBenchArgs(['--heap-flags= --max-semi-space-size=2  --max-old-space-size=96 ']).heapFlags, ['--max-semi-space-size=2', '--max-old-space-size=96']);
    assert.throws(() => parseBenchArgs(['--heap-flags', '--expose-gc']), /--heap-flags/);
    assert.throws(() => parseBenchArgs(['--heap-flags', ' ']), /--heap-flags/);
  });
  it('--quick shortens the run; explicit flags still win', () => {
    const q = parseBenchArgs(['--quick']);
    assert.deepEqual([q.rates, q.seconds, q.rounds], [[200], 3, 1]);
    assert.equal(parseBenchArgs(['--quick', '--rounds', '2']).rounds, 2);
  });
  it('parses lists, repeated counters, files and --no-max', () => {
    const o = parseBenchArgs(['--rates', '100, 300', '--setups', 'full,direct', '--counter', 'a_total', '--counter', 'b_total', '--json', 'x.json', '--png', 'y.png', '--no-max', '--cpu-prof', 'p']);
    assert.deepEqual(o.rates, [100, 300]);
    assert.deepEqual(o.setups, ['full', 'direct']);
    assert.deepEqual(o.counters, ['a_total', 'b_total']);
    assert.deepEqual([o.json, o.png, o.skipMax, o.cpuProf], ['x.json', 'y.png', true, 'p']);
  });
  const bad: [string, string[], RegExp][] = [
    ['a zero rate', ['--rates', '0'], /--rates/],
    ['a word for seconds', ['--seconds', 'ten'], /--seconds/],
    ['fractional rounds', ['--rounds', '1.5'], /--rounds/],
    ['no set-ups', ['--setups', ' , '], /--setups/],
    ['a set-up twice', ['--setups', 'full,full'], /twice/],
    ['an unknown flag', ['--rate', '200'], /rate/],
    ['a positional', ['200'], /argument/i],
  ];
  for (const [what, argv, re] of bad) it(`rejects ${what}`, () => { assert.throws(() => parseBenchArgs(argv), re); });
});

const wrkLine = (o: Partial<Record<string, number>> = {}): string =>
  `Running 5s test\nTGBENCH ${JSON.stringify({ requests: 1000, durationUs: 5_000_000, errors: 0, non2xx: 0, firstBadStatus: 0, lateSlots: 0, p50Us: 500, p90Us: 800, p99Us: 1200, maxUs: 9000, meanUs: 600.5, ...o })}\n`;

describe('bench wrk script and output', () => {
  it('parses the result line and derives the rate', () => {
    const r = parseWrkOutput(wrkLine());
    assert.equal(r.requests, 1000);
    assert.equal(r.rps, 200);
    assert.equal(r.p99Us, 1200);
  });
  it('rejects missing or incomplete result lines', () => {
    assert.throws(() => parseWrkOutput('Running 5s test\n'), /no result line/);
    assert.throws(() => parseWrkOutput('TGBENCH {"requests":1}'), /durationUs/);
    assert.throws(() => parseWrkOutput(wrkLine({ durationUs: 0 })), /duration/);
  });
  const clean = parseWrkOutput(wrkLine());
  const cases: [string, Partial<WrkResult>][] = [['socket errors', { errors: 1 }], ['a non-2xx response', { non2xx: 1, firstBadStatus: 302 }], ['no requests', { requests: 0 }]];
  for (const [what, patch] of cases) it(`assertClean fails loudly on ${what}`, () => { assert.throws(() => { assertClean('x', { ...clean, ...patch }); }, /x:/); });
  it('assertClean accepts a clean run', () => { assertClean('x', clean); });
  it('luaString escapes quotes, backslashes and non-ASCII bytes', () => {
    assert.equal(luaString('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(luaString('é\n'), '"\\195\\169\\10"');
  });
  it('paced scripts share one schedule with interval threads/rate; unpaced scripts define no delay()', () => {
    const req = { method: 'POST', headers: { authorization: 'Bearer k' }, bodyFile: '/tmp/b' };
    const paced = wrkScript({ request: req, rate: 500, threads: 2 });
    assert.match(paced, /local interval_ms = 4\n/);
    assert.match(paced, /function delay\(\)/);
    assert.match(paced, /wrk\.headers\["authorization"\] = "Bearer k"/);
    assert.doesNotMatch(wrkScript({ request: req, threads: 1 }), /function delay/);
    assert.throws(() => wrkScript({ request: req, rate: 0, threads: 1 }), /rate/);
  });
});

describe('bench /proc and metrics parsing', () => {
  it('reads utime + stime after a command name with spaces and parentheses', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 37 0 0 20 0 11 0 100 1000 200';
    assert.equal(parseStatTicks(stat), 187);
    assert.throws(() => parseStatTicks('garbage'));
  });
  it('reads VmHWM and VmRSS in bytes', () => {
    const status = 'Name:\tnode\nVmPeak:\t 999 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n';
    assert.equal(parseStatusKb(status, 'VmHWM'), 2048 * 1024);
    assert.equal(parseStatusKb(status, 'VmRSS'), 1024 * 1024);
    assert.throws(() => parseStatusKb('Name: x\n', 'VmHWM'), /VmHWM/);
  });
  it('reads busy and total ticks of all CPUs (idle and iowait are not busy)', () => {
    const t = parseCpuTotals('cpu  100 5 50 800 10 1 2 3 0 0\ncpu0 50 2 25 400 5 0 1 1 0 0\n');
    assert.deepEqual(t, { busy: 161, total: 971 });
  });
  const metrics = [
    '# HELP tollgate_phase_duration_seconds x',
    'tollgate_phase_duration_seconds_bucket{le="0.001",phase="request_body"} 7',
    'tollgate_phase_duration_seconds_sum{phase="request_body"} 0.25',
    'tollgate_phase_duration_seconds_sum{phase="request_headers"} 0.5',
    'tollgate_phase_duration_seconds_sum_total 99',
    'vault_calls_total 3',
  ].join('\n');
  it('sums every series of one exact metric name', () => {
    assert.equal(sumMetric(metrics, 'tollgate_phase_duration_seconds_sum'), 0.75);
    assert.equal(sumMetric(metrics, 'vault_calls_total'), 3);
    assert.equal(sumMetric(metrics, 'absent_total'), 0);
  });
  it('reports counter growth per request', () => {
    assert.deepEqual(metricDeltas('vault_calls_total 3', 'vault_calls_total 13', ['vault_calls_total'], 100), { vault_calls_total: 0.1 });
  });
});

describe('bench set-ups on the rendered Envoy config', () => {
  const keys = mintTestKeys();
  const rendered = (): EnvoyConfig => parseYaml(renderEnvoyConfig(testConfig(baseConfigInput(keys, 'http://127.0.0.1:9/v1', '/dev/null')), {
    listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: 5, caFile: DEFAULT_CA_FILE,
  })) as EnvoyConfig;
  const ctx = { providerKey: 'sk-bench-provider', callerKey: keys.agent };
  const want: Record<string, string[]> = {
    direct: ['envoy.filters.http.buffer', 'envoy.filters.http.router'],
    authz: ['envoy.filters.http.buffer', 'envoy.filters.http.ext_authz', 'envoy.filters.http.router'],
    full: ['envoy.filters.http.buffer', 'envoy.filters.http.ext_authz', 'envoy.filters.http.ext_proc', 'envoy.filters.http.router'],
  };
  // Rows that differ from the full chain only in Tollgate's config or the request keep its filters.
  for (const name of ['dlp-8k', 'full-1m', 'redis', 'floor', 'floor-meta', 'floor-connect', 'mcp-call']) want[name] = want.full ?? [];
  want['authz-floor'] = want.authz ?? [];
  for (const s of SETUPS) {
    it(`${s.name}: only Tollgate's filters differ; the listener and the rest stay`, () => {
      const base = rendered();
      const cfg = rendered();
      s.envoy?.(cfg, ctx);
      assert.deepEqual(httpFilterNames(cfg), want[s.name]);
      const strip = (c: EnvoyConfig): unknown => { const h = { ...connectionManager(c) }; delete h.http_filters; delete h.route_config; return h; };
      assert.deepEqual(strip(cfg), strip(base));
      const headers = JSON.stringify(connectionManager(cfg).route_config);
      assert.equal(headers.includes(`Bearer ${ctx.providerKey}`), !(want[s.name] ?? []).includes('envoy.filters.http.ext_proc'), 'Envoy sets the provider key only where ext_proc does not');
      assert.equal(clusters(cfg).some((c) => c.name === 'tollgate'), s.tollgateReplicas > 0);
    });
  }
  it('helpers fail loudly on names that are not there, and edit what is', () => {
    const cfg = rendered();
    assert.throws(() => { removeHttpFilter(cfg, 'envoy.filters.http.nope'); }, /no HTTP filter/);
    setProcessingMode(cfg, { response_header_mode: 'SKIP' });
    assert.match(JSON.stringify(cfg), /"response_header_mode":"SKIP","response_body_mode":"BUFFERED"|"response_body_mode":"BUFFERED".*"response_header_mode":"SKIP"/);
    setTollgateEndpoints(cfg, [1001, 1002]);
    assert.equal((JSON.stringify(clusters(cfg).find((c) => c.name === 'tollgate')).match(/port_value/g) ?? []).length, 2);
  });
  it('selectSetups keeps the order given and names unknown set-ups', () => {
    assert.deepEqual(selectSetups(['full', 'direct']).map((s) => s.name), ['full', 'direct']);
    assert.throws(() => selectSetups(['direct', 'warp']), /unknown set-up warp; known: direct, authz, full/);
  });
  for (const size of [400, 1024, 8192]) {
    it(`chatBody(${size}) is exactly ${size} bytes of OpenAI chat JSON`, () => {
      const body = chatBody(size);
      assert.equal(Buffer.byteLength(body), size);
      const parsed = JSON.parse(body) as { model: string; messages: { role: string }[] };
      assert.equal(parsed.model, 'gpt-4o-mini');
      assert.deepEqual(parsed.messages.map((m) => m.role), ['system', 'user']);
    });
  }
  it('chatBody refuses a size below the empty request', () => { assert.throws(() => chatBody(50), /smallest/); });
});

function win(setup: string, load: string, round: number, p50: number, rps: number, cpuT: number, peakT: number): WindowResult {
  return {
    setup, load, round, connections: 4,
    wrk: { requests: rps * 5, durationUs: 5e6, errors: 0, non2xx: 0, firstBadStatus: 0, lateSlots: round, p50Us: p50, p90Us: p50 * 2, p99Us: p50 * 3, maxUs: p50 * 9, meanUs: p50, rps },
    cpuUsPerRequest: { envoy: 100, tollgate: cpuT, upstream: 50, total: 150 + (Number.isNaN(cpuT) ? 0 : cpuT) },
    peakRssBytes: { envoy: 1, tollgate: peakT, upstream: 1 },
    peakReset: true, handlerUsPerRequest: NaN, counters: {}, otherBusyCores: 0.1, probe: undefined,
  };
}

describe('bench summaries and ratios', () => {
  const windows = [
    win('direct', 'rate:200', 0, 400, 200, NaN, NaN), win('direct', 'rate:200', 1, 600, 200, NaN, NaN), win('direct', 'rate:200', 2, 500, 200, NaN, NaN),
    win('full', 'rate:200', 0, 2000, 200, 300, 100e6), win('full', 'rate:200', 1, 1000, 200, 200, 300e6), win('full', 'rate:200', 2, 1500, 198, 250, 200e6),
  ];
  const summary = summarise(windows);
  const ratios = ratiosTo(summary, 'direct');
  it('takes medians over rounds, the highest peak, and sums late slots', () => {
    const f = summary.full!['rate:200']!;
    assert.equal(f.p50Us, 1500);
    assert.equal(f.cpuUsPerRequest.tollgate, 250);
    assert.equal(f.peakRssBytes.tollgate, 300e6);
    assert.equal(f.lateSlots, 3);
    assert.ok(Number.isNaN(summary.direct!['rate:200']!.cpuUsPerRequest.tollgate!));
  });
  it('divides by the baseline at the same load', () => {
    assert.equal(ratios.direct!['rate:200']!.p50, 1);
    assert.equal(ratios.full!['rate:200']!.p50, 3);
    assert.equal(ratios.full!['rate:200']!.addedP50Us, 1000);
    assert.equal(ratios.full!['rate:200']!.cpuTotal, 400 / 150);
    assert.throws(() => ratiosTo(summary, 'authz'), /baseline/);
  });
  it('prints ratios as the headline, bare resources apart', () => {
    const text = renderTables({ setups: [{ name: 'direct', label: 'Envoy direct' }, { name: 'full', label: 'Full' }], rates: [200], summary, ratios, idleRssBytes: { full: 126 * 1048576 }, counters: [], withMax: false, maxConnections: 16, p99LimitMs: 50 });
    assert.match(text, /\| Full \| 3\.00× \| 3\.00× \| 2\.67× \| 1000 \|/);
    assert.match(text, /\| Full \| 250 \| 100 \| 50 \| – \| 286 \| 0 \| 126 \|/);
    assert.doesNotMatch(text, /RATE NOT SUSTAINED/);
  });
  it('names a paced load whose achieved rate fell more than 5 % short', () => {
    const s2 = summarise([win('direct', 'rate:200', 0, 400, 200, NaN, NaN), win('full', 'rate:200', 4, 1000, 180, 1, 1)]);
    const text = renderTables({ setups: [{ name: 'direct', label: 'D' }, { name: 'full', label: 'F' }], rates: [200], summary: s2, ratios: ratiosTo(s2, 'direct'), idleRssBytes: {}, counters: [], withMax: false, maxConnections: 16, p99LimitMs: 50 });
    assert.match(text, /RATE NOT SUSTAINED.*full @200 got 180 req\/s \(4 late slots\)/);
    assert.doesNotMatch(text, /direct @200 got/);
  });
});

describe('bench max-throughput columns', () => {
  it('shows the fixed-connection run for every set-up and – where no connection count met the p99 limit', () => {
    const ws = [
      win('direct', 'max:16', 0, 1000, 10000, NaN, NaN), win('direct', 'max', 0, 1000, 10000, NaN, NaN),
      win('full', 'max:16', 0, 20000, 1000, 900, 200e6),
    ];
    const summary = summarise(ws);
    const text = renderTables({ setups: [{ name: 'direct', label: 'D' }, { name: 'full', label: 'F' }], rates: [], summary, ratios: ratiosTo(summary, 'direct'), idleRssBytes: {}, counters: [], withMax: true, maxConnections: 16, p99LimitMs: 50 });
    assert.match(text, /\| F \| 0\.10× \| 20\.00× \| – \|/);
    assert.match(text, /full –/);
  });
});

describe('bench CPU profile summaries', () => {
  const frame = (functionName: string, url: string, lineNumber = 0): CpuProfile['nodes'][number]['callFrame'] => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('decode', 'file:///w/node_modules/protobufjs/src/reader.js', 9) },
      { id: 4, callFrame: frame('onMessage', 'file:///w/extproc/processing/session.ts', 41) },
      { id: 5, callFrame: frame('write', 'file:///w/node_modules/@grpc/grpc-js/build/src/server.js') },
    ],
    samples: [2, 3, 3, 4, 5, 2, 3],
    timeDeltas: [5000, 100, 100, 100, 100, 5000, 100],
  };
  it('ranks self time, leaving idle out of the shares', () => {
    const f = byFunction(profile);
    assert.equal(f[0]!.name, 'decode protobufjs/src/reader.js:10');
    assert.equal(f[0]!.share, 0.6);
    assert.equal(f.reduce((a, x) => a + x.share, 0), 1);
  });
  it('groups by package or project folder', () => {
    assert.deepEqual(byPackage(profile).map((x) => x.name), ['protobufjs', 'extproc/processing', '@grpc/grpc-js']);
    assert.equal(packageOf('node:internal/streams/readable', 'x'), 'node:internal');
    assert.equal(packageOf('', '(garbage collector)'), '(garbage collector)');
  });
});

describe('bench chart', () => {
  const input = {
    title: 'T', subtitle: 'S', setups: ['Envoy direct', 'Full'], metrics: ['p50 @200/s', 'max req/s'], baselineLabel: 'Envoy direct',
    bars: [{ setup: 'Envoy direct', metric: 'p50 @200/s', value: 1 }, { setup: 'Full', metric: 'p50 @200/s', value: 3.25 }, { setup: 'Full', metric: 'max req/s', value: NaN }],
  };
  it('keeps the set-up and metric order and drops missing values', () => {
    const spec = chartSpec(input) as { data: { values: unknown[] }[]; scales: { name: string; domain: unknown }[] };
    assert.equal(spec.data[0]!.values.length, 2);
    assert.deepEqual(spec.scales.find((s) => s.name === 'color')!.domain, input.setups);
    assert.deepEqual(spec.scales.find((s) => s.name === 'x')!.domain, input.metrics);
  });
  it('renders an SVG with the labels and values', async () => {
    const svg = await chartSvg(input);
    assert.match(svg, /^<svg/);
    for (const text of ['Full', 'max req/s', '3.25']) assert.ok(svg.includes(text), text);
  });
});
