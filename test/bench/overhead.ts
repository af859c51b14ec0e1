// Overhead benchmark: the same ~1 KB OpenAI chat request through the same Envoy 1.40, listener and
// fast upstream, for several set-ups that differ only in filters (Envoy direct, Tollgate ext_authz
// only, Tollgate full chain, and whatever rows test/bench/setups.ts adds) or in the service behind them
// (the no-op floor), interleaved over rounds. Reports latency ratios at paced rates, max throughput, CPU
// per request and peak RSS per process, Tollgate's own cost over its floor, and per-request probe figures.
//
//   npm run bench -- [--rates 200,500] [--seconds 5] [--rounds 3] [--setups direct,authz,full] [--json F] [--png F] [--quick]
//
// docs/benchmarks.md explains the set-up and how to read the output.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findEnvoyBinary, pinnedEnvoyVersion } from '../../extproc/dev/envoy-process.ts';
import { baseConfigInput, mintTestKeys } from '../helpers/config.ts';
import { chartPng, type ChartBar } from './chart.ts';
import { parseBenchArgs, USAGE, type BenchOptions } from './cli.ts';
import { byFunction, byPackage, byPhase, STARTUP_PHASE, WORK_RULES, type CpuProfile } from './cpu-profile.ts';
import { measureWindow, type Load, type WindowResult } from './measure.ts';
import { SERVE_NODE_FLAGS, startSetup, startUpstream, type Child, type SetupStack } from './processes.ts';
import { rssBytes } from './proc.ts';
import { floorPairs, ownCost, renderOwnCost, renderProbeTable } from './own-cost.ts';
import type { ProbeTotals } from './probe-stats.ts';
import { ratiosTo, renderTables, summarise } from './report.ts';
import { baseRequest, DEFAULT_SETUPS, selectSetups, type SetupContext } from './setups.ts';
import { assertClean, startWrk, WRK_BIN, wrkScript, type WrkRequest, type WrkResult } from './wrk.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };

interface Target {
  readonly stack: SetupStack;
  readonly request: WrkRequest;
  readonly path: string;
}

