// Table-driven detector tests: positives, negatives and near-misses per detector, through the real scanner
// with the default settings (plus phone/IP where noted). Token-format positives that need a checksum are built
// here with an independent CRC32 (table-driven, not zlib) so the test does not reuse the code under test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildScanner, type DetectorSettings } from '../../extproc/detectors/registry.ts';
import { base62 as b62, crc32 } from '../helpers/token-checksums.ts';

const withChecksum = (prefix: string, random30: string): string => prefix + random30 + b62(crc32(random30));
const RAND30 = 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0';
const GH = withChecksum('ghp_', RAND30);
const GH_BAD = GH.slice(0, -1) + (GH.endsWith('a') ? 'b' : 'a');
const NPM = withChecksum('npm_', RAND30);
const ANTHROPIC = `sk-ant-api03-${'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_-'.repeat(3).slice(0, 93)}AA`;
const OPENAI = `sk-proj-${'Xy7Qm2Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0Ga'.slice(0, 30)}T3BlbkFJ${'Pq4Ls9Tm2Wn7Rb1Xc6Vz3Kd8Hf5Jg0Ya'.slice(0, 30)}`;
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7Qm2Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0Ga\nPq4Ls9Tm2Wn7Rb1Xc6Vz3Kd8Hf5Jg0Ya==\n-----END RSA PRIVATE KEY-----';
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

interface Case {
  readonly text: string;
  /** Expected [type, matched substring] pairs, in order; [] for negatives. */
  readonly expect: readonly (readonly [string, string])[];
  readonly settings?: DetectorSettings;
}

const pos = (type: string, value: string, before = 'x ', after = ' y'): Case => ({ text: `${before}${value}${after}`, expect: [[type, value]] });
const neg = (text: string, settings?: DetectorSettings): Case => (settings === undefined ? { text, expect: [] } : { text, expect: [], settings });

