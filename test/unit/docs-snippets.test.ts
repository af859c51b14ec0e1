// Every fenced snippet in the README and docs/ either runs here or is listed below with the reason it
// cannot: configuration YAML through the real schema (a fragment merged into a minimal config), policy
// test cases through `policy test` against the policy they document, JSON parsed (error bodies against
// the catalogue), and every `tollgate` command line checked against the usage text (the command exists,
// every flag is one it takes) and run when the files it names are in the repository. The docs must not
// drift from the code again (issue 14). docs/adr/ is left out: decision records keep the words of their day.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { USAGE } from '../../extproc/cli/commands.ts';
import { validateConfig } from '../../extproc/config/load.ts';
import { configSchema } from '../../extproc/config/schema.ts';
import { ERROR_CATALOGUE } from '../../extproc/errors.ts';
import { createMetrics } from '../../extproc/telemetry/metrics.ts';
import { TOLLGATE_BIN } from '../helpers/stack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const DOCS = ['README.md', 'envoy/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

interface Snippet {
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly body: string;
  /** `file: first line`, how the list below names it. */
  readonly id: string;
}

function snippets(): Snippet[] {
  const out: Snippet[] = [];
  for (const file of DOCS) {
    const text = read(file);
    for (const m of text.matchAll(/^```([a-z]*)\n([\s\S]*?)^```/gm)) {
      const body = m[2] ?? '';
      const first = body.trim().split('\n')[0]?.trim() ?? '';
      out.push({ file, line: text.slice(0, m.index).split('\n').length, lang: m[1] ?? '', body, id: `${file}: ${first}` });
    }
  }
  return out;
}

/**
 * Snippets that cannot run here, by `file: first line` (a prefix of it), each with the reason. A
 * snippet not listed must be checked below; an entry that matches nothing fails, so the list stays true.
 */
const CANNOT_RUN: readonly (readonly [string, string])[] = [
  ['README.md: npm ci && npm start', 'installs packages and starts the demo stack (covered by test/e2e/cli.test.ts)'],
  ['README.md: from openai import OpenAI', 'Python with the OpenAI SDK, not installed here'],
  ['README.md: import anthropic', 'Python with the Anthropic SDK, not installed here'],
  ['README.md: curl http://127.0.0.1:10000', 'needs a running stack (the same request runs in test/e2e/through-envoy.test.ts)'],
  ['README.md: client ──', 'a diagram'],
  ['docs/architecture.md: ┌', 'a diagram'],
  ['docs/security-model.md: caller ──', 'a diagram'],
  ['docs/vault.md: secret/', 'a diagram of Vault paths'],
  ['envoy/README.md: - name: <name>', 'an Envoy config fragment with placeholders (the full template is validated by test/unit/envoy-config.test.ts)'],
  ['envoy/README.md: - name: <P>_class_<class>', 'an Envoy route fragment with placeholders (rendered routes are validated by test/unit/envoy-config.test.ts)'],
  ['envoy/README.md: early_header_mutation_extensions:', 'an Envoy config fragment (part of the rendered template, validated by test/unit/envoy-config.test.ts)'],
  ['docs/benchmarks.md: interface BenchSetup', 'TypeScript excerpt of test/bench/setups.ts (test/unit/bench-helpers.test.ts keeps them in step)'],
  ['docs/benchmarks.md: { name:', 'TypeScript excerpt of test/bench/setups.ts'],
  ['docs/benchmarks.md: npm run bench', 'a load test: never run in the unit suite'],
  ['docs/benchmarks.md: node test/bench/alloc-profile.ts', 'a 40-second profile run; a short run of the same tool is in test/unit/bench-alloc-profile.test.ts'],
  ['docs/deploy.md: docker build', 'needs Docker'],
  ['docs/vault.md: # Kubernetes: the role binds', 'needs a Vault or OpenBao server with Kubernetes and JWT auth (the AppRole part runs in test/unit/deploy-compose.test.ts)'],
  ['docs/vault.md: # tollgate: KV v2 provider keys', 'a Vault policy (HCL), needs a Vault server'],
  ['docs/vault.md: T=$(cat /run/secrets/tollgate-kill-switch)', 'needs a running Tollgate (the same calls run in test/e2e/kill-switch.test.ts)'],
  ['docs/vault.md: kill -HUP "$(pidof tollgate)"', 'signals a running Tollgate (SIGHUP and the refresh call run in test/e2e/vault-lifecycle.test.ts)'],
  ['docs/policy.md: allow:', 'a grant list shown alone; the default operations it describes run in test/e2e/least-privilege.test.ts and test/unit/explain.test.ts'],
  ['docs/policy.md: when:', 'one grant condition, shown alone; its CEL form is exercised by test/unit/cel.test.ts'],
  ['docs/mcp.md: const transport', 'TypeScript with the MCP SDK client; the same calls run in test/e2e/mcp.test.ts'],
  ['docs/mcp.md: # MCP server tickets', 'output of `tollgate mcp pins`; test/contract/mcp-pins-cli.test.ts runs the command shown above it against an MCP server and compares'],
];

