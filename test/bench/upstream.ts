// The benchmark's fast upstream as its own process, so its CPU and memory are measured apart from
// the harness: node test/bench/upstream.ts KEY_FILE. Prints "upstream listening PORT" when ready.
import { readFileSync } from 'node:fs';
import { mcpToolResponder, openAiResponder, startFakeUpstream } from '../../extproc/dev/fake-upstream.ts';

const keyFile = process.argv[2];
if (keyFile === undefined) throw new Error('usage: upstream.ts KEY_FILE');
const key = readFileSync(keyFile, 'utf8').trim();
// OpenAI's chat completions, and a tools/call MCP endpoint at /mcp for the `mcp-call` row.
const upstream = await startFakeUpstream({ respond: mcpToolResponder(key, openAiResponder(key)), maxRecorded: 0 });
process.stdout.write(`upstream listening ${upstream.port}\n`);
const stop = (): void => { void upstream.close().then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Exit with the harness: stdin closes when the parent goes away.
process.stdin.on('end', stop);
process.stdin.resume();
