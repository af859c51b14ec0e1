// Detection coverage end to end through a real Envoy: credentials of the newer formats (vendor tokens, key
// headers, curl passwords, keyword = value secrets (also after a name ending in PASS and mysql -p), base64-wrapped JWTs, Kubernetes Secret values, URL passwords
// with unescaped characters) are blocked before any byte reaches the upstream and the 403 names the types only
// (also an sk- key split by a zero-width space, an AWS key id with a tag character and a variation selector inside, an AWS key in a base64-wrapped credentials file, with an ASCII
// or a non-ASCII first line or wrapped in lines, and one in a PowerShell -EncodedCommand); published
// samples and placeholders of those formats pass
// unchanged; a keyword = value secret under a mask rule reaches the upstream as a placeholder, also inside a
// text file sent as base64 `file_data` (re-encoded), in UTF-8 or UTF-16. Every value is
// fresh per run, and no output of any process contains one.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jsonResponse, startContentStack, type ContentStack } from '../helpers/content-stack.ts';
import { leaked, plantAwsKeyId } from '../helpers/content-values.ts';

const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const HEX = '0123456789abcdef';
/** Random characters with at least two digits, two upper- and two lower-case letters (from a clean alphabet). */
const fresh = (n: number, alphabet = ALNUM): string => {
  const head = alphabet === HEX ? 'a7' : 'Qm7k';
  return head + Array.from({ length: n - head.length }, () => alphabet.charAt(randomInt(alphabet.length))).join('');
};

const GITLAB_FEED = `glft-${fresh(20)}`;
const BEDROCK = `ABSK${Buffer.from(`BedrockAPIKey-${fresh(4, HEX)}-at-${String(randomInt(1e11, 1e12))}:${fresh(40)}`).toString('base64')}`;
const DOPPLER = `dp.pt.${fresh(43)}`;
const TOKEN_HEADER = fresh(32);
const CURL_PASS = `${fresh(10)}#${fresh(4)}`;
const DB_PASS = `${fresh(12)}!x`;
/** Passwords after a name ending in PASS and after the MySQL client's -p (found by secret.generic_secret_name and secret.mysql_password, which the mask rule below does not name: blocked). */
const PASS_NAME = `${fresh(12)}#p`;
const MYSQL_PASS = `${fresh(11)}%m`;
const JWT_B64 = Buffer.from(
  `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"svc-${fresh(6)}","iat":1700000000}`).toString('base64url')}.${fresh(43)}`,
).toString('base64');
const SQUARE = `EAAA${fresh(60)}`;
const K8S_PASS = `${fresh(14)}%${fresh(3)}`;
const K8S_DATA = Buffer.from(K8S_PASS).toString('base64');
const URL_PASS = `${fresh(8)}#${fresh(5)}`;
const YANDEX_IAM = `t1.9euelZ${fresh(120, `${ALNUM}_-`)}.${fresh(86, `${ALNUM}_-`)}`;
const K8S_JSON_PASS = `${fresh(13)}&${fresh(4)}`;
const K8S_JSON_DATA = Buffer.from(K8S_JSON_PASS).toString('base64');
/** An OpenAI project key split by a zero-width space after `sk-` (the view removes it; the key's tail is planted). */
const OPENAI_TAIL = fresh(40);
const OPENAI_ZW = `sk-\u200bproj-${OPENAI_TAIL}`;
/** An AWS access key id with a tag character (a surrogate pair) and a variation selector inside (the view removes both). */
const AWS_TAG_ID = plantAwsKeyId();
const AWS_TAGGED = `${AWS_TAG_ID.slice(0, 8)}\u{e0041}${AWS_TAG_ID.slice(8, 14)}\ufe0f${AWS_TAG_ID.slice(14)}`;
/** An AWS access key id inside a base64-wrapped credentials line (the decoding layer reads it). */
const AWS_ID = `AKIA${Array.from({ length: 16 }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.charAt(randomInt(32))).join('')}`;
const AWS_B64 = Buffer.from(`[default]\naws_access_key_id = ${AWS_ID}\nregion = eu-west-1\n`).toString('base64');
/** The same line led by text in another script before it was base64-encoded (the decoding layer reads UTF-8). */
const AWS_B64_UTF8 = Buffer.from(`# 本番環境の認証情報 — ne pas partager\n[default]\naws_access_key_id = ${AWS_ID}\n`).toString('base64');
/** A credentials file as `base64` prints it: 76-column lines, the key id cut by the first line break. */
const AWS_WRAPPED = (Buffer.from(`# ci runner, eu-west\n[default]\naws_access_key_id = ${AWS_ID}\n`).toString('base64').match(/.{1,76}/g) ?? []).join('\n');
/** The key in a PowerShell -EncodedCommand (base64 of UTF-16LE). */
const AWS_PS = Buffer.from(`Set-AWSCredential -AccessKey ${AWS_ID} -SecretKey $env:SK -StoreAs ci`, 'utf16le').toString('base64');
/** A text file sent inline as `file_data`: an .env with a keyword = value secret (masked) or an AWS key (blocked). */
const FILE_PASS = `${fresh(14)}$x`;
const envFile = (password: string, extra = ''): string => `# staging\nDB_HOST=db.internal\nDB_PASSWORD=${password}\n${extra}`;
const ENV_FILE = `data:text/plain;base64,${Buffer.from(envFile(FILE_PASS)).toString('base64')}`;
const AWS_FILE = `data:text/plain;base64,${Buffer.from(envFile('${DB_PASSWORD}', `AWS_ACCESS_KEY_ID=${AWS_ID}\n`)).toString('base64')}`;
/** The same files as Windows saves "Unicode" text (UTF-16LE with a byte-order mark). */
const utf16File = (text: string): string => `data:text/plain;base64,${Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]).toString('base64')}`;
const ENV_FILE_16 = utf16File(envFile(FILE_PASS));
const AWS_FILE_16 = utf16File(envFile('${DB_PASSWORD}', `AWS_ACCESS_KEY_ID=${AWS_ID}\n`));
const PLANTED = [YANDEX_IAM, K8S_JSON_PASS, K8S_JSON_DATA, GITLAB_FEED, BEDROCK, DOPPLER, TOKEN_HEADER, CURL_PASS, DB_PASS, PASS_NAME, MYSQL_PASS, JWT_B64, SQUARE, K8S_PASS, K8S_DATA, URL_PASS, OPENAI_TAIL, AWS_TAG_ID, AWS_TAGGED, AWS_ID, AWS_B64, AWS_B64_UTF8, AWS_PS, AWS_WRAPPED, FILE_PASS, ENV_FILE.slice(30), AWS_FILE.slice(30), ENV_FILE_16.slice(30), AWS_FILE_16.slice(30)];