test('every entry of CANNOT_RUN_COMMANDS matches a command line in the docs', () => {
  const lines = all.filter((s) => s.lang === 'sh').flatMap((s) => commandLines(s.body));
  assert.deepEqual(CANNOT_RUN_COMMANDS.filter(([prefix]) => !lines.some((l) => l.startsWith(prefix))).map(([p]) => p), []);
});

const TOP_LEVEL = new Set(Object.keys(configSchema.shape));
/** The smallest valid config a fragment is merged into: one provider per name the fragment uses. */
function minimalConfig(fragment: Record<string, unknown>): Record<string, unknown> {
  const names = new Set<string>(['openai']);
  const json = JSON.stringify(fragment);
  for (const m of json.matchAll(/"provider":"([a-z0-9-]+)"/g)) names.add(m[1] ?? 'openai');
  for (const m of json.matchAll(/"providers":\[("[a-z0-9-]+"(?:,"[a-z0-9-]+")*)\]/g)) for (const n of JSON.parse(`[${m[1] ?? ''}]`) as string[]) names.add(n);
  const usesVault = /"source":"vault-/.test(json);
  const routes = [...new Set([...json.matchAll(/"route":"([a-z0-9_-]+)"/g)].map((m) => m[1] ?? ''))];
  return {
    version: 1,
    // A provider the fragment names gets the kind its name suggests (a class takes one per wire format).
    providers: [...names].map((name) => (/claude|anthropic/.test(name)
      ? { name, kind: 'anthropic', upstream: 'https://api.anthropic.com', models: ['*'], credential: { source: 'none' } }
      : { name, kind: 'openai', upstream: 'https://api.openai.com', models: ['*'], credential: { source: 'none' } })),
    identities: [],
    ...(usesVault ? { vault: { address: 'https://vault.internal:8200', auth: { method: 'kubernetes', role: 'tollgate' } } } : {}),
    ...(routes.length > 0 ? { routing: { classes: routes.map((name) => ({ name, providers: ['openai'] })) } } : {}),
    ...fragment,
  };
}

/** Command lines (by prefix) in otherwise checked shell snippets that cannot run here, with the reason. */
const CANNOT_RUN_COMMANDS: readonly (readonly [string, string])[] = [
  ['envoy --config-path', 'starts Envoy on a production config'],
];