async function smoke(t: Target, body: string, headers: Readonly<Record<string, string>>, method: string): Promise<void> {
  const res = await fetch(`${t.stack.url}${t.path}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw new Error(`${t.stack.setup.name}: smoke request got ${res.status}: ${text.slice(0, 300)}`);
}

/** Envoy's non-zero ext_authz/ext_proc error, timeout and failure counters, to say why a request failed. */
async function envoyFailureCounters(stack: SetupStack): Promise<string> {
  try {
    const text = await (await fetch(`${stack.envoy.adminUrl}/stats?filter=${encodeURIComponent('ext_authz|ext_proc|upstream_rq_5xx|rq_timeout')}`, { signal: AbortSignal.timeout(3_000) })).text();
    const hits = text.split('\n').filter((l) => /(error|timeout|fail|denied|5xx|reset)/.test(l) && !/: 0$/.test(l) && !l.includes('histogram'));
    return hits.length === 0 ? 'none' : hits.join(', ');
  } catch (err) {
    return `unreadable (${err instanceof Error ? err.message : String(err)})`;
  }
}

async function run(opts: BenchOptions): Promise<void> {
  if (!existsSync(WRK_BIN)) throw new Error(`${WRK_BIN} is missing (Debian package "wrk")`);
  const setups = selectSetups(opts.setups ?? DEFAULT_SETUPS);
  const envoyBin = findEnvoyBinary(process.env.ENVOY_BIN === '' ? undefined : process.env.ENVOY_BIN);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const keys = mintTestKeys();
  const providerKey = `sk-bench-${randomBytes(16).toString('hex')}`;
  const credFile = join(dir, 'provider-key');
  writeFileSync(credFile, providerKey, { mode: 0o600 });
  const authzKeyFile = join(dir, 'authz-key');
  writeFileSync(authzKeyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const ctx: SetupContext = { providerKey, callerKey: keys.agent };
  const cpuProfDir = opts.cpuProf === undefined ? undefined : resolve(opts.cpuProf);
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });

  const children: { stop(): Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => { for (const c of children.reverse()) await c.stop().catch(() => undefined); };
  const onSignal = (): void => { log('interrupted; stopping'); void stopAll().then(() => { rmSync(dir, { recursive: true, force: true }); process.exit(130); }); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const windows: WindowResult[] = [];
  let failure: string | undefined;
  const idleRss: Record<string, number> = {};
  /** Check messages each service process saw over its life (from its probe), to put its CPU profile per request. */
  const checksByPid = new Map<number, number>();
  const stacks: SetupStack[] = [];
  let upstream: Child & { url: string };
  const started = Date.now();
  try {
    upstream = await startUpstream(credFile);
    children.push(upstream);
    const baseConfig = { ...baseConfigInput(keys, upstream.url, credFile), logging: { level: 'warn' as const } };
    const targets: Target[] = [];
    for (const setup of setups) {
      const flags = cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `${setup.floor === undefined ? 'tollgate' : 'floor'}-${setup.name}-\${pid}.cpuprofile`];
      const stack = await startSetup(setup, { dir, envoyBin, baseConfig, ctx, authzKeyFile, serviceNodeFlags: flags, ...(opts.heapFlags === undefined ? {} : { heapFlags: opts.heapFlags }), providerKeyFile: credFile, rssOf: rssBytes });
      children.push(stack);
      stacks.push(stack);
      if (stack.idleRssBytes.length > 0) idleRss[setup.name] = Math.max(...stack.idleRssBytes);
      const req = setup.request?.(baseRequest(ctx), ctx) ?? baseRequest(ctx);
      const bodyFile = join(dir, `body-${setup.name}`);
      writeFileSync(bodyFile, req.body);
      const t: Target = { stack, path: req.path, request: { method: req.method, headers: req.headers, bodyFile } };
      await smoke(t, req.body, req.headers, req.method);
      targets.push(t);
      log(`${setup.name}: envoy pid ${stack.envoy.pid}, ${setup.floor === undefined ? 'tollgate' : 'floor'} pids [${stack.services.map((x) => x.pid).join(', ')}], body ${Buffer.byteLength(req.body)} B`);
    }
    log(`upstream pid ${upstream.pid}; warming up ${opts.warmupSeconds}s per set-up`);
    for (const t of targets) {
      const script = join(dir, `warmup-${t.stack.setup.name}.lua`);
      writeFileSync(script, wrkScript({ request: t.request, threads: 1 }), { mode: 0o600 });
      assertClean(`${t.stack.setup.name} warm-up`, await startWrk({ url: `${t.stack.url}${t.path}`, scriptPath: script, seconds: opts.warmupSeconds, connections: opts.connections, threads: 1 }).result);
    }

    const measure = async (t: Target, load: Load, round: number): Promise<WindowResult> => {
      const w = await measureWindow({ stack: t.stack, upstreamPid: upstream.pid, request: t.request, path: t.path, load, seconds: opts.seconds, round, dir, counters: [...opts.counters, ...(t.stack.setup.counters ?? [])] });
      try {
        assertClean(`${t.stack.setup.name} ${load.key} round ${round + 1}`, w.wrk);
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; Envoy counters: ${await envoyFailureCounters(t.stack)}`, { cause: err });
      }
      return w;
    };
    const describe = (w: WrkResult): string => `${w.rps.toFixed(0)} req/s p50 ${(w.p50Us / 1000).toFixed(2)} ms p99 ${(w.p99Us / 1000).toFixed(2)} ms${w.lateSlots > 0 ? ` late ${w.lateSlots}` : ''}`;
    const others = (w: WindowResult): string => ` others ${w.otherBusyCores.toFixed(2)} cores`;
    try {
      for (let round = 0; round < opts.rounds; round++) {
        // Rotate the order each round, so no set-up always runs first (or right after the heaviest).
        const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
        for (const t of order) {
          for (const rate of opts.rates) {
            const w = await measure(t, { key: `rate:${rate}`, rate, connections: opts.connections }, round);
            windows.push(w);
            log(`round ${round + 1} ${t.stack.setup.name} @${rate}: ${describe(w.wrk)}${others(w)}`);
          }
          if (opts.skipMax) continue;
          // Max throughput: unpaced. The first step (--max-connections, 16 by default, as in issue 5's
          // table) is always kept as "max:<c>"; then connections are halved until p99 is under the
          // limit, and that run is "max". If no step gets there, "max" stays empty (shown as –).
          for (let c = opts.maxConnections; c >= 1; c = Math.floor(c / 2)) {
            const w = await measure(t, { key: 'max', connections: c }, round);
            const ok = w.wrk.p99Us < opts.p99LimitMs * 1000;
            log(`round ${round + 1} ${t.stack.setup.name} max c=${c}: ${describe(w.wrk)}${others(w)}${ok ? '' : ' (p99 over limit)'}`);
            if (c === opts.maxConnections) windows.push({ ...w, load: `max:${c}` });
            if (ok) { windows.push(w); break; }
          }
        }
      }
    } catch (err) {
      // Keep what was measured (JSON, tables, chart marked FAILED), then exit non-zero.
      failure = err instanceof Error ? err.message : String(err);
      log(`FAILED: ${failure}`);
    }
  } finally {
    for (const stack of stacks) {
      for (const svc of stack.services) {
        if (svc.probePort === undefined) continue;
        try {
          const totals = (await (await fetch(`http://127.0.0.1:${svc.probePort}/probe`, { signal: AbortSignal.timeout(3_000) })).json()) as ProbeTotals;
          checksByPid.set(svc.pid, totals.messages['check:in']?.count ?? 0);
        } catch {
          // A process that is gone has no count; its profile is then shown without figures per request.
        }
      }
    }
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(dir, { recursive: true, force: true });
  }

  const summary = summarise(windows);
  const baseline = setups[0]!.name;
  const ratios = ratiosTo(summary, baseline);
  const meta = {
    envoy: pinnedEnvoyVersion(),
    node: process.version,
    wrk: spawnSync(WRK_BIN, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '',
    cpus: spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim(),
    git: spawnSync('git', ['-C', PROJECT_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
    date: new Date().toISOString(),
    elapsed_s: Math.round((Date.now() - started) / 1000),
    options: opts,
    heap_flags: opts.heapFlags ?? SERVE_NODE_FLAGS,
    baseline,
    failure: failure ?? null,
  };
  const tables = renderTables({ setups, rates: opts.rates, summary, ratios, idleRssBytes: idleRss, counters: opts.counters, withMax: !opts.skipMax, maxConnections: opts.maxConnections, p99LimitMs: opts.p99LimitMs });
  const costInput = { summary, idleRssBytes: idleRss, rates: opts.rates, withMax: !opts.skipMax, maxConnections: opts.maxConnections };
  const ownCosts = floorPairs(setups).map((pair) => ownCost(pair, costInput));
  const resLoad = `rate:${opts.rates.at(-1)}`;
  const extra = [
    renderOwnCost(ownCosts, new Map(setups.map((s) => [s.name, s.label])), costInput),
    renderProbeTable(setups.map((s) => ({ label: s.label, probe: summary[s.name]?.[resLoad]?.probe })), `@${opts.rates.at(-1)} req/s, medians over rounds`),
  ].filter((x) => x !== '').map((x) => `\n${x}\n`).join('');
  if (failure !== undefined) process.stdout.write(`FAILED (the tables hold what was measured before): ${failure}\n\n`);
  process.stdout.write(`Envoy ${meta.envoy}, Node ${meta.node}, ${meta.cpus} CPUs, git ${meta.git}; wrk 1 thread, ${opts.connections} connections paced on one shared schedule; ${opts.seconds}s x ${opts.rounds} rounds, interleaved; body ${Buffer.byteLength(baseRequest(ctx).body)} B.\n\n${tables}\n${extra}`);

  let profiles: Record<string, unknown> | undefined;
  if (cpuProfDir !== undefined) {
    profiles = {};
    for (const f of readdirSync(cpuProfDir).filter((x) => x.endsWith('.cpuprofile'))) {
      const p = JSON.parse(readFileSync(join(cpuProfDir, f), 'utf8')) as CpuProfile;
      const fns = byFunction(p, 15);
      const pkgs = byPackage(p, 10);
      const phases = byPhase(p);
      const work = byPhase(p, WORK_RULES);
      // The profile covers the process's whole life: CPU per request divides by every Check it answered.
      const pid = Number(/-(\d+)\.cpuprofile$/.exec(f)?.[1]);
      const requests = checksByPid.get(pid) ?? 0;
      const perRequest = (ms: number, name: string): number => (requests > 0 && name !== STARTUP_PHASE ? (ms * 1000) / requests : NaN);
      const withPerRequest = (xs: typeof phases): (typeof phases[number] & { usPerRequest: number })[] => xs.map((x) => ({ ...x, usPerRequest: perRequest(x.selfMs, x.name) }));
      const line = (xs: typeof phases): string => xs.map((x) => `${x.name} ${(x.share * 100).toFixed(1)}%${Number.isFinite(perRequest(x.selfMs, x.name)) ? ` ${perRequest(x.selfMs, x.name).toFixed(0)} µs/req` : ''}`).join(', ');
      profiles[f] = { requests, byPhase: withPerRequest(phases), byWork: withPerRequest(work), byPackage: pkgs, byFunction: fns };
      process.stdout.write(`\nCPU profile ${f} (self time, share of busy time; ${requests} requests over its life):\n  phases: ${line(phases)}\n  work: ${line(work)}\n  packages: ${pkgs.map((x) => `${x.name} ${(x.share * 100).toFixed(1)}%`).join(', ')}\n${fns.map((x) => `  ${(x.share * 100).toFixed(1).padStart(5)}%  ${x.name}`).join('\n')}\n`);
    }
  }

  if (opts.json !== undefined) {
    mkdirSync(dirname(resolve(opts.json)), { recursive: true });
    writeFileSync(opts.json, JSON.stringify({ meta, idle_rss_bytes: idleRss, summary, ratios, own_cost: ownCosts, windows, ...(profiles === undefined ? {} : { cpu_profiles: profiles }) }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    log(`wrote ${opts.json}`);
  }

  const labels = new Map(setups.map((s) => [s.name, s.label]));
  const metrics: { name: string; pick: (r: (typeof ratios)[string]) => number | undefined }[] = [
    ...opts.rates.flatMap((x) => [
      { name: `p50 @${x}/s`, pick: (r: (typeof ratios)[string]) => r[`rate:${x}`]?.p50 },
      { name: `p99 @${x}/s`, pick: (r: (typeof ratios)[string]) => r[`rate:${x}`]?.p99 },
    ]),
    ...(opts.skipMax ? [] : [
      { name: `max ${opts.maxConnections}c`, pick: (r: (typeof ratios)[string]) => r[`max:${opts.maxConnections}`]?.rps },
      { name: `max p99<${opts.p99LimitMs}ms`, pick: (r: (typeof ratios)[string]) => r.max?.rps },
    ]),
    { name: `CPU/req @${opts.rates.at(-1)}/s`, pick: (r) => r[`rate:${opts.rates.at(-1)}`]?.cpuTotal },
  ];
  const bars: ChartBar[] = setups.flatMap((s) => metrics.map((m) => ({ setup: s.label, metric: m.name, value: m.pick(ratios[s.name] ?? {}) ?? NaN })));
  const png = await chartPng({
    title: `${failure === undefined ? '' : 'FAILED RUN: '}Tollgate overhead: ratios to ${labels.get(baseline) ?? baseline} (same run, interleaved)`,
    subtitle: `Envoy ${meta.envoy}, Node ${meta.node}, ${meta.cpus} CPUs, git ${meta.git}, ${meta.date.slice(0, 10)}; ${opts.rounds} rounds x ${opts.seconds}s; CPU = all processes`,
    setups: setups.map((s) => s.label),
    metrics: metrics.map((m) => m.name),
    bars,
    baselineLabel: labels.get(baseline) ?? baseline,
  });
  mkdirSync(dirname(resolve(opts.png)), { recursive: true });
  writeFileSync(opts.png, png);
  log(`wrote ${opts.png} (${meta.elapsed_s}s)`);
  if (failure !== undefined) throw new Error(failure);
}

let opts: BenchOptions;
try {
  opts = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exit(2);
}
try {
  await run(opts);
} catch (err) {
  process.stderr.write(`bench FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
