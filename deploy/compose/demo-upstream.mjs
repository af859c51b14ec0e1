// The compose demo's model provider: the same local OpenAI-compatible fake that `tollgate demo` runs
// (extproc/dev/fake-upstream.ts), listening on HOST:PORT (default 0.0.0.0:8080 inside its container).
// It answers only requests that carry `authorization: Bearer $DEMO_PROVIDER_KEY`, the key Tollgate
// reads from OpenBao, so a 200 proves Tollgate injected the Vault-held key. docker-compose.yml mounts
// this file at /app/deploy/compose/ in the Tollgate image, where the import below resolves.
import { openAiResponder, startFakeUpstream } from '../../extproc/dev/fake-upstream.ts';

const key = process.env.DEMO_PROVIDER_KEY ?? '';
if (key === '') {
  process.stderr.write('demo-upstream: set DEMO_PROVIDER_KEY\n');
  process.exit(2);
}
const port = Number(process.env.PORT ?? '8080');
const upstream = await startFakeUpstream({ host: process.env.HOST ?? '0.0.0.0', port, respond: openAiResponder(key), maxRecorded: 100 });
process.stdout.write(`demo-upstream: listening on ${upstream.url}\n`);
const stop = () => { upstream.close().then(() => process.exit(0), () => process.exit(1)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
