// The commands a user runs: `tollgate dev` against a config written from docs/configuration.md, and
// `tollgate serve` refusing a bad config.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import { openAiResponder, startFakeUpstream, type FakeUpstream } from '../../extproc/dev/fake-upstream.ts';
import { childrenOf } from '../helpers/proc-tree.ts';
import { TOLLGATE_BIN } from '../helpers/stack.ts';

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TOLLGATE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    child.on('exit', (code) => { resolve({ code, stdout, stderr }); });
  });
}

describe('tollgate dev', () => {
  let dir: string;
  let upstream: FakeUpstream;
  const providerKey = `sk-dev-${mintApiKey()}`;
  const callerKey = mintApiKey();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-dev-'));
    upstream = await startFakeUpstream({ respond: openAiResponder(providerKey) });
  });
  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs Envoy in front of Tollgate for a config written from the docs, and stops cleanly on SIGTERM', async () => {
    // Written the way docs/configuration.md describes, with an env credential source.
    const configPath = join(dir, 'tollgate.yaml');
    writeFileSync(configPath, [
      'version: 1',
      'server:',
      '  grpc: { host: 127.0.0.1, port: 0 }',
      '  admin: { host: 127.0.0.1, port: 0 }',
      '  drainSeconds: 0',
      'providers:',
      '  - name: local-llm',
      '    kind: openai-compatible',
      `    upstream: ${upstream.url}/v1`,
      '    models: ["llama3*"]',
      '    credential: { source: env, name: LOCAL_LLM_KEY }',
      'identities:',
      '  - id: build-bot',
      `    apiKeyHashes: ["${hashApiKey(callerKey)}"]`,
      '    allow: [{ provider: local-llm }]',
      'audit:',
      `  sink: { type: file, path: ${join(dir, 'audit.jsonl')} }`,
      '',
    ].join('\n'));

    const child = spawn(process.execPath, [TOLLGATE_BIN, 'dev', '--config', configPath, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOCAL_LLM_KEY: providerKey },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no ready line:\n${stdout}\n${stderr}`)); }, 20_000);
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString('utf8');
        const m = /^tollgate dev: envoy listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
        if (m?.[1] !== undefined) { clearTimeout(timer); resolve(m[1]); }
      });
    });

    const res = await fetch(`${url}/local-llm/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${callerKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.1-8b', messages: [] }),
    });
    assert.equal(res.status, 200, await res.text());
    assert.equal(upstream.requests.at(-1)?.path, '/v1/chat/completions');
    assert.equal(upstream.requests.at(-1)?.headers.authorization, `Bearer ${providerKey}`);

    const envoyPids = childrenOf(child.pid!);
    assert.equal(envoyPids.length, 1, 'dev runs exactly one child process (Envoy)');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of envoyPids) assert.equal(existsSync(`/proc/${pid}`), false, `envoy (pid ${pid}) is gone`);
    const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
    assert.equal(audit.length, 1);
    assert.ok(!stdout.includes(providerKey) && !stderr.includes(providerKey) && !stderr.includes(callerKey));
  });

  it('exits 2 and names the field when the config is invalid', async () => {
    const configPath = join(dir, 'bad.yaml');
    writeFileSync(configPath, 'version: 1\nproviders:\n  - name: x\n    kind: openai\n    upstream: ftp://example.com\n    models: [gpt-4o]\n    credential: { source: none }\nidentities: []\n');
    for (const command of ['serve', 'dev']) {
      const r = await run([command, '--config', configPath]);
      assert.equal(r.code, 2, command);
      assert.match(r.stderr, /providers\[0\]\.upstream/);
    }
  });

  it('refuses to run dev for a config with server.grpc.tls unless Envoy is given a client certificate', async () => {
    const configPath = join(dir, 'tls.yaml');
    writeFileSync(configPath, 'version: 1\nserver:\n  grpc: { port: 0, tls: { certFile: /nonexistent/c.pem, keyFile: /nonexistent/k.pem, clientCaFile: /nonexistent/ca.pem } }\nproviders:\n  - name: x\n    kind: openai\n    upstream: https://example.com\n    models: [gpt-4o]\n    credential: { source: none }\nidentities: []\n');
    const r = await run(['dev', '--config', configPath, '--port', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--envoy-cert and --envoy-key/);
    const serve = await run(['serve', '--config', configPath]);
    assert.equal(serve.code, 2, 'serve refuses unreadable TLS material');
    assert.match(serve.stderr, /server\.grpc\.tls\.certFile: \/nonexistent\/c\.pem: ENOENT/);
  });

  it('exits 2 naming the credential when its environment variable is missing', async () => {
    const configPath = join(dir, 'noenv.yaml');
    writeFileSync(configPath, 'version: 1\nproviders:\n  - name: x\n    kind: openai\n    upstream: https://example.com\n    models: [gpt-4o]\n    credential: { source: env, name: TOLLGATE_TEST_UNSET_VAR }\nidentities: []\n');
    const env = { ...process.env };
    delete env.TOLLGATE_TEST_UNSET_VAR;
    const r = await run(['serve', '--config', configPath], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /providers\[0\]\.credential/);
    assert.match(r.stderr, /TOLLGATE_TEST_UNSET_VAR/);
  });
});
