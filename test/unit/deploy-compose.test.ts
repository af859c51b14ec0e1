// The compose stack's own scripts, run for real: openbao-init.sh against a real OpenBao dev server
// (the AppRole it makes can read the demo key and nothing else), and the demo upstream.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { openbaoBin, ROOT_TOKEN, startOpenBao, type OpenBao } from '../helpers/openbao.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const composeConfig = parseYaml(readFileSync(join(ROOT, 'examples', 'compose.yaml'), 'utf8')) as { vault: { auth: { roleId: string } } };
const PLANTED = `demo-provider-${Date.now().toString(36)}-planted`;

describe('deploy/compose/openbao-init.sh against a real OpenBao', () => {
  let bao: OpenBao;
  const out = mkdtempSync(join(tmpdir(), 'tollgate-compose-init-'));
  const run = (key: string): { status: number | null; output: string } => {
    const r = spawnSync('sh', [join(ROOT, 'deploy', 'compose', 'openbao-init.sh')], {
      env: { PATH: `${dirname(openbaoBin(process.env))}:/usr/bin:/bin`, HOME: out, BAO_ADDR: bao.address, BAO_TOKEN: ROOT_TOKEN, DEMO_PROVIDER_KEY: key, OUT_DIR: join(out, 'secrets') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: r.status, output: r.stdout + r.stderr };
  };
  const file = (name: string): string => readFileSync(join(out, 'secrets', name), 'utf8');

  before(async () => { bao = await startOpenBao({ env: process.env }); });
  after(async () => {
    await bao.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it('sets up KV, policy and AppRole and writes the secret id and tokens, never printing the key', () => {
    const r = run(PLANTED);
    assert.equal(r.status, 0, r.output);
    assert.ok(!r.output.includes(PLANTED), 'the provider key is not in the output');
    for (const name of ['secret-id', 'kill-switch-token', 'authz-context-key']) {
      const st = statSync(join(out, 'secrets', name));
      assert.equal(st.mode & 0o777, 0o400, `${name} is owner-read-only`);
      assert.ok(file(name).trim().length >= 32, `${name} holds at least 32 bytes (Tollgate refuses less)`);
    }
  });

  it('the AppRole in the compose config logs in with the secret id and reads the demo key, and nothing else', async () => {
    const login = await bao.raw('POST', 'auth/approle/login', { role_id: composeConfig.vault.auth.roleId, secret_id: file('secret-id').trim() }, '');
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const token = (login.body as { auth: { client_token: string; policies: string[] } }).auth;
    assert.deepEqual(token.policies.filter((p) => p !== 'default'), ['tollgate']);
    const read = await bao.raw('GET', 'secret/data/tollgate/demo/demo', undefined, token.client_token);
    assert.equal(read.status, 200);
    assert.equal((read.body as { data: { data: { api_key: string } } }).data.data.api_key, PLANTED);
    await bao.api('POST', 'secret/data/other/thing', { data: { api_key: 'x' } });
    assert.equal((await bao.raw('GET', 'secret/data/other/thing', undefined, token.client_token)).status, 403, 'outside secret/tollgate/');
    assert.equal((await bao.raw('POST', 'secret/data/tollgate/demo/demo', { data: { api_key: 'y' } }, token.client_token)).status, 403, 'read-only');
    assert.equal((await bao.raw('POST', 'auth/approle/login', { role_id: composeConfig.vault.auth.roleId, secret_id: 'not-the-secret-id' }, '')).status, 400);
  });

  it('runs again: a new secret id, the same tokens (replicas keep sharing the authz key)', () => {
    const before = { sid: file('secret-id'), kill: file('kill-switch-token'), authz: file('authz-context-key') };
    const r = run(PLANTED);
    assert.equal(r.status, 0, r.output);
    assert.notEqual(file('secret-id'), before.sid);
    assert.equal(file('kill-switch-token'), before.kill);
    assert.equal(file('authz-context-key'), before.authz);
  });

  it('refuses a key that would break the JSON it writes', () => {
    const r = run('bad"key');
    assert.equal(r.status, 2);
    assert.match(r.output, /DEMO_PROVIDER_KEY may hold only/);
  });
});

describe('deploy/compose/demo-upstream.mjs', () => {
  const KEY = `demo-upstream-${Date.now().toString(36)}`;
  const child = spawn(process.execPath, [join(ROOT, 'deploy', 'compose', 'demo-upstream.mjs')], { env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0', DEMO_PROVIDER_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const url = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => { buf += d.toString(); const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(buf); if (m?.[1] !== undefined) resolve(m[1]); });
    child.once('exit', (code) => { reject(new Error(`exited ${String(code)}`)); });
  });
  const chat = async (key: string): Promise<number> =>
    (await fetch(`${await url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }) })).status;

  it('answers only the provider key OpenBao holds, and stops on SIGTERM', async () => {
    assert.equal(await chat(KEY), 200);
    assert.equal(await chat('tg_caller-key'), 401);
    const exited = new Promise<number | null>((resolve) => { child.once('exit', resolve); });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('refuses to start without a key', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'deploy', 'compose', 'demo-upstream.mjs')], { env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0' }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /set DEMO_PROVIDER_KEY/);
  });
});