/** Samples and placeholders of claimed formats: none is a finding, so the prompt passes byte for byte. */
const SAMPLES = [
  'AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX',
  `GOOGLE_API_KEY=AIza${'a'.repeat(35)}`,
  `GITHUB_PAT=github_pat_${'x'.repeat(22)}_${'x'.repeat(59)}`,
  `ANTHROPIC_API_KEY=sk-ant-api03-${'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z'.repeat(3)}Qz`,
  '-----BEGIN RSA PRIVATE KEY-----\n<paste your key here>\n-----END RSA PRIVATE KEY-----',
  'password: ${DB_PASSWORD}',
  'curl -u admin:$ADMIN_PASSWORD https://jenkins.example.org',
  'SQUARE_APPLICATION_ID=sq0idp-Qm4vT8zL2xR7nW9kB3hY5c',
  'ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIxxxxxxxxxxxxxxxxxxxx',
  'kind: Secret\nstringData:\n  smtp-auth: changeme\n  user: admin',
].join('\n');

describe('detection coverage through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      cloud: () => jsonResponse({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }),
      // Keyword = value secrets are masked; every other secret keeps the default (block).
      tweak: (c) => ({ ...c, dlp: { actions: [{ detectors: ['secret.generic_secret'], action: 'mask' }] } }),
    });
  });
  after(async () => {
    await stack.stop();
  });

  const chat = async (content: string | object[]): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.keys.agent}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
    });
    return { status: res.status, text: await res.text() };
  };
  const lastContent = (): string => {
    const body = stack.cloud.requests.at(-1)?.body.toString('utf8') ?? '{}';
    return (JSON.parse(body) as { messages: { content: string }[] }).messages.at(-1)?.content ?? '';
  };

  const blocked: readonly [string, string, string][] = [
    ['a GitLab feed token', `my gitlab feed token is ${GITLAB_FEED}, why is the RSS empty?`, 'GITLAB_TOKEN'],
    ['an Amazon Bedrock API key', `export AWS_BEARER_TOKEN_BEDROCK=${BEDROCK}`, 'BEDROCK_API_KEY'],
    ['a Doppler token', `DOPPLER_TOKEN=${DOPPLER}`, 'DOPPLER_TOKEN'],
    ['an Authorization header with the Token scheme', `curl -H "Authorization: Token ${TOKEN_HEADER}" https://api.internal.example/v2`, 'API_KEY'],
    ['a curl -u password', `curl -sS -u deploy:${CURL_PASS} https://registry.example.com/v2/`, 'PASSWORD'],
    ['a base64-wrapped JWT', `apiVersion: v1\nkind: Secret\ndata:\n  token: ${JWT_B64}\n`, 'JWT'],
    ['a Square access token', `square client: new Client({ accessToken: '${SQUARE}', environment: 'production' })`, 'SQUARE_TOKEN'],
    ['a Kubernetes Secret data value', `why can't the pod log in?\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: smtp\ndata:\n  smtp-auth: ${K8S_DATA}\n`, 'K8S_SECRET'],
    ['a URL password with an unescaped #', `lftp ftp://deploy:${URL_PASS}@ftp.example.com/public_html`, 'URL_PASSWORD'],
    ['an sk- key split by a zero-width space', `is this key still valid? ${OPENAI_ZW} thanks`, 'OPENAI_KEY'],
    ['an AWS key id with a tag character and a variation selector inside', `is ${AWS_TAGGED} the right key id?`, 'AWS_ACCESS_KEY'],
    ['a Yandex Cloud IAM token', `curl -H "Authorization: Bearer ${YANDEX_IAM}" https://llm.api.cloud.yandex.net/foundationModels/v1/completion`, 'YANDEX_TOKEN'],
    ['a Kubernetes Secret written as JSON', `kubectl get secret smtp -o json:\n${JSON.stringify({ apiVersion: 'v1', data: { 'smtp-auth': K8S_JSON_DATA }, kind: 'Secret', metadata: { name: 'smtp' } }, null, 2)}`, 'K8S_SECRET'],
    ['a base64-wrapped AWS credentials file', `my CI secret AWS_CONFIG is ${AWS_B64} and the deploy fails`, 'AWS_ACCESS_KEY'],
    ['a base64-wrapped AWS credentials file whose first line is in Japanese', `AWS_CONFIG=${AWS_B64_UTF8}`, 'AWS_ACCESS_KEY'],
    ['an AWS key in a PowerShell -EncodedCommand', `what does this do? powershell.exe -NoProfile -EncodedCommand ${AWS_PS}`, 'AWS_ACCESS_KEY'],
    ['a password after a name ending in PASS', `why can't the app connect?\nDB_HOST=db.internal\nDB_USER=app\nDB_PASS=${PASS_NAME}\n`, 'GENERIC_SECRET'],
    ['a password attached to mysql -p', `mysql -h db.internal -u root -p${MYSQL_PASS} orders < dump.sql gives ERROR 1045`, 'GENERIC_SECRET'],
    ['a base64-wrapped AWS credentials file in 76-column lines, the key cut by a line break', `$ base64 ~/.aws/credentials\n${AWS_WRAPPED}\nwhy does the runner reject this?`, 'AWS_ACCESS_KEY'],
  ];
  for (const [name, prompt, type] of blocked) {
    it(`${name} is blocked: nothing reaches the upstream, the 403 names the type only`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await chat(prompt);
      assert.equal(r.status, 403, r.text);
      const err = (JSON.parse(r.text) as { error: { code: string; blocked_types: string[] } }).error;
      assert.equal(err.code, 'content_blocked');
      assert.deepEqual(err.blocked_types, [type]);
      assert.deepEqual(leaked(r.text, PLANTED), []);
      assert.equal(stack.cloud.requests.length, seen, 'nothing reached the upstream');
    });
  }

  it('published samples and placeholders of those formats pass unchanged', async () => {
    const seen = stack.cloud.requests.length;
    const r = await chat(SAMPLES);
    assert.equal(r.status, 200, r.text);
    assert.equal(stack.cloud.requests.length, seen + 1);
    assert.equal(lastContent(), SAMPLES);
  });

  it('a keyword = value secret under a mask rule reaches the upstream as a placeholder', async () => {
    const prompt = `why does login fail? settings: user=app, password=${DB_PASS}, host=db.internal`;
    const r = await chat(prompt);
    assert.equal(r.status, 200, r.text);
    const got = stack.cloud.requests.at(-1);
    assert.ok(got !== undefined);
    assert.equal(lastContent(), 'why does login fail? settings: user=app, password=<GENERIC_SECRET_1>, host=db.internal');
    assert.ok(!got.body.includes(DB_PASS));
    assert.equal(got.headers['content-length'], String(got.body.length));
  });

  const fileMessage = (fileData: string): object[] => [{ type: 'text', text: 'why does the app not connect?' }, { type: 'file', file: { filename: '.env', file_data: fileData } }];

  it('a secret in a text file sent as file_data is masked inside the file: the upstream gets it re-encoded without the secret', async () => {
    const r = await chat(fileMessage(ENV_FILE));
    assert.equal(r.status, 200, r.text);
    const got = stack.cloud.requests.at(-1);
    assert.ok(got !== undefined);
    const sent = (JSON.parse(got.body.toString('utf8')) as { messages: { content: { file?: { file_data: string } }[] }[] }).messages[0]?.content[1]?.file?.file_data ?? '';
    assert.ok(sent.startsWith('data:text/plain;base64,'), sent.slice(0, 40));
    assert.equal(Buffer.from(sent.slice('data:text/plain;base64,'.length), 'base64').toString('utf8'), envFile('<GENERIC_SECRET_1>'));
    assert.deepEqual(leaked(got.body.toString('utf8'), [FILE_PASS, ENV_FILE.slice(30)]), []);
    assert.equal(got.headers['content-length'], String(got.body.length));
  });

  it('a secret the policy blocks, in a text file sent as file_data, blocks the request: nothing reaches the upstream', async () => {
    const seen = stack.cloud.requests.length;
    const r = await chat(fileMessage(AWS_FILE));
    assert.equal(r.status, 403, r.text);
    assert.deepEqual((JSON.parse(r.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['AWS_ACCESS_KEY']);
    assert.equal(stack.cloud.requests.length, seen, 'nothing reached the upstream');
  });

  it('a text file in UTF-16 (a Windows "Unicode" file) is scanned too: a key blocks, a masked secret is re-encoded in UTF-16', async () => {
    const seen = stack.cloud.requests.length;
    const blocked = await chat(fileMessage(AWS_FILE_16));
    assert.equal(blocked.status, 403, blocked.text);
    assert.deepEqual((JSON.parse(blocked.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['AWS_ACCESS_KEY']);
    assert.equal(stack.cloud.requests.length, seen, 'nothing reached the upstream');
    const r = await chat(fileMessage(ENV_FILE_16));
    assert.equal(r.status, 200, r.text);
    const got = stack.cloud.requests.at(-1);
    assert.ok(got !== undefined && stack.cloud.requests.length === seen + 1);
    const sent = (JSON.parse(got.body.toString('utf8')) as { messages: { content: { file?: { file_data: string } }[] }[] }).messages[0]?.content[1]?.file?.file_data ?? '';
    const bytes = Buffer.from(sent.slice('data:text/plain;base64,'.length), 'base64');
    assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfe]);
    assert.equal(bytes.subarray(2).toString('utf16le'), envFile('<GENERIC_SECRET_1>'));
    assert.deepEqual(leaked(got.body.toString('utf8'), [FILE_PASS, ENV_FILE_16.slice(30)]), []);
  });

  it('no output of any process contains a planted value', async () => {
    await stack.tollgate.stop();
    await stack.envoy.stop();
    const all = stack.allOutput();
    assert.ok(all.length > 1000, 'there is output to search');
    assert.deepEqual(leaked(all, PLANTED), []);
  });
});
