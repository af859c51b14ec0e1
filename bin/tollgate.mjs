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

// The service's heap: a young generation of 16 MB (V8's default grows it to 64 MB under load, which
// lengthens each scavenge and lets RSS climb past 300 MB). Measured with `npm run bench` on 2 cores:
// 8 MB plus an old-generation cap of 192 MB kept peak RSS at ~170 MB but tripled p99 (major GCs);
// 16 MB alone gave the best p99 at ~280 MB peak. V8 reads these only at start, so `serve` re-executes
// itself once with them. Flags the operator set (NODE_OPTIONS or node flags) add to these: only a flag
// the operator set themselves is left to them (it wins), the others are still applied.
const HEAP_FLAGS = ['--max-semi-space-size=16'];
const flagName = (a) => a.split('=')[0].replaceAll('_', '-');
const given = new Set([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((a) => a.startsWith('--')).map(flagName));
const missing = HEAP_FLAGS.filter((f) => !given.has(flagName(f)));
if (process.argv[2] === 'serve' && missing.length > 0 && typeof process.execve === 'function') {
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
await import('../extproc/main.ts');
