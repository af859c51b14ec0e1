// Overhead benchmark: Envoy direct to a fake upstream versus Envoy + Tollgate (ext_authz + ext_proc),
// measured in the same run with wrk (Debian) on loopback, at one paced request rate.
//
//   npm run bench -- [--rate 200] [--seconds 10] [--rounds 3] [--connections 4] [--json]
//
// Reports p50/p99 per configuration (median over rounds, configurations interleaved) and the ratios.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';
import { DEFAULT_CA_FILE, renderEnvoyConfig } from '../../extproc/dev/envoy-config.ts';
import { findEnvoyBinary, pinnedEnvoyVersion, startEnvoy } from '../../extproc/dev/envoy-process.ts';
import { openAiResponder, startFakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { baseConfigInput, mintTestKeys, testConfig } from '../helpers/config.ts';
import { spawnTollgate } from '../helpers/stack.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const connections = Number(args.connections);

interface WrkResult {
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly rps: number;
  readonly p50_us: number;
  readonly p90_us: number;
  readonly p99_us: number;
}

// wrk's delay() paces each connection so the total rate is about `rate` requests per second.
const wrkScript = (key: string): string => `
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer ${key}"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Summarise the quarterly report in three bullet points."}]}'
local pace_ms = ${(1000 * connections) / rate}
function delay() return pace_ms end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"errors":%d,"non2xx":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d}\\n',
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`;

// Asynchronous: the fake upstream lives in this process, so the event loop must keep running.
async function runWrk(url: string, scriptPath: string, durationS: number): Promise<WrkResult> {
  const child = spawn('wrk', ['-t', '1', '-c', String(connections), '-d', `${durationS}s`, '--timeout', '5s', '-s', scriptPath, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`wrk failed: ${stderr}`);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const parsed = JSON.parse(line) as { requests: number; errors: number; non2xx: number; duration_us: number; p50_us: number; p90_us: number; p99_us: number };
  return { ...parsed, rps: parsed.requests / (parsed.duration_us / 1e6) };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error !== undefined) throw new Error('wrk is not installed (Debian package "wrk")');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const keys = mintTestKeys();
  const providerKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const credFile = join(dir, 'key');
  writeFileSync(credFile, providerKey, { mode: 0o600 });
  const upstream = await startFakeUpstream({ respond: openAiResponder(providerKey), maxRecorded: 0 });
  const input = { ...baseConfigInput(keys, `${upstream.url}/v1`, credFile), audit: { sink: { type: 'file' as const, path: join(dir, 'audit.jsonl') } }, logging: { level: 'warn' as const } };
  const config = testConfig(input);
  const configPath = join(dir, 'tollgate.yaml');
  writeFileSync(configPath, stringify(input));
  const tollgate = await spawnTollgate(configPath);
  const bin = findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN);
  const render = { listenHost: '127.0.0.1', listenPort: 0, adminPort: 0, tollgateHost: '127.0.0.1', tollgatePort: tollgate.grpcPort, caFile: DEFAULT_CA_FILE };
  const fullYaml = renderEnvoyConfig(config, render);
  // Direct: the same Envoy config with Tollgate's two filters removed, and the provider key added by Envoy.
  const direct = parseYaml(fullYaml) as { static_resources: { listeners: { filter_chains: { filters: { typed_config: { http_filters: { name: string }[]; route_config: { request_headers_to_add?: unknown } } }[] }[] }[] } };
  const hcm = direct.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config;
  hcm.http_filters = hcm.http_filters.filter((f) => f.name === 'envoy.filters.http.router');
  hcm.route_config.request_headers_to_add = [{ header: { key: 'authorization', value: `Bearer ${providerKey}` }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
  const envoyFull = await startEnvoy({ bin, configYaml: fullYaml });
  const envoyDirect = await startEnvoy({ bin, configYaml: stringify(direct) });
  const path = '/openai/chat/completions';
  const fullScript = join(dir, 'full.lua');
  const directScript = join(dir, 'direct.lua');
  writeFileSync(fullScript, wrkScript(keys.agent));
  writeFileSync(directScript, wrkScript('unused-by-direct'));
  const targets = {
    direct: { url: `http://127.0.0.1:${envoyDirect.listenerPort}${path}`, script: directScript },
    tollgate: { url: `http://127.0.0.1:${envoyFull.listenerPort}${path}`, script: fullScript },
  };
  const results: Record<keyof typeof targets, WrkResult[]> = { direct: [], tollgate: [] };
  let handlerUsPerRequest: number;
  try {
    for (const t of Object.values(targets)) await runWrk(t.url, t.script, 2); // warm-up
    for (let i = 0; i < rounds; i++) {
      for (const name of ['direct', 'tollgate'] as const) {
        const r = await runWrk(targets[name].url, targets[name].script, seconds);
        if (r.errors > 0 || r.non2xx > 0) throw new Error(`${name}: ${r.errors} socket errors, ${r.non2xx} non-2xx responses`);
        results[name].push(r);
      }
    }
    // Time inside Tollgate's handlers per request (all ext_proc phases), from its own metrics: the
    // part of the overhead that is Tollgate's code rather than transport.
    const metrics = await (await fetch(`http://127.0.0.1:${tollgate.adminPort}/metrics`)).text();
    const total = (name: string): number => metrics.split('\n').filter((l) => l.startsWith(name)).reduce((acc, l) => acc + Number(l.split(' ').at(-1)), 0);
    handlerUsPerRequest = (total('tollgate_phase_duration_seconds_sum') / total('tollgate_requests_total')) * 1e6;
  } finally {
    await envoyFull.stop();
    await envoyDirect.stop();
    await tollgate.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(Object.entries(results).map(([name, rs]) => [name, {
    rps: Math.round(median(rs.map((r) => r.rps))),
    p50_ms: median(rs.map((r) => r.p50_us)) / 1000,
    p90_ms: median(rs.map((r) => r.p90_us)) / 1000,
    p99_ms: median(rs.map((r) => r.p99_us)) / 1000,
  }])) as Record<'direct' | 'tollgate', { rps: number; p50_ms: number; p90_ms: number; p99_ms: number }>;
  const ratio = { p50: summary.tollgate.p50_ms / summary.direct.p50_ms, p99: summary.tollgate.p99_ms / summary.direct.p99_ms };
  const meta = { envoy: pinnedEnvoyVersion(), node: process.version, target_rate: rate, seconds, rounds, connections };
  if (args.json) {
    process.stdout.write(JSON.stringify({ meta, summary, ratio, tollgate_handler_us_per_request: handlerUsPerRequest }, null, 2) + '\n');
    return;
  }
  const row = (name: string, s: { rps: number; p50_ms: number; p90_ms: number; p99_ms: number }): string =>
    `| ${name} | ${s.rps} | ${s.p50_ms.toFixed(3)} | ${s.p90_ms.toFixed(3)} | ${s.p99_ms.toFixed(3)} |`;
  process.stdout.write([
    `Envoy ${meta.envoy}, Node ${meta.node}; wrk: ${connections} connections paced to ~${rate} req/s, ${seconds}s x ${rounds} rounds (median), interleaved.`,
    '',
    '| configuration | req/s | p50 ms | p90 ms | p99 ms |',
    '| --- | --- | --- | --- | --- |',
    row('Envoy direct', summary.direct),
    row('Envoy + Tollgate', summary.tollgate),
    '',
    `ratio (Envoy + Tollgate / Envoy direct): p50 ${ratio.p50.toFixed(2)}x, p99 ${ratio.p99.toFixed(2)}x`,
    `time in Tollgate's ext_proc handlers: ${handlerUsPerRequest.toFixed(0)} µs per request (the rest of the difference is ext_authz, gRPC transport and Envoy)`,
    '',
  ].join('\n'));
}

await main();