/** The command lines of a shell snippet: continuations joined, comments and output lines dropped. */
function commandLines(body: string): string[] {
  return body.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The tollgate arguments of a command line (`npx tollgate …`, `npm exec tollgate -- …`), or undefined. */
function tollgateArgs(line: string): string[] | undefined {
  const m = /^(?:npx tollgate|npm exec tollgate --|tollgate)\s+(.*)$/.exec(line);
  if (m?.[1] === undefined) return undefined;
  return m[1].replace(/\s*>\s*\S+$/, '').split(/\s+/);
}

/** Checks one tollgate invocation against the usage text; runs it when every file it names exists. */
function checkInvocation(where: string, args: readonly string[]): 'ran' | 'checked' {
  const usageLines = USAGE.split('\n').filter((l) => /^ {2}[a-z]/.test(l));
  const sub = args.slice(0, 2).join(' ');
  const usage = usageLines.filter((l) => l.trim().startsWith(`${sub} `) || l.trim() === sub || l.trim().startsWith(`${args[0] ?? ''} `));
  assert.ok(usage.length > 0, `${where}: \`tollgate ${args.join(' ')}\`: no such command in the usage text`);
  // A command's usage may wrap onto indented lines below it.
  const text = USAGE.slice(USAGE.indexOf(usage[0] ?? ''));
  const block = text.split('\n').slice(0, 6).join('\n');
  for (const flag of args.filter((a) => a.startsWith('--'))) assert.ok(block.includes(flag), `${where}: \`${flag}\` is not an option of \`tollgate ${sub}\``);
  const files = args.filter((a, i) => !a.startsWith('--') && (args[i - 1] === '--config' || /\.(ya?ml|json|jsonl)$/.test(a)));
  if (files.length === 0 || !files.every((f) => existsSync(join(ROOT, f)))) return 'checked';
  const r = spawnSync(process.execPath, [TOLLGATE_BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  // posture exits 1 when it finds a gap at or above --fail-on: a finding, not a broken command.
  if (args[0] === 'posture' && r.status === 1) return 'ran';
  assert.equal(r.status, 0, `${where}: \`tollgate ${args.join(' ')}\` exited ${String(r.status)}\n${r.stderr}`);
  return 'ran';
}

const all = snippets();
const reasonFor = (s: Snippet): string | undefined => CANNOT_RUN.find(([prefix]) => s.id.startsWith(prefix))?.[1];

test('the snippet list finds the docs\' snippets, and every entry of CANNOT_RUN matches one', () => {
  assert.ok(all.length >= 40, `found ${all.length} snippets`);
  const stale = CANNOT_RUN.filter(([prefix]) => !all.some((s) => s.id.startsWith(prefix)));
  assert.deepEqual(stale.map(([p]) => p), [], 'entries that match no snippet');
});

test('every YAML configuration snippet validates against the schema (a fragment inside a minimal config)', () => {
  let checked = 0;
  for (const s of all.filter((x) => x.lang === 'yaml' && reasonFor(x) === undefined)) {
    const where = `${s.file}:${s.line}`;
    // A placeholder the reader fills in (`sha256:<from tollgate keys mint>`) gets a well-formed value.
    const raw = parseYaml(s.body.replace(/sha256:<[^>"]*>/g, `sha256:${'0'.repeat(64)}`)) as unknown;
    assert.ok(typeof raw === 'object' && raw !== null && !Array.isArray(raw), `${where}: not a YAML mapping`);
    const keys = Object.keys(raw);
    if ('cases' in raw) continue; // policy tests: the next test
    const unknown = keys.filter((k) => !TOP_LEVEL.has(k));
    assert.deepEqual(unknown, [], `${where}: not configuration (keys ${unknown.join(', ')}); list it in CANNOT_RUN with a reason if it cannot run`);
    assert.doesNotThrow(() => validateConfig('version' in raw ? raw : minimalConfig(raw as Record<string, unknown>), where));
    checked += 1;
  }
  assert.ok(checked >= 15, `checked ${checked} configuration snippets`);
});

test('policy.md\'s example policy passes `policy check`, and its test cases pass against it (`policy test`)', () => {
  const policy = all.find((s) => s.file === 'docs/policy.md' && s.lang === 'yaml' && s.body.startsWith('version: 1'));
  const cases = all.find((s) => s.file === 'docs/policy.md' && s.lang === 'yaml' && s.body.startsWith('cases:'));
  assert.ok(policy !== undefined && cases !== undefined);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-docs-'));
  try {
    writeFileSync(join(dir, 'policy.yaml'), policy.body);
    writeFileSync(join(dir, 'tests.yaml'), cases.body);
    const checked = spawnSync(process.execPath, [TOLLGATE_BIN, 'policy', 'check', join(dir, 'policy.yaml')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
    const r = spawnSync(process.execPath, [TOLLGATE_BIN, 'policy', 'test', join(dir, 'policy.yaml'), join(dir, 'tests.yaml')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every JSON snippet parses; an error body names a catalogue code with its message', () => {
  for (const s of all.filter((x) => x.lang === 'json' && reasonFor(x) === undefined)) {
    // A JSON document, or JSON lines (one per response).
    const docs = s.body.trim().includes('\n') && !s.body.trim().startsWith('{\n') ? s.body.trim().split('\n') : [s.body];
    for (const text of docs) {
      const body = JSON.parse(text) as { error?: { code?: string } };
      if (body.error === undefined) continue;
      assert.ok(body.error.code !== undefined && body.error.code in ERROR_CATALOGUE, `${s.file}:${s.line}: unknown code ${String(body.error.code)}`);
    }
  }
});

test('every tollgate command in the docs exists with the options it shows; those whose files are in the repository run', () => {
  const inline = DOCS.flatMap((file) => {
    const text = read(file);
    return [...text.matchAll(/`((?:npx tollgate|npm exec tollgate --) [^`<]+)`/g)].map((m) => ({ where: file, line: m[1] ?? '' }));
  });
  const fenced = all.filter((s) => (s.lang === 'sh' || s.lang === '') && reasonFor(s) === undefined)
    .flatMap((s) => commandLines(s.body).map((line) => ({ where: `${s.file}:${s.line}`, line })));
  let ran = 0;
  let checked = 0;
  for (const { where, line } of [...fenced, ...inline]) {
    if (CANNOT_RUN_COMMANDS.some(([prefix]) => line.startsWith(prefix))) continue;
    const args = tollgateArgs(line);
    assert.ok(args !== undefined, `${where}: \`${line}\` is not a tollgate command; list the snippet in CANNOT_RUN with a reason`);
    if (checkInvocation(where, args) === 'ran') ran += 1;
    else checked += 1;
  }
  assert.ok(ran >= 2 && checked >= 3, `ran ${ran}, checked ${checked}`);
});

test('every other snippet is listed with its reason', () => {
  const handled = new Set(['yaml', 'json', 'sh', '']);
  const unlisted = all.filter((s) => !handled.has(s.lang) && reasonFor(s) === undefined).map((s) => `${s.file}:${s.line} [${s.lang}]`);
  assert.deepEqual(unlisted, []);
});

/** `tollgate_…` words in the docs that are not metrics. */
const NOT_METRICS = new Set(['tollgate_error' /* the error body's type */, 'tollgate_no_provider' /* an Envoy route name */, 'tollgate_' /* the prefix itself */]);

test('every metric the docs name is one Tollgate declares (a histogram\'s _bucket, _sum and _count included)', () => {
  const declared = new Set(Object.values(createMetrics()).flatMap((m: unknown) => (typeof m === 'object' && m !== null && 'name' in m && typeof m.name === 'string' ? [m.name] : [])));
  assert.ok(declared.size >= 15);
  const unknown: string[] = [];
  for (const file of DOCS) {
    const text = read(file);
    for (const m of text.matchAll(/\btollgate_[a-z_]*/g)) {
      const name = m[0];
      if (NOT_METRICS.has(name) || declared.has(name) || declared.has(name.replace(/_(bucket|sum|count)$/, ''))) continue;
      unknown.push(`${file}: ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
});

test('an openai-kind upstream in the docs has no /v1: callers send /<provider>/v1/..., as the README\'s base_url does', () => {
  assert.match(read('README.md'), /base_url="http:\/\/127\.0\.0\.1:10000\/openai\/v1"/);
  for (const s of all.filter((x) => x.lang === 'yaml')) {
    for (const m of s.body.matchAll(/kind: openai\n\s+upstream: (\S+)/g)) assert.doesNotMatch(m[1] ?? '', /\/v1\/?$/, `${s.file}:${s.line}: upstream ${m[1] ?? ''} would send /v1/v1/...`);
  }
});
