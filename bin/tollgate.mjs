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

// The service's heap: a small young generation (short GC pauses, far below Envoy's per-message timeout,
// and less garbage promoted per request) and a bounded old generation, so RSS under load stays near
// the live set instead of growing until V8 decides to collect. V8 reads these only at start, so
// `serve` re-executes itself once with them, unless the operator set them (NODE_OPTIONS or flags).
const HEAP_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=192'];
const tuned = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size') || a.startsWith('--max-old-space-size'));
if (process.argv[2] === 'serve' && !tuned && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...HEAP_FLAGS, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
await import('../extproc/main.ts');
