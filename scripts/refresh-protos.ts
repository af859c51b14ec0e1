// Refreshes proto/vendor from the pinned npm package that ships Envoy's API protos.
// Usage: npm run proto:refresh   (needs the npm registry; writes proto/vendor and proto/VERSIONS)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const SOURCE_PACKAGE = '@grpc/grpc-js-xds';
const SOURCE_VERSION = '1.14.1';
const ROOTS = [
  'envoy/service/ext_proc/v3/external_processor.proto',
  'envoy/service/auth/v3/external_auth.proto',
];
const INCLUDE_DIRS = ['deps/envoy-api', 'deps/xds', 'deps/googleapis', 'deps/protoc-gen-validate'];

const projectRoot = join(import.meta.dirname, '..');
const vendorDir = join(projectRoot, 'proto', 'vendor');
const work = mkdtempSync(join(tmpdir(), 'tollgate-protos-'));
try {
  const packed = execFileSync('npm', ['pack', '--json', `${SOURCE_PACKAGE}@${SOURCE_VERSION}`], { cwd: work, encoding: 'utf8' });
  const [info] = JSON.parse(packed) as Array<{ filename: string; integrity: string }>;
  if (info === undefined) throw new Error('npm pack returned nothing');
  execFileSync('tar', ['xzf', info.filename], { cwd: work });
  const pkgRoot = join(work, 'package');

  const locate = (rel: string): string | undefined =>
    INCLUDE_DIRS.map((d) => join(pkgRoot, d, rel)).find((p) => existsSync(p));

  const seen = new Map<string, string>();
  const queue = [...ROOTS];
  while (queue.length > 0) {
    const rel = queue.pop() as string;
    if (seen.has(rel) || rel.startsWith('google/protobuf/')) continue; // well-known types ship with protobufjs
    const abs = locate(rel);
    if (abs === undefined) throw new Error(`import not found in ${SOURCE_PACKAGE}: ${rel}`);
    seen.set(rel, abs);
    for (const m of readFileSync(abs, 'utf8').matchAll(/^import\s+(?:public\s+)?"([^"]+)";/gm)) {
      if (m[1] !== undefined) queue.push(m[1]);
    }
  }

  rmSync(vendorDir, { recursive: true, force: true });
  for (const [rel, abs] of [...seen].sort()) {
    mkdirSync(dirname(join(vendorDir, rel)), { recursive: true });
    cpSync(abs, join(vendorDir, rel));
  }
  writeFileSync(
    join(projectRoot, 'proto', 'VERSIONS'),
    [
      `source: ${SOURCE_PACKAGE}@${SOURCE_VERSION} (npm), directories ${INCLUDE_DIRS.join(', ')}`,
      `integrity: ${info.integrity}`,
      `roots: ${ROOTS.join(', ')}`,
      `files: ${seen.size}`,
      '',
    ].join('\n'),
  );
  process.stdout.write(`vendored ${seen.size} proto files into proto/vendor\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
