#!/usr/bin/env node
// Tollgate's command. Checks the runtime, then runs the TypeScript source directly (Node 24 strips types).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `tollgate: Node.js 24 or later is required; this is ${process.version}.\n` +
      'Run it through npm (npm start, npm exec tollgate, npx tollgate): the project pins Node 24 as a dependency and npm puts it first on PATH.\n',
  );
  process.exit(1);
}

// The service's heap: a young generation of 4 MB and an old generation capped at 96 MB. Measured with
// `npm run bench` on 2 cores (issue 13, docs/benchmarks.md): the cap is what bounds RSS (V8 sizes its heap
// growth to it): the full chain peaked at ~145-170 MB instead of ~250-295 MB with the earlier
// `--max-semi-space-size=16` and no cap. Of the capped settings tried (64, 96, 128 MB; 2, 4, 8, 16 MB
// young) this one had the best p99 at 200 req/s, within the noise of the old default's; it held 16
// concurrent 1 MB bodies. V8 reads these only at start, so `serve` re-executes itself once with them.
// Flags the operator set (NODE_OPTIONS or node flags) add to these: only a flag
// the operator set themselves is left to them (it wins), the others are still applied. Sizing: docs/operations.md.
const HEAP_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=96'];
const flagName = (a) => a.split('=')[0].replaceAll('_', '-');
const given = new Set([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
const missing = HEAP_FLAGS.filter((f) => !given.has(flagName(f)));
if (process.argv[2] === 'serve' && missing.length > 0 && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
}

// Node's compile cache: the TypeScript Node stripped and the code V8 compiled, kept on disk so the next
// start skips both. Measured on `serve` (issue 13, docs/operations.md): idle RSS ~133 -> ~112 MB and about
// a second less to ready, because the type stripper is never loaded. The folder belongs with the code it
// caches: `.cache/node-compile` in the install, unless NODE_COMPILE_CACHE names another (Node has then
// enabled it already) or NODE_DISABLE_COMPILE_CACHE is set. A folder Tollgate's user cannot write is read
// if it was filled for that user (the image fills it at build time), and otherwise simply not used.
const { enableCompileCache } = await import('node:module');
const { fileURLToPath } = await import('node:url');
if (process.env.NODE_COMPILE_CACHE === undefined) enableCompileCache?.(fileURLToPath(import.meta.resolve('../.cache/node-compile')));

const { main } = await import('../extproc/main.ts');
process.exitCode = await main(process.argv.slice(2));
process.exit();