const TABLES: Readonly<Record<string, readonly Case[]>> = {
  private_key: [
    pos('PRIVATE_KEY', PEM, 'key:\n', '\nthanks'),
    pos('PRIVATE_KEY', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----'),
    pos('PRIVATE_KEY', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0xR7kBCADq2Zt9mW4vLp8s\n=Hq3c\n-----END PGP PRIVATE KEY BLOCK-----'),
    // Header lines of an encrypted PEM do not count as body; the base64 after them does.
    pos('PRIVATE_KEY', '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\nx7Qm2Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0Ga\n-----END RSA PRIVATE KEY-----'),
    // Pasted from JSON source: the line breaks are the two characters backslash and n.
    pos('PRIVATE_KEY', '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----'),
    // Empty, elided or template bodies are not keys.
    neg('-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----'),
    neg('-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----'),
    neg('-----BEGIN OPENSSH PRIVATE KEY-----\n<paste your key here>\n-----END OPENSSH PRIVATE KEY-----'),
    neg('-----BEGIN EC PRIVATE KEY-----\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n-----END EC PRIVATE KEY-----'),
    neg('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN...snip...\n-----END PRIVATE KEY-----'),
    neg('-----BEGIN RSA PRIVATE KEY-----\nYOUR KEY HERE\n'),
    // Truncated block (no END): header and the key material are still reported.
    { text: 'see -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7Qm2Lp9Rt4Vn6\n', expect: [['PRIVATE_KEY', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7Qm2Lp9Rt4Vn6\n']] },
    neg('-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUWz\n-----END CERTIFICATE-----'),
    neg('-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----'),
    neg('the string "-----BEGIN PRIVATE KEY" without dashes after it'),
  ],
  aws: [
    pos('AWS_ACCESS_KEY', 'AKIA4Q3EGRIVYW6TQSPW'),
    pos('AWS_ACCESS_KEY', 'ASIA4Q3EGRIVYW6TQSPW', 'id=', ''),
    { text: 'aws_access_key_id = AKIA4Q3EGRIVYW6TQSPW\naws_secret_access_key = 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', expect: [['AWS_ACCESS_KEY', 'AKIA4Q3EGRIVYW6TQSPW'], ['AWS_SECRET_KEY', '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']] },
    { text: 'SecretAccessKey: "Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0/Aa+Bb3CcD"', expect: [['AWS_SECRET_KEY', 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0/Aa+Bb3CcD']] },
    neg('AKIAIOSFODNN7EXAMPLE with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
    // The documentation example is a placeholder even without the allow-list; the allow-list drops any exact value.
    neg('AKIAIOSFODNN7EXAMPLE', { allowList: [] }),
    neg('AKIA4Q3EGRIVYW6TQSPW', { allowList: ['AKIA4Q3EGRIVYW6TQSPW'] }),
    neg('AKIAXXXXXXXXXXXXXXXX AKIA0000000000000000 ASIAABCDEFGHIJKLMNOP AKIAYOURACCESSKEYID1'),
    neg('aws_secret_access_key = abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123'),
    neg('AKIA4Q3EGRIVYW6TQSP (19 chars) AKIA4Q3EGRIVYW6TQSPW1 (21) AKIA4Q3EGRIVYW0TQSPW (0 is not base32) XAKIA4Q3EGRIVYW6TQSPW'),
    neg('a 40-char base64 string alone: Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0/Aa+Bb3CcD is not an AWS secret'),
    neg('aws_secret_access_key = 0123456789012345678901234567890123456789 (no letters)'),
  ],
  gcp: [
    pos('GCP_API_KEY', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe'),
    neg(`AIza${'a'.repeat(35)} AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX AIzaSyYOUR_API_KEY_HERE_0123456789abcd`),
    neg('AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQ (38) AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQeX (40)'),
    // The sample key in the Firebase Android SDK's FirebaseOptions javadoc.
    neg('FirebaseOptions.Builder().setApiKey("AIzaSyDdVgKwhZl0sTTTLZ7iTmt1r3N2cJLnaDk")'),
    // Keys the SDK's history holds: a firebase-storage test fixture (2018) and firebase-dataconnect's
    // google-services.json (2024).
    neg('new FirebaseOptions.Builder().setApiKey("AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM").setApplicationId("fooey")'),
    neg('"api_key": [{ "current_key": "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE" }]'),
    { text: '{"type": "service_account", "project_id": "demo", "private_key_id": "3f2504e04f8911d39a0c0305e82c3301aabbccdd", "client_email": "x"}', expect: [['GCP_SERVICE_ACCOUNT', '3f2504e04f8911d39a0c0305e82c3301aabbccdd']] },
    neg('{"type": "user", "private_key_id": "3f2504e04f8911d39a0c0305e82c3301aabbccdd"}'),
  ],
  azure: [
    { text: 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRg==;EndpointSuffix=core.windows.net', expect: [['AZURE_KEY', 'BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRg==']] },
    { text: 'Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=CQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJyg=', expect: [['AZURE_KEY', 'CQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJyg=']] },
    neg('AccountKey=<your-key> and AccountKey=short=='),
  ],
  github: [
    pos('GITHUB_TOKEN', GH),
    pos('GITHUB_TOKEN', `github_pat_11AQ7ZKFY0${'a1B9c3D4e5F6'.slice(0, 12)}_${'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9Ff1Gg3Hh5Ii7Jj9Kk'.slice(0, 59)}`),
    neg(`checksum off by one: ${GH_BAD}`),
    neg('docs sample gho_16C7e42F292c6912E7710c838347Ae178B4a and ghp_token_name identifiers'),
    neg(`too short ${GH.slice(0, -2)} too long ${GH}Q`),
    neg(`github_pat_${'x'.repeat(22)}_${'x'.repeat(59)} github_pat_11AAAAAAA0${'A'.repeat(12)}_${'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9Ff1Gg3Hh5Ii7Jj9Kk'.slice(0, 59)}`),
  ],
  gitlab: [
    pos('GITLAB_TOKEN', 'glpat-Zq8Lw3Nx7Pk2Rv5Tm9Yb'),
    pos('GITLAB_TOKEN', 'glrt-t1_Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc'),
    pos('GITLAB_TOKEN', 'glffct-Rv5Tm9Yb4Hc6Jd1Fg0Aa'),
    pos('GITLAB_TOKEN', 'glft-Nx7Pk2Rv5Tm9Yb4Hc6Jd'),
    pos('GITLAB_TOKEN', 'glimt-3kq8w2z7m1x9p4v6r0t5y8u2'),
    pos('GITLAB_TOKEN', 'glagent-Qm2Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0GaPq4Ls9Tm2Wn7Rb1Xc6Vz3'),
    pos('GITLAB_TOKEN', 'glsoat-Lw3Nx7Pk2Rv5Tm9Yb4Hc'),
    pos('GITLAB_TOKEN', 'GR1348941Zq8Lw3Nx7Pk2Rv5Tm9Yb', 'token: ', ''),
    { text: 'Cookie: _gitlab_session=9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c; path=/', expect: [['GITLAB_TOKEN', '9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c']] },
    neg('glpat-xxxxxxxxxxxxxxxxxxxx and glpat-short1 glft-EXAMPLE1234567890abcd GR1348941xxxxxxxxxxxxxxxxxxxx _gitlab_session=00000000000000000000000000000000'),
  ],
  slack: [
    pos('SLACK_TOKEN', 'xoxb-482910375126-7302918465521-AbCdEfGhIjKlMnOpQrStUvWx'),
    pos('SLACK_TOKEN', 'xoxo-482910375126-7302918465521-Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6'),
    pos('SLACK_TOKEN', 'xoxp-482910375126-7302918465521-7302918465007-9c41e0b7d2a85f36c1e4b09d7a2f5e83'),
    pos('SLACK_TOKEN', 'xoxp-1-Mi0yLTc0MjkxMDM3NTEyNi03MzAyOTE4NDY1NTIxLWZmZjEyMw', 'rotating: xoxe.', ''),
    // Hand-written ids, and a user token whose secret part is cut off.
    neg('"token": "xoxp-4321-4321-4321-9c41e0b7d2a85f36c1e4b09d7a2f5e83"'),
    neg('"token": "xoxp-482910375126-7302918465521-7302918465007-################"'),
    pos('SLACK_WEBHOOK', 'hooks.slack.com/services/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', 'https://', ''),
    neg('xoxb-your-token-here and xoxb_placeholder and hooks.slack.com/services/'),
    neg('https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'),
  ],
  bedrock: [
    pos('BEDROCK_API_KEY', `ABSK${Buffer.from('BedrockAPIKey-q7zk-at-480213579246:Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9Ff1Gg3Hh5Ii7Jj9Kk').toString('base64')}`),
    // The shape of the AWS documentation's sample: a real prefix, then EXAMPLE over and over.
    neg(`AWS_BEARER_TOKEN_BEDROCK=ABSK${Buffer.from('BedrockAPIKey-').toString('base64')}${'EXAMPLEKEY'.repeat(8)}`),
  ],
  stripe: [pos('STRIPE_KEY', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'), pos('STRIPE_KEY', 'rk_live_51Hc6Jd1Fg0Zq8Lw3Nx7Pk2Rv5'), neg('sk_test_4eC39HqLyjWDarjtT1zdp7dc pk_live_4eC39HqLyjWDarjtT1zdp7dc sk_live_lowercaseonlyletters')],
  openai: [
    pos('OPENAI_KEY', OPENAI),
    pos('OPENAI_KEY', 'sk-Zq8Lw3Nx7Pk2Rv5Tm9YbT3BlbkFJHc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9'),
    neg('sk-proj-placeholder and sk-1234 and sk-this-is-not-a-key-but-quite-long-text-here'),
  ],
  anthropic: [
    pos('ANTHROPIC_KEY', ANTHROPIC),
    pos('ANTHROPIC_KEY', `sk-ant-admin01-${ANTHROPIC.slice(13)}`),
    neg('sk-ant-api03-short and sk-ant-xyz'),
    // Every issued key ends in "AA": without that tail it is a sample or a truncation.
    neg(`${ANTHROPIC.slice(0, -2)}Qz and ${ANTHROPIC.slice(0, -1)}`),
  ],
  huggingface: [pos('HUGGINGFACE_TOKEN', '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'), neg('hf_hub_download hf_abcdefghijklmnopqrstuvwxyzabcdefgh (no upper case)')],
  npm: [pos('NPM_TOKEN', NPM), neg('npm_config_cache npm_package_version_number_is_long_enough_x')],
  url_credentials: [
    { text: 'DATABASE_URL=postgres://admin:s3cr3tP4ss@db.example.com:5432/app', expect: [['URL_PASSWORD', 's3cr3tP4ss']] },
    { text: 'amqp://svc:Zq8Lw3Nx@rabbit/vhost', expect: [['URL_PASSWORD', 'Zq8Lw3Nx']] },
    neg('postgres://user:password@localhost:5432/app redis://:${REDIS_PASSWORD}@redis:6379 https://user@host/x https://host/a:b@c'),
    // Placeholders the token filter refuses: runs, alphabet runs, marker words.
    neg('postgres://app:xxxxxxxxxxxx@db:5432/a amqp://w:000000000000@mq/ redis://default:abcdefghijkl@cache:6379 ftp://d:YOUR_PASSWORD_HERE@ftp.example.com/'),
    // Unescaped '@', '#', '?' and ':' in the password: the password runs to the '@' before the host.
    { text: 'DATABASE_URL=postgres://admin:p@ss#W0rd!@db.example.com:5432/app', expect: [['URL_PASSWORD', 'p@ss#W0rd!']] },
    { text: 'smtp://mailer:K7#q!zR2@smtp.example.com:587 and ftp://u:Pa55w:rd@ftp.example.org/pub', expect: [['URL_PASSWORD', 'K7#q!zR2'], ['URL_PASSWORD', 'Pa55w:rd']] },
    { text: 'redis://default:Hk2?v9@xL@cache.internal:6379/0', expect: [['URL_PASSWORD', 'Hk2?v9@xL']] },
    // The text after an unescaped '#' is not an email address (`5fwRb@ftp.example.com`).
    { text: 'lftp ftp://deploy:fqrSd5ch#5fwRb@ftp.example.com/public_html', expect: [['URL_PASSWORD', 'fqrSd5ch#5fwRb']] },
    { text: 'ssh://git:T0k#3n@git.example.org/repo.git', expect: [['URL_PASSWORD', 'T0k#3n']] },
    // A path after the host, a port and query, an '@' in a path: not passwords.
    { text: 'https://u:s3cret9@host/users/@me', expect: [['URL_PASSWORD', 's3cret9']] },
    neg('see https://host.example:8080?next=/a@b or http://host:8080#frag@x and https://h.example/a:b@c'),
    neg('amqp://guest:password@rabbit:5672/ and mongodb+srv://user:<password>@cluster0.example.net/db'),
  ],
  square: [
    pos('SQUARE_TOKEN', 'EAAAl9Xq2mZ7vR4tK8wB3nH6yC1pF5dJ0sG-aU_eLrTqWcYiOoNbVkMhPjQxDzE2f7Bg'.slice(0, 64)),
    pos('SQUARE_TOKEN', 'sq0atp-Qm4vT8zL2xR7nW9kB3hY5c', 'SQUARE_ACCESS_TOKEN=', ''),
    pos('SQUARE_TOKEN', 'sq0csp-Ht6Kp2Wq9Zx4Lm8Rv3Nb7Cy1Df5Gj0Sa-Eu_Ow2Ix9k', '{"client_secret": "', '"}'),
    neg('sq0idp-Qm4vT8zL2xR7nW9kB3hY5c (application id) sq0atp-xxxxxxxxxxxxxxxxxxxxxx EAAA<your-access-token> sq0atp-Qm4vT8zL2x (short)'),
    neg(`READ EAAAAAAAAAAA EAAA${'abcdefghij'.repeat(6)} sq0csp-${'0'.repeat(43)}`),
  ],
  alibaba: [
    pos('ALIBABA_KEY', 'LTAI5tQm4vT8zL2xR7nW9kB3', 'ALIBABA_CLOUD_ACCESS_KEY_ID=', ''),
    { text: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET=Qm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq', expect: [['ALIBABA_KEY', 'Qm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq']] },
    { text: '{"AccessKeyId": "LTAI5tHt6Kp2Wq9Zx4Lm8Rv3", "AccessKeySecret": "Zx4Lm8Rv3Nb7Cy1Df5Gj0SaEuOw2Ix"}', expect: [['ALIBABA_KEY', 'LTAI5tHt6Kp2Wq9Zx4Lm8Rv3'], ['ALIBABA_KEY', 'Zx4Lm8Rv3Nb7Cy1Df5Gj0SaEuOw2Ix']] },
    neg('LTAIxxxxxxxxxxxxxxxxxxxx LTAI<access-key-id> ALTAIR LTAI5tQm4v (short) aliyun_access_key_secret=${ALIYUN_SECRET}'),
  ],
  yandex: [
    pos('YANDEX_KEY', 'AQVNQm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm', 'YC_API_KEY=', ''),
    pos('YANDEX_KEY', 'YCQm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm8R', 'static key: ', ''),
    pos('YANDEX_TOKEN', 'y0_AgAAAAAQm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm8Rv3Nb7Cy1Df5Gj0', 'YANDEX_OAUTH_TOKEN=', ''),
    neg('AQVNxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx YCSB benchmark YCAJEQm4vT8zL2xR7nW9kB (key id, short) y0_<your-oauth-token> AQVN<api-key>'),
    neg('YCABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKL (no digits or lower case)'),
    // IAM tokens: "t1." + base64url payload + "." + an 86-character signature.
    pos('YANDEX_TOKEN', 't1.9euelZqSz4Qm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm8Rv3Nb7Cy1Df5Gj0SaEuOw2Ix9k-e8Gdi5m_t3z9xsKDWD57wZ2Lmb-.gPf3so4McXjI8zuzxpTwpeekiHVMQWZUooXpEb2ChP0wbnuAsIKruny4JIbc2IjlHoXSnFDmVnPt5jYci8UbDQ', 'Authorization: Bearer ', ''),
    pos('YANDEX_TOKEN', 't1.9euelZqSz4Qm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm8Rv3Nb7Cy1Df5Gj0SaEuOw2Ix9k-e8Gdi5m_t3z9xsKDWD57wZ2Lmb-.gPf3so4McXjI8zuzxpTwpeekiHVMQWZUooXpEb2ChP0wbnuAsIKruny4JIbc2IjlHoXSnFDmVnPt5jYci8UbDQ', '{"iamToken": "', '", "expiresAt": "2026-12-07T23:00:00Z"}'),
    // Cut short in documentation, a signature one character short, a placeholder body, no signature at all.
    neg('"iamToken": "t1.9euelZqYk5KMj5GTkp...", see the docs; IAM_TOKEN=t1.<token>'),
    neg('t1.9euelZqSz4Qm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm8Rv3Nb7Cy1Df5Gj0SaEuOw2Ix9k-e8Gdi5m_t3z9xsKDWD57wZ2Lmb-.gPf3so4McXjI8zuzxpTwpeekiHVMQWZUooXpEb2ChP0wbnuAsIKruny4JIbc2IjlHoXSnFDmVnPt5jYci8UbD'),
    neg(`t1.${'x'.repeat(120)}.${'x'.repeat(86)} and t1.9euelZqSz4Qm4vT8zL2xR7nW9kB3hY5cHt6Kp2Wq9Zx4Lm8Rv3Nb7Cy1Df5Gj0SaEuOw2Ix9k-e8Gdi5m_t3z9xsKDWD57wZ2Lmb-`),
  ],
  k8s_secret: [
    {
      text: 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  username: YWRtaW4=\n  password: UzNjcjN0LVA0c3MhMjAyNg==\n  host: ZGIuZXhhbXBsZS5jb20=\n  unset: Y2hhbmdlbWU=\n',
      expect: [['K8S_SECRET', 'UzNjcjN0LVA0c3MhMjAyNg==']],
    },
    // kubectl's order: data before kind; stringData values by class mix and entropy.
    {
      text: 'apiVersion: v1\ndata:\n  token: c2stbGl2ZS1rZXk9WnE4THczTng3UGsy\nkind: Secret\n---\nkind: Secret\nstringData:\n  webhook-key: "qT7#vLp9Xz2WmK4r"\n  user: admin\n  pw: ${DB_PASSWORD}\n',
      expect: [['K8S_SECRET', 'c2stbGl2ZS1rZXk9WnE4THczTng3UGsy'], ['K8S_SECRET', 'qT7#vLp9Xz2WmK4r']],
    },
    // A ConfigMap, a Secret in another document, placeholders and binary data are not reported.
    neg('kind: ConfigMap\ndata:\n  config: c2stbGl2ZS1rZXk9WnE4THczTng3UGsy\n---\nkind: Secret\ndata:\n  tls.crt: AAECAwQFBgcICQoLDA0ODxAREhM=\n  note: eHh4eHh4eHh4eHh4\nstringData:\n  db: changeme\n  token: <token>\n'),
    neg('the Secret kind: Secret is what kubectl create secret generic writes'),
    // A placeholder in base64 (`changeme`) is not a secret for the keyword = value detector either.
    neg('kind: Secret\ndata:\n  password: Y2hhbmdlbWU=\n'),
    // JSON (kubectl -o json: data before kind), compact and pretty, stringData too; a List's items.
    {
      text: '{\n  "apiVersion": "v1",\n  "data": {\n    "password": "UzNjcjN0LVA0c3MhMjAyNg==",\n    "user": "YWRtaW4="\n  },\n  "kind": "Secret",\n  "metadata": {"name": "db", "labels": {"kind": "db"}},\n  "stringData": {"webhook-key": "qT7#vLp9Xz2WmK4r", "pw": "changeme"},\n  "type": "Opaque"\n}',
      expect: [['K8S_SECRET', 'UzNjcjN0LVA0c3MhMjAyNg=='], ['K8S_SECRET', 'qT7#vLp9Xz2WmK4r']],
    },
    {
      text: '{"kind":"List","items":[{"kind":"ConfigMap","data":{"c":"c2stbGl2ZS1rZXk9WnE4THczTng3UGsy"}},{"data":{"token":"c2stbGl2ZS1rZXk9WnE4THczTng3UGsy"},"kind":"Secret"}]}',
      expect: [['K8S_SECRET', 'c2stbGl2ZS1rZXk9WnE4THczTng3UGsy']],
    },
    // A ConfigMap, placeholders and binary data in JSON, a data map nested deeper, a "kind" that is not a member.
    neg('{"kind": "ConfigMap", "data": {"config": "c2stbGl2ZS1rZXk9WnE4THczTng3UGsy"}}'),
    neg('{"kind": "Secret", "data": {"password": "Y2hhbmdlbWU=", "tls.crt": "AAECAwQFBgcICQoLDA0ODxAREhM="}, "stringData": {"token": "${TOKEN}"}}'),
    neg('{"kind": "Secret", "metadata": {"annotations": {"data": {"x": "c2stbGl2ZS1rZXk9WnE4THczTng3UGsy"}}}}'),
    neg('["kind", "Secret", {"data": {"x": "c2stbGl2ZS1rZXk9WnE4THczTng3UGsy"}}]'),
  ],
  authorization: [
    { text: 'curl -H "Authorization: Bearer abcDEF123456ghiJKL789" https://x', expect: [['BEARER_TOKEN', 'abcDEF123456ghiJKL789']] },
    { text: 'Authorization: Basic dXNlcjpzM2NyM3Q=', expect: [['BASIC_AUTH', 'dXNlcjpzM2NyM3Q=']] },
    neg('bearer tokens are short-lived; Basic authentication; Bearer $TOKEN; Basic SGVsbG8gV29ybGQh (no colon); Bearer abcdefghijklmnopqrst (letters only)'),
    // After an Authorization header name, a Basic value is a credential also with an empty password or bytes that
    // are not printable; in prose it must decode to printable user:pass.
    { text: "curl -H 'Authorization: Basic Y2ktcmVhZGVyOg==' https://x", expect: [['BASIC_AUTH', 'Y2ktcmVhZGVyOg==']] },
    { text: '{"headers": {"authorization": "Basic c3ZjLTdLcTI6WnA5lXhXM21SOHRM"}}', expect: [['BASIC_AUTH', 'c3ZjLTdLcTI6WnA5lXhXM21SOHRM']] },
    neg('the value Basic Y2ktcmVhZGVyOg== and Basic c3ZjLTdLcTI6WnA5lXhXM21SOHRM in prose; Authorization: Basic SGVsbG8gV29ybGQh; X-Authorization: Basic OmFiYw=='),
    { text: 'curl -H "Authorization: Token 9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c" https://x', expect: [['API_KEY', '9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c']] },
    { text: 'Authorization: Api-Token dt0c01.Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6', expect: [['API_KEY', 'dt0c01.Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6']] },
    { text: 'authorization: SSWS 00Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0AaBbCcDd\n', expect: [['API_KEY', '00Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0AaBbCcDd']] },
    { text: 'Authorization: Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0', expect: [['API_KEY', 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0']] },
    { text: '{"headers": {"x-api-key": "Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0Ga"}}', expect: [['API_KEY', 'Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0Ga']] },
    { text: "curl -H 'apikey: 7Hs3Jd5Fw0GaPq4Ls9Tm2Wn7R' -H 'X-Octopus-ApiKey: API-ZQ8LW3NX7PK2RV5TM9YB4HC6JD' x", expect: [['API_KEY', '7Hs3Jd5Fw0GaPq4Ls9Tm2Wn7R'], ['API_KEY', 'API-ZQ8LW3NX7PK2RV5TM9YB4HC6JD']] },
    { text: 'Api-Token: Wn7Rb1Xc6Vz3Kd8Hf5Jg0Ya2', expect: [['API_KEY', 'Wn7Rb1Xc6Vz3Kd8Hf5Jg0Ya2']] },
    // A 16-digit hex key whose entropy (2.86 bits) the count of distinct digits caps.
    { text: "curl -H 'x-api-key: cee737443e210471' https://x", expect: [['API_KEY', 'cee737443e210471']] },
    neg('Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7'),
    neg('Authorization: Digest username="Mufasa", realm="api", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"'),
    neg('the Authorization header; x-api-key: $API_KEY; apikey: <your-api-key>; Authorization: Token YOUR_TOKEN_HERE_123456; api-key: xxxxxxxxxxxxxxxxxxxxxxxx'),
    // Not a key header (api-key-id), or not a header at all (myapikey: a keyword = value secret, reported as such).
    { text: 'api-key-id: Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6 and myapikey: Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0 and Authorization: Bearer', expect: [['GENERIC_SECRET', 'Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0']] },
  ],
  curl: [
    { text: 'curl -u admin:S3cr3t!pw https://api.example.com', expect: [['PASSWORD', 'S3cr3t!pw']] },
    { text: 'curl -s -X POST --user "deploy:Tq9#mZ2v" https://x', expect: [['PASSWORD', 'Tq9#mZ2v']] },
    { text: "curl --user='ci:hunter2x' https://x", expect: [['PASSWORD', 'hunter2x']] },
    { text: 'curl -X GET \\\n  -u svc:pA55w0rd-9 \\\n  https://x', expect: [['PASSWORD', 'pA55w0rd-9']] },
    neg('curl -u admin:$PASSWORD https://x; curl -u user:<password> x; curl --user admin: x; curl -u admin x\nsudo -u postgres:x psql'),
    neg('curl https://x\n-u admin:S3cr3t (another command)'),
    // An API key as the user with no password, and a token with no user.
    { text: 'curl https://api.example.com/v1/charges -u Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6:', expect: [['PASSWORD', 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6']] },
    { text: 'curl -u ":d2LkV78zLx!t" https://localhost:9200', expect: [['PASSWORD', 'd2LkV78zLx!t']] },
    neg('curl -u admin: https://x; curl -u $API_KEY: https://y; curl -u "deploy-bot:" https://z'),
    neg('curl -u admin:xxxxxxxxxxxx https://x; curl --user "deploy:XXXXXXXXXXXX" https://y; curl -u ci:YOUR_API_KEY_HERE https://z; curl -u a:abcdefghijkl x'),
    // Two commands on one line, the second after the first's answer was remembered.
    { text: 'curl -u a:Zq8Lw3Nx7P https://x && curl -s --user b:Hc6Jd1Fg0A https://y', expect: [['PASSWORD', 'Zq8Lw3Nx7P'], ['PASSWORD', 'Hc6Jd1Fg0A']] },
    neg('curl https://x\necho -u a:Zq8Lw3Nx7P'),
    { text: "curl --user deploy:'Tq9#mZ2vLp4x' -X PATCH https://x", expect: [['PASSWORD', 'Tq9#mZ2vLp4x']] },
    // Templates and demo logins: the whole pair in angle brackets, one character repeated, the user's own name.
    neg('curl -u <admin:secret99> https://x; curl --user "aaa:bbb" https://y; curl -s -u \'demo:demo\' https://z'),
  ],
  generic: [
    { text: 'DB_PASSWORD=Tq9#mZ2vLp4x', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    { text: 'database:\n  password: "k8Rz!pQ2wE"\n', expect: [['GENERIC_SECRET', 'k8Rz!pQ2wE']] },
    { text: '{"client_secret": "Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0Aa"}', expect: [['GENERIC_SECRET', 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0Aa']] },
    { text: "const secretKey = 'Lp9Rt4Vn6Bc1Zk8Hs3Jd';", expect: [['GENERIC_SECRET', 'Lp9Rt4Vn6Bc1Zk8Hs3Jd']] },
    { text: 'machine api.example.com login deploy password Rb1Xc6Vz3K', expect: [['GENERIC_SECRET', 'Rb1Xc6Vz3K']] },
    { text: '//registry.npmjs.org/:_authToken=Hf5Jg0Ya2Wn7Rb1Xc6Vz', expect: [['GENERIC_SECRET', 'Hf5Jg0Ya2Wn7Rb1Xc6Vz']] },
    { text: '{"auths": {"ghcr.io": {"auth": "Y2ktYm90OlRxOSNtWjJ2THA0eA=="}}}', expect: [['GENERIC_SECRET', 'Y2ktYm90OlRxOSNtWjJ2THA0eA==']] },
    { text: 'password := "hunter2!x"', expect: [['GENERIC_SECRET', 'hunter2!x']] },
    // A vendor format at the same span is named by the vendor's detector.
    { text: `GITHUB_TOKEN=${GH}`, expect: [['GITHUB_TOKEN', GH]] },
    neg('password: ${DB_PASSWORD}; "password": "********"; token_type: bearer; secret_name: prod-db-credentials; secret: my-app-secret'),
    neg('PASSWORD_MIN_LENGTH=12; tokenizer = AutoTokenizer.from_pretrained("bert"); api_key = get_api_key(settings); secret: true'),
    neg('if (password == confirmPassword) {}; password: changeme; token: <your-token>; apiKey: process.env.OPENAI_API_KEY; password = config.db.password'),
    neg('const token = req.token?.reveal(); (header: JWTHeaderParameters, token: FlattenedJWSInput) => x; readonly authorization: ServiceDefinition;'),
    neg('password_hash: $2b$12$KIXQJ1y7yqzE6aBc9dEfGhO; csrf_token: {{ csrf_token() }}; pwd: /home/user/project; auth: true; author: Jane Doe'),
    neg(`token: ${GH_BAD}; STRIPE_SECRET_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc; api_key: YOUR_API_KEY; password=xxxxxxxxxxxx`),
    neg('{"auths": {"ghcr.io": {"auth": "dGhpcyBpcyBub3QgYSBwYWlyIGF0IGFsbA=="}}}'),
    // Assignment syntaxes of make, PHP, BNF-style configs, JavaScript, Go and Kotlin; subscripts; XML elements;
    // calls that take a name and a value.
    { text: 'REGISTRY_TOKEN ?= k2Vd9Lq0Xw7Zr4Tp1Nb6', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6']] },
    { text: '$dbPassword .= "Tq9#mZ2vLp4x";', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    { text: 'service_secret ::= "k2Vd9Lq0Xw7Zr4Tp1Nb6"\nservice_token :::= Hc6Jd1Fg0Aa1Bb3Cc5', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5']] },
    { text: 'opts.token ??= "k2Vd9Lq0Xw7Zr4Tp1Nb6"; webhookToken="Hc6Jd1Fg0Aa1Bb3Cc5"', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5']] },
    { text: 'var webhookSecret string = "k2Vd9Lq0Xw7Zr4Tp1Nb6"\nval apiToken: String = "Hc6Jd1Fg0Aa1Bb3Cc5"', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5']] },
    // A Python annotation: the name before `: str` (the name's end is read through the type).
    { text: 'db_password: str = "Qm7xV2pL9sK4wT8zR3"', expect: [['GENERIC_SECRET', 'Qm7xV2pL9sK4wT8zR3']] },
    { text: 'os.environ["DB_PASSWORD"] = "Tq9#mZ2vLp4x"', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    // Vault tokens from before 1.10 look like a member access (`s.Abc…`) but are not one.
    { text: 'vault_token = "s.Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9"\ntoken: b.Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6', expect: [['GENERIC_SECRET', 's.Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9'], ['GENERIC_SECRET', 'b.Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6']] },
    neg('token: s.accessTokenFromHeader; secret = s.clientSecretValue; password: r.body.newPassword1'),
    // Numbered names, and private keys written as a value rather than a PEM block (a PEM is the private-key detector's).
    { text: 'api_token_2 = "k2Vd9Lq0Xw7Zr4Tp1Nb6"\npassword1 : Tq9#mZ2vLp4x', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    { text: 'signing_private_key: Hc6Jd1Fg0Aa1+Bb3Cc5/Dd7=', expect: [['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1+Bb3Cc5/Dd7=']] },
    { text: '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"}', expect: [['PRIVATE_KEY', '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----']] },
    { text: '<server>\n  <password>Tq9#mZ2vLp4x</password>\n</server>\n<apiToken>\n    k2Vd9Lq0Xw7Zr4Tp1Nb6\n</apiToken>', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x'], ['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6']] },
    { text: 'System.setProperty("jdbc.password", "Tq9#mZ2vLp4x"); os.environ.setdefault(\'API_TOKEN\', \'k2Vd9Lq0Xw7Zr4Tp1Nb6\')', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x'], ['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6']] },
    // Attribute forms: .NET appSettings and Java properties XML.
    { text: '<appSettings>\n  <add key="PageSize" value="50" />\n  <add key="PaymentsApiToken" value="k2Vd9Lq0Xw7Zr4Tp1Nb6" />\n</appSettings>', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6']] },
    { text: '<properties>\n  <entry key="db.password">Tq9#mZ2vLp4x</entry>\n</properties>', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    neg('<add key="PublicToken" value="k2Vd9Lq0Xw7Zr4Tp1Nb6" /> <add key="Theme" value="k2Vd9Lq0Xw7Zr4Tp1Nb6" /> <entry key="password">${DB_PASS}</entry> <entry key="secret">Tq9#mZ2vLp4x'),
    // Not assignments: string building, comparisons, other operators, elements that do not close, lists of names.
    neg('url = "https://x/?access_token=" + accessToken + "&scope=read"; q = \'?token=\'+tokenValue12; s = "password=" . $pw9'),
    neg('let privateKey: Awaited<ReturnType<typeof generateKeyPair>>; let apiToken: Promise<string> | undefined;'),
    neg('if (a.secret != "k2Vd9Lq0Xw7Zr4Tp1Nb6") {} x = m["token"] == "k2Vd9Lq0Xw7Zr4Tp1Nb6"; n += token; std::string token;'),
    neg('<token>k2Vd9Lq0Xw7Zr4Tp1Nb6</tokens> <password>k2Vd9Lq0Xw7Zr4Tp1Nb6 and more text; ["password", "password_confirmation"]; [\'x-amz-security-token\', \'x-amz-content-sha256\']'),
    neg('[\'DEPLOY_TOKEN\', \'token dapi8f3c2a1b9d7e6f5a4b3c\'], ["secret", "aws_secret_access_key="]'),
    // Elided values, in the shapes of a README or a redacted log.
    neg('export API_TOKEN=Zq8Lw3Nx7Pk2Rv5Tm9Yb4...\nsecret: "Hc6Jd1Fg0Aa1..[REDACTED]"; password: Tq9#mZ2v\u2026'),
    // Public by design, or anti-forgery tokens every page visitor gets.
    neg('publicToken = "Rb1Xc6Vz3KHf5Jg0Ya2Wn7"; NEXT_PUBLIC_API_KEY=Pk2Rv5Tm9Yb4Hc6Jd1Fg0A; publishableKey: "Vz3KHf5Jg0Ya2Wn7Rb1X"'),
    neg('<meta name="csrf-token" content="x"> csrf-token=Lp9Rt4Vn6Bc1Zk8Hs3Jd5Fw0Ga+Pq4/Ls9Tm2Wn7==; "X-XSRF-TOKEN": "Wn7Rb1Xc6Vz3Kd8Hf5Jg"'),
    // A package coordinate after a group id that ends in "token", and another assignment's text between quotes.
    neg('deps = "org.keycloak.token:keycloak-core-24.0.3"\ntoken = "session_token = " + suffix'),
    // Credential names: creds and credential(s), a credential word before a word for its value, a vendor whose keys
    // have no prefix named alone (with a token-shaped value).
    { text: 'creds = Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6J\n"credentials" : "2cbe54014c2b54b95523cf6941fa1c257c6f561c5cb347611a3ce9d97dcbee50"', expect: [['GENERIC_SECRET', 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6J'], ['GENERIC_SECRET', '2cbe54014c2b54b95523cf6941fa1c257c6f561c5cb347611a3ce9d97dcbee50']] },
    { text: 'mySecretString=Hc6Jd1Fg0Aa1Bb3Cc5Dd\nsecret_value: "k2Vd9Lq0Xw7Zr4Tp1Nb6"\n<credential>Tq9#mZ2vLp4x</credential>', expect: [['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5Dd'], ['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    { text: 'cloudflare: "0fe7ee5fc324bdb2e1142a21c402364f9572b"\nauth = ("artifactory", "qkur3jq64nq6puxcmlzkruykqh7dx297gq8zxqyxjxvf2olds7qtuacojs106xdi")', expect: [['GENERIC_SECRET', '0fe7ee5fc324bdb2e1142a21c402364f9572b'], ['GENERIC_SECRET', 'qkur3jq64nq6puxcmlzkruykqh7dx297gq8zxqyxjxvf2olds7qtuacojs106xdi']] },
    // A quoted name and value at the start of the text or of a line (CSV rows).
    { text: '"jfrog", "Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9"\n"password", "Tq9#mZ2vLp4x"', expect: [['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5Dd7Ee9'], ['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    neg('"password", "password_confirmation"\n"token", "the token of the session"\nx"secret", "Tq9#mZ2vLp4x"'),
    neg('fetch(url, { credentials: "include" }); credentials: \'same-origin\'; creds = get_creds(profile); secretName: prod-db-credentials-2; tokenizer_value: cl100k_base'),
    neg('cohere: command-r-plus-08-2024; datadog: agent_7_52_0_linux_amd64_build; cloudflare: enabled; cloudflare: "zone-2"; datadog: { site: datadoghq.eu }; jfrog: "https://acme.jfrog.io/artifactory"; my_cloudflare_zone: Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6J'),
    // Types in code after a credential name are not values.
    neg('function f(msg: In, credential: Uint8Array): Out {}\nconst credential: AuditRecord[\'credential\'] = x;\nlet token: Base64String | undefined; let secret: Sha256Hash = h;'),
    // Hex keys of 16-23 characters: their entropy is capped by the count of distinct digits (2.75 bits, not 3).
    { text: 'curl -H "Token: cee737443e210471" https://x\napi_token=9d19bdd0b6cc60d5d3', expect: [['GENERIC_SECRET', 'cee737443e210471'], ['GENERIC_SECRET', '9d19bdd0b6cc60d5d3']] },
    neg('token: aaaa1111bbbb2222; api_token=1a1a1a1a2b2b2b2b; secret: ABCDEF12abcdef12ab'),
    // Names ending in the word pass, in any case and as a camel-case word; not the pass inside another word.
    { text: 'DB_PASS=Qm7#vL2p!Rz9xK4w\nSMTP_PASS="k2Vd9Lq0Xw7Zr4Tp1Nb6"\nREDIS_PASS: Hc6Jd1Fg0Aa1Bb3Cc5', expect: [['GENERIC_SECRET', 'Qm7#vL2p!Rz9xK4w'], ['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5']] },
    { text: 'const dbPass = "Tq9#mZ2vLp4x";\n{"smtp.pass": "k2Vd9Lq0Xw7Zr4Tp1Nb6"}\npass2 = Hc6Jd1Fg0Aa1Bb3Cc5', expect: [['GENERIC_SECRET', 'Tq9#mZ2vLp4x'], ['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Hc6Jd1Fg0Aa1Bb3Cc5']] },
    neg('DB_PASS=${DB_PASS}; SMTP_PASS=changeme; PASSTHROUGH=true; BYPASS=1; COMPASS=Qm7#vL2p!Rz9xK4w; bypass: Qm7#vL2p!Rz9xK4w; passKey: Qm7#vL2p!Rz9xK4w'),
    // The MySQL and MariaDB clients' -p with the password attached.
    { text: 'mysql -h db.internal -u root -pQm7#vL2p!Rz9xK4w app\nmysqldump -uroot -p\'k2Vd9Lq0Xw7Zr4Tp1Nb6\' --all-databases', expect: [['GENERIC_SECRET', 'Qm7#vL2p!Rz9xK4w'], ['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6']] },
    neg('ssh -p 22 host; grep -p x; mkdir -p /a/b; mysql -u root -p app; mysql -p$MYSQL_PWD; mysql -P 3306 -h db | ssh -pQm7#vL2p!Rz9xK4w'),
    // German and French.
    { text: 'Passwort: k2Vd9Lq0Xw7Zr4Tp1Nb6\nmot de passe\u00a0: Tq9#mZ2vLp4x', expect: [['GENERIC_SECRET', 'k2Vd9Lq0Xw7Zr4Tp1Nb6'], ['GENERIC_SECRET', 'Tq9#mZ2vLp4x']] },
    neg('the password is stored in Vault; the password is sha256-hashed; the password is bcrypt(12) now; the password is correct-horse-battery-staple; passwords is Qm7#vL2p!Rz9xK4w'),
  ],
  vendor_shapes: [
    pos('JFROG_TOKEN', `cmVmdGtuOjAxOj${'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0AaBbCcDdEeFfGgHh1Ii2Jj'.slice(0, 50)}`),
    pos('DOPPLER_TOKEN', 'dp.st.prd.Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0AaBbCcDdEeF'),
    pos('VAULT_TOKEN', 'hvs.CAESIZq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6'),
    pos('SENDGRID_KEY', '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'),
    // Assigned to a name that says the vendor; elsewhere the same shape is only a keyword = value secret.
    { text: 'DD_API_KEY=9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c', expect: [['DATADOG_KEY', '9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c']] },
    { text: 'MONITORING_API_KEY=9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c', expect: [['GENERIC_SECRET', '9f2c4e1a7b3d8f6e0c5a2b9d4e7f1a3c']] },
    neg('dp.pt.short hvs.xxxxxxxxxxxxxxxxxxxxxxxx SG.a.b datadog_site: datadoghq.eu'),
  ],
  netrc: [
    { text: 'machine api.example.com\n  login deploy\n  password Rb1Xc6Vz3K\n', expect: [['GENERIC_SECRET', 'Rb1Xc6Vz3K']] },
    neg('machine api.example.com login deploy password $NETRC_PASSWORD; the login page asks for a password twice'),
  ],
  jwt_base64: [
    pos('JWT', Buffer.from(JWT).toString('base64'), 'token: ', '\n'),
    pos('JWT', Buffer.from(`${JWT}\n`).toString('base64'), '"token": "', '"'),
    neg(`${Buffer.from('eyJhbGciOiJIUzI1NiJ9 is a header only, not a token').toString('base64')} ZXlKaGJHY2lPaUpJVXpJMU5pSjk=`),
  ],
  jwt: [
    pos('JWT', JWT),
    neg('eyJhbGciOiJIUzI1NiJ9 alone; eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxIn0.sig (header without alg); eyJhbGciOiJIUzI1NiJ9.bm90anNvbg.sig'),
  ],
  email: [
    pos('EMAIL', 'john.doe+tag@example.co.uk'),
    pos('EMAIL', 'jane_o-neil@mail.acme-corp.com', 'mailto:', ''),
    neg('icon@2x.png @Component user@localhost npm i @scope/pkg git@github.com:acme/x.git a@b.c .@x.com'),
  ],
  payment_card: [
    pos('CARD_NUMBER', '4242424242424242'),
    pos('CARD_NUMBER', '5555 5555 5555 4444'),
    pos('CARD_NUMBER', '3782-822463-10005'),
    pos('CARD_NUMBER', '6011 1111 1111 1117'),
    pos('CARD_NUMBER', '2223003122003222'),
    pos('CARD_NUMBER', '3566002020360505'),
    pos('CARD_NUMBER', '30569309025904'),
    { text: 'on 2024 4111 1111 1111 1111 we paid', expect: [['CARD_NUMBER', '4111 1111 1111 1111']] },
    neg('4242424242424241 (Luhn) 1234567890123452 (no issuer) 4242 4242-4242 4242 (mixed separators) 42424242424242424 (17, Visa) 1717171717171'),
    neg('v4242424242424242 4242424242424242x 4242_4242_4242_4242'),
  ],
  iban: [
    pos('IBAN', 'DE89 3704 0044 0532 0130 00'),
    pos('IBAN', 'GB82WEST12345698765432'),
    pos('IBAN', 'FR14 2004 1010 0505 0001 3M02 606'),
    pos('IBAN', 'NL91ABNA0417164300'),
    neg('GB82 WEST 1234 5698 7654 33 (checksum) DE89 3704 0044 0532 0130 0 (short) XX89370400440532013000 (country) DE8937040044053201300012'),
  ],
  us_ssn: [
    pos('US_SSN', '123-45-6780'),
    pos('US_SSN', '536 22 1234'),
    { text: 'my SSN: 536221234', expect: [['US_SSN', '536221234']] },
    neg('078-05-1120 666-12-3456 900-12-3456 123-00-4567 123-45-0000 536221234 (no context) 123-45-6780-12 2023-45-6789'),
  ],
  uk_nino: [pos('UK_NINO', 'AB123456C'), pos('UK_NINO', 'JG 10 37 52 A'), neg('QQ123456C GB123456A AB123456E DA123456A AB12345C')],
  es_dni: [pos('ES_DNI', '12345678Z'), pos('ES_DNI', 'X1234567L'), neg('12345678A X1234567A 123456789Z')],
  de_steuer_id: [
    { text: 'Steuer-ID: 86095742719', expect: [['DE_TAX_ID', '86095742719']] },
    neg('Steuer-ID: 86095742718 (check digit)'),
    neg('the number 86095742719 without a context word'),
    neg('Steuer-ID 12345678901 (digit rule)'),
  ],
  phone_opt_in: [
    { text: 'call me at +1 415 555 2671 tomorrow', expect: [['PHONE_NUMBER', '+1 415 555 2671']], settings: { phone: { enabled: true, requireContext: true } } },
    { text: 'phone: (415) 555-2671', expect: [['PHONE_NUMBER', '(415) 555-2671']], settings: { phone: { enabled: true, requireContext: true } } },
    neg('call me at +1 415 555 2671 tomorrow'),
    // The digit bounds, counted over the token and what follows it: 7 and 15 digits count, 16 do not.
    { text: 'call 555-1234 today', expect: [['PHONE_NUMBER', '555-1234']], settings: { phone: { enabled: true, requireContext: true } } },
    { text: 'call +44 20 7946 0958 123 today', expect: [['PHONE_NUMBER', '+44 20 7946 0958 123']], settings: { phone: { enabled: true, requireContext: true } } },
    neg('call +44 20 7946 0958 1234 today', { phone: { enabled: true, requireContext: true } }),
    neg('ts 1717171717171 build 20240531.3 and +1 415 555 2671 (no context)', { phone: { enabled: true, requireContext: true } }),
    // A bare run of digits without '+' is not a phone number, whatever follows it (separators after the last
    // digit are not between digits): the same as at the text's end.
    neg('call me at 5551234567 today', { phone: { enabled: true, requireContext: true } }),
    neg('call me at 5551234567', { phone: { enabled: true, requireContext: true } }),
    neg('phone log: 1717171717 (s), 2024053101. done', { phone: { enabled: true, requireContext: true } }),
    { text: 'call me at 555 123 4567 (cell) today', expect: [['PHONE_NUMBER', '555 123 4567']], settings: { phone: { enabled: true, requireContext: true } } },
  ],
  ip_opt_in: [
    { text: 'the server ip is 8.8.4.4.', expect: [['IP_ADDRESS', '8.8.4.4']], settings: { ip: { enabled: true, requireContext: true, includePrivate: false } } },
    neg('the server ip is 8.8.4.4'),
    // The private ranges by both leading octets' values: 172.16-31 only.
    { text: 'server ip 172.32.0.1, host 172.31.255.9, ip 100.64.1.2', expect: [['IP_ADDRESS', '172.32.0.1'], ['IP_ADDRESS', '100.64.1.2']], settings: { ip: { enabled: true, requireContext: true, includePrivate: false } } },
    neg('host 192.168.1.10, then a long sentence so no context word is near: version 1.2.3.4; ip 1.2.3.4.5, ip 256.1.1.1, ip 01.2.3.4', { ip: { enabled: true, requireContext: true, includePrivate: false } }),
  ],
};

for (const [name, cases] of Object.entries(TABLES)) {
  describe(`detector ${name}`, () => {
    cases.forEach((c, k) => {
      it(`case ${k}: ${c.expect.length === 0 ? 'no finding' : c.expect.map((e) => e[0]).join(', ')}`, () => {
        const found = buildScanner(c.settings).scan(c.text);
        assert.deepEqual(
          found.map((f) => [f.type, c.text.slice(f.start, f.end)]),
          c.expect.map((e) => [...e]),
        );
      });
    });
  });
}

describe('technical text', () => {
  it('has no findings in a code- and ops-heavy prompt (GUIDs, hashes, versions, base64, AWS names, doc examples)', () => {
    const text = readFileSync(new URL('../fixtures/detectors/technical.txt', import.meta.url), 'utf8');
    const found = buildScanner({ phone: { enabled: true, requireContext: true }, ip: { enabled: true, requireContext: true, includePrivate: false } }).scan(text);
    assert.deepEqual(found.map((f) => `${f.type}: ${text.slice(f.start, f.end)}`), []);
  });
});

describe('findings', () => {
  it('carry detector id, type and offsets only', () => {
    const [f] = buildScanner().scan(`x ${GH} y`);
    assert.deepEqual(Object.keys(f ?? {}).sort(), ['detector', 'end', 'start', 'type']);
  });
});
