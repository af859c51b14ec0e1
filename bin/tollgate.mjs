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
await import('../extproc/main.ts');
