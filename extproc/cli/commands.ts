import { flushCompileCache, getCompileCacheDir } from 'node:module';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { hashApiKey, mintApiKey } from '../identity/api-key.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { DEFAULT_CA_FILE, renderEnvoyConfig, type EnvoyRenderOptions, type ListenerTls } from '../envoy/render.ts';
import { runDemo } from './demo.ts';
import { runDev } from './dev.ts';
import { explainPolicy, runPolicyCheck, testPolicy } from './policy.ts';
import type { Running } from './running.ts';
import { runServe } from './serve.ts';
import { runAuditVerify } from './audit-verify.ts';
import { runPosture } from './posture.ts';
import { runMcpPins } from './mcp-pins.ts';
import { snapshotEnv } from '../config/env.ts';
import { scanCommand, ScanUsageError } from './scan.ts';

export const USAGE = `Usage: tollgate <command> [options]

Commands:
  serve --config FILE           Run the gRPC service (ext_authz, ext_proc, health) and the admin port.
  dev --config FILE [--port N] [--ca-file PATH] [--envoy-cert F --envoy-key F [--tollgate-ca F]]
      [--listen-cert F --listen-key F --listen-client-ca F]
                                Run Tollgate with a real Envoy in front of it on 127.0.0.1 (default port 10000).
                                With server.grpc.tls, Envoy presents --envoy-cert/--envoy-key to Tollgate and
                                verifies Tollgate's certificate against --tollgate-ca (default: clientCaFile).
                                --listen-*: the listener requires client certificates (mTLS, SPIFFE identities)
                                chaining to --listen-client-ca.
  demo [--port N]               Run Envoy, Tollgate and a local demo upstream on the embedded default config.
  config check --config FILE    Validate a configuration file.
  envoy render --config FILE --tollgate HOST:PORT [--tollgate IP:PORT ...] [--port N] [--admin-port N]
               [--listen HOST] [--max-connections N] [--ca-file PATH]
               [--envoy-cert F --envoy-key F [--tollgate-ca F]] [--listen-cert F --listen-key F --listen-client-ca F]
                                Print the Envoy config for a Tollgate config. The listener binds 127.0.0.1
                                unless --listen says otherwise; several --tollgate (IP addresses) make a
                                STATIC cluster of those replicas.
  policy check FILE             Validate a policy file: schema, CEL conditions, and an owner for every identity and
                                provider (unless waived in policy.waivers); warns on reviewBy dates in the past.
  policy test FILE TESTS        Run policy unit tests offline: each case is a request and its expected decision,
                                rule and reason (YAML or JSON). Exit 1 if any case fails.
  policy explain FILE REQUEST   Print the decision for one request (JSON) and every rule and check considered.
  keys mint                     Mint a Tollgate API key; prints the key (give it to the caller) and its hash (put it in the config).
  keys hash                     Read a key on stdin and print its hash.
  scan [--jsonl] [--dlp FILE] [FILE]
                                Find secrets and PII in text or a provider JSON body (stdin or FILE); prints findings
                                (type, offsets, JSON location), never the matched text.
  audit verify [--json] [--key-file F | --key-env NAME] FILE...
                                Verify hash-chained audit files; exit 1 and name the position of a deleted,
                                inserted, reordered or edited record.
  posture --config FILE [--json] [--fail-on SEVERITY]
                                Report the configuration against OWASP NHI Top 10, OWASP LLM Top 10 and NIST 800-207.
  cache warm                    Write Node's compile cache for every module serve loads, and exit (for images with a
                                read-only install: docs/operations.md, Start-up and the compile cache).
  mcp pins --config FILE --server NAME [--json] [--identity ID]
                                List an MCP server's tools with its configured credential and print each definition's
                                hash as pasteable \`pins\` YAML, compared with the reviewed and first-use pins. Exit 1
                                if a definition changed or carries invisible characters.
`;

/** A usage error: exit code 2 with the usage text. */
export class UsageError extends Error {}

/** A finished command: its output, and its exit code (0 unless the command reports a finding, e.g. a tampered audit log). */
export type CommandResult = { readonly kind: 'done'; readonly output: string; readonly exitCode?: number } | { readonly kind: 'running'; readonly running: Running };

const done = (output: string): CommandResult => ({ kind: 'done', output });

function portOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`invalid port: ${value}`);
  return n;
}

const TLS_OPTIONS: ParseArgsOptionsConfig = {
  'envoy-cert': { type: 'string' }, 'envoy-key': { type: 'string' }, 'tollgate-ca': { type: 'string' },
  'listen-cert': { type: 'string' }, 'listen-key': { type: 'string' }, 'listen-client-ca': { type: 'string' },
};

/** Downstream mTLS on Envoy's listener, from --listen-cert/--listen-key/--listen-client-ca (all three or none). */
function listenerTls(v: Record<string, string | undefined>): ListenerTls | undefined {
  const certFile = v['listen-cert'];
  const keyFile = v['listen-key'];
  const clientCaFile = v['listen-client-ca'];
  if (certFile === undefined && keyFile === undefined && clientCaFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined || clientCaFile === undefined) throw new UsageError('--listen-cert, --listen-key and --listen-client-ca go together');
  return { certFile, keyFile, clientCaFile };
}

/** Envoy's side of mTLS to Tollgate, from --envoy-cert/--envoy-key/--tollgate-ca; required when server.grpc.tls is set. */
function tollgateTls(v: Record<string, string | undefined>, config: Config): EnvoyRenderOptions['tollgateTls'] {
  const cert = v['envoy-cert'];
  const key = v['envoy-key'];
  if (cert === undefined && key === undefined) {
    if (config.server.grpc.tls !== undefined) throw new UsageError('server.grpc.tls is set: pass --envoy-cert and --envoy-key (Envoy\'s client certificate for Tollgate)');
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new UsageError('--envoy-cert and --envoy-key go together');
  const caFile = v['tollgate-ca'] ?? config.server.grpc.tls?.clientCaFile;
  if (caFile === undefined) throw new UsageError('--tollgate-ca is required when server.grpc.tls is not set');
  return { certFile: cert, keyFile: key, caFile };
}

function requireConfig(values: { config?: string | undefined }): string {
  if (values.config === undefined) throw new UsageError('--config FILE is required');
  return values.config;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [command, ...rest] = argv;
  const parse = (options: ParseArgsOptionsConfig, args = rest): Record<string, string | undefined> =>
    parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return done(USAGE);
    case 'serve':
      return { kind: 'running', running: await runServe(requireConfig(parse({ config: { type: 'string' } }))) };
    case 'dev': {
      const v = parse({ config: { type: 'string' }, port: { type: 'string' }, 'ca-file': { type: 'string' }, ...TLS_OPTIONS });
      const caFile = v['ca-file'];
      const configPath = requireConfig(v);
      const config = loadConfigFile(configPath);
      const tls = tollgateTls(v, config);
      const listen = listenerTls(v);
      return { kind: 'running', running: await runDev(configPath, config, { port: portOption(v.port, 10000), ...(caFile === undefined ? {} : { caFile }), ...(tls === undefined ? {} : { tollgateTls: tls }), ...(listen === undefined ? {} : { listenerTls: listen }) }) };
    }
    case 'demo': {
      const v = parse({ port: { type: 'string' } });
      return { kind: 'running', running: await runDemo(portOption(v.port, 10000)) };
    }
    case 'config': {
      if (rest[0] !== 'check') throw new UsageError('expected `config check --config FILE`');
      const path = requireConfig(parse({ config: { type: 'string' } }, rest.slice(1)));
      const cfg = loadConfigFile(path);
      return done(`${path}: valid (${cfg.providers.length} providers, ${cfg.identities.length} identities)\n`);
    }
    case 'envoy': {
      if (rest[0] !== 'render') throw new UsageError('expected `envoy render --config FILE --tollgate HOST:PORT`');
      const { values } = parseArgs({ args: rest.slice(1), options: { config: { type: 'string' }, tollgate: { type: 'string', multiple: true }, port: { type: 'string' }, 'admin-port': { type: 'string' }, listen: { type: 'string' }, 'ca-file': { type: 'string' }, 'max-connections': { type: 'string' }, ...TLS_OPTIONS }, strict: true, allowPositionals: false });
      const { tollgate: tollgates, ...single } = values as Record<string, string | undefined> & { tollgate?: string[] };
      const v = single;
      const endpoints = (tollgates ?? []).map((t) => {
        const m = /^(.+):(\d+)$/.exec(t);
        if (m?.[1] === undefined || m[2] === undefined) throw new UsageError(`--tollgate HOST:PORT expected, not ${t}`);
        return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: portOption(m[2], 9001) };
      });
      const first = endpoints[0];
      if (first === undefined) throw new UsageError('--tollgate HOST:PORT is required');
      const maxConnections = v['max-connections'] === undefined ? undefined : Number(v['max-connections']);
      if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 1)) throw new UsageError(`invalid --max-connections: ${v['max-connections'] ?? ''}`);
      const config = loadConfigFile(requireConfig(v));
      const tls = tollgateTls(v, config);
      const listen = listenerTls(v);
      try {
        return done(renderEnvoyConfig(config, {
          ...(tls === undefined ? {} : { tollgateTls: tls }),
          ...(listen === undefined ? {} : { listenerTls: listen }),
          ...(endpoints.length > 1 ? { tollgateEndpoints: endpoints } : {}),
          ...(maxConnections === undefined ? {} : { maxDownstreamConnections: maxConnections }),
          // Loopback unless told otherwise: exposing the listener is a decision, not a default.
          listenHost: v.listen ?? '127.0.0.1',
          listenPort: portOption(v.port, 10000),
          adminPort: portOption(v['admin-port'], 9901),
          tollgateHost: first.host,
          tollgatePort: first.port,
          caFile: v['ca-file'] ?? DEFAULT_CA_FILE,
        }));
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('several Tollgate replicas')) throw new UsageError(err.message);
        throw err;
      }
    }
    case 'policy': {
      const [sub, ...args] = rest;
      if (args.some((a) => a.startsWith('-'))) throw new UsageError(`policy ${sub ?? ''}: takes no options`);
      if (sub === 'check' && args.length === 1 && args[0] !== undefined) return done(runPolicyCheck(args[0]));
      if (sub === 'test' && args.length === 2 && args[0] !== undefined && args[1] !== undefined) return done(testPolicy(args[0], args[1]));
      if (sub === 'explain' && args.length === 2 && args[0] !== undefined && args[1] !== undefined) return done(explainPolicy(args[0], args[1]));
      throw new UsageError('expected `policy check FILE`, `policy test FILE TESTS` or `policy explain FILE REQUEST.json`');
    }
    case 'keys': {
      if (rest[0] === 'mint') {
        const key = mintApiKey();
        return done(`key:  ${key}\nhash: ${hashApiKey(key)}\n`);
      }
      if (rest[0] === 'hash') {
        const key = (await readStdin()).trim();
        if (key === '') throw new UsageError('no key on stdin');
        return done(`${hashApiKey(key)}\n`);
      }
      throw new UsageError('expected `keys mint` or `keys hash`');
    }
    case 'scan':
      try {
        return done(await scanCommand(rest, readStdin));
      } catch (err) {
        if (err instanceof ScanUsageError) throw new UsageError(err.message);
        throw err;
      }
    case 'audit': {
      if (rest[0] !== 'verify') throw new UsageError('expected `audit verify FILE...`');
      const r = await runAuditVerify(rest.slice(1), (m) => new UsageError(m));
      return { kind: 'done', output: r.output, exitCode: r.exitCode };
    }
    case 'mcp': {
      if (rest[0] !== 'pins') throw new UsageError('expected `mcp pins --config FILE --server NAME`');
      const r = await runMcpPins(rest.slice(1), snapshotEnv());
      return { kind: 'done', output: r.output, exitCode: r.exitCode };
    }
    case 'cache': {
      if (rest[0] !== 'warm' || rest.length !== 1) throw new UsageError('expected `cache warm`');
      // Every module serve loads at start is imported by now (main.ts imports this module, which imports serve's).
      const dir = getCompileCacheDir();
      if (dir === undefined) return { kind: 'done', output: 'tollgate: the compile cache is off (NODE_DISABLE_COMPILE_CACHE); nothing written\n', exitCode: 1 };
      flushCompileCache();
      return done(`compile cache written to ${dir}\n`);
    }
    case 'posture': {
      const r = runPosture(rest);
      return { kind: 'done', output: r.output, exitCode: r.exitCode };
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}
