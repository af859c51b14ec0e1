// Encoded and obfuscated secrets (issue 15 item 3): the normalising view (hidden characters removed, fullwidth
// forms, Unicode hyphens and spaces folded) and the decoding layer (base64, base64url, percent escapes). Each
// finding's offsets are into the original text: a folded finding spans the hidden characters inside it, a
// decoded finding spans the whole encoded run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base64Run } from '../../extproc/detectors/encoded-runs.ts';
import { normalView } from '../../extproc/detectors/normal-view.ts';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { base62 as b62, crc32 } from '../helpers/token-checksums.ts';

const RAND30 = 'Zq8Lw3Nx7Pk2Rv5Tm9Yb4Hc6Jd1Fg0';
const GH = `ghp_${RAND30}${b62(crc32(RAND30))}`;
const OPENAI = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zQ7mK2pL9';
const AWS_ID = 'AKIAQ3EGRT5YVXNPA4KM';
const ZW = '\u200b';

const scanner = buildScanner({});
/** The findings as [detector, original text of the span]. */
const found = (text: string): [string, string][] => scanner.scan(text).map((f) => [f.detector, text.slice(f.start, f.end)]);

describe('the normalising view', () => {
  const cases: readonly [string, string, string, string][] = [
    ['a zero-width space inside an sk- key', `key: sk-${ZW}proj-${OPENAI.slice(8)} ok`, 'secret.openai_api_key', `sk-${ZW}proj-${OPENAI.slice(8)}`],
    ['zero-width joiners inside a ghp_ token', `token ${GH.slice(0, 10)}\u200d${GH.slice(10, 20)}\u200c${GH.slice(20)} thanks`, 'secret.github_token', `${GH.slice(0, 10)}\u200d${GH.slice(10, 20)}\u200c${GH.slice(20)}`],
    ['a word joiner and a BOM inside an AWS key id', `id ${AWS_ID.slice(0, 4)}\u2060${AWS_ID.slice(4, 12)}\ufeff${AWS_ID.slice(12)} end`, 'secret.aws_access_key_id', `${AWS_ID.slice(0, 4)}\u2060${AWS_ID.slice(4, 12)}\ufeff${AWS_ID.slice(12)}`],
    ['soft hyphens inside an sk- key', `key sk-proj-${OPENAI.slice(8, 20)}\u00ad${OPENAI.slice(20)} end`, 'secret.openai_api_key', `sk-proj-${OPENAI.slice(8, 20)}\u00ad${OPENAI.slice(20)}`],
    ['bidi controls inside an AWS key id', `id ${AWS_ID.slice(0, 6)}\u202e${AWS_ID.slice(6)}\u202c end`, 'secret.aws_access_key_id', `${AWS_ID.slice(0, 6)}\u202e${AWS_ID.slice(6)}`],
    ['a fullwidth ＠ in an email', 'write to ana.lima\uff20example.com today', 'pii.email', 'ana.lima\uff20example.com'],
    ['fullwidth letters of an email domain', 'write to ana\uff20\uff45xample.com today', 'pii.email', 'ana\uff20\uff45xample.com'],
    ['non-breaking hyphens in a US SSN', 'my SSN is 536\u201122\u20114187 thanks', 'pii.us_ssn', '536\u201122\u20114187'],
    ['en dashes in a US SSN', 'my SSN is 536\u201322\u20134187 thanks', 'pii.us_ssn', '536\u201322\u20134187'],
  ];
  for (const [name, text, detector, span] of cases) {
    it(`finds ${name}, the span in the original text`, () => {
      assert.deepEqual(found(text), [[detector, span]]);
    });
  }

  // Default-ignorable characters a red-team review hid inside keys (the plain value was found, this was not).
  const keys: readonly [string, string][] = [
    [OPENAI, 'secret.openai_api_key'],
    [AWS_ID, 'secret.aws_access_key_id'],
    [GH, 'secret.github_token'],
  ];
  const ignorables: readonly [string, number][] = [
    ['a combining grapheme joiner', 0x034f],
    ['an Arabic letter mark', 0x061c],
    ['a Mongolian vowel separator', 0x180e],
    ['a Hangul filler', 0x3164],
    ['a halfwidth Hangul filler', 0xffa0],
    ['a Hangul choseong filler', 0x115f],
    ['a Hangul jungseong filler', 0x1160],
    ['variation selector 1', 0xfe00],
    ['variation selector 16', 0xfe0f],
    ['a left-to-right isolate', 0x2066],
    ['a pop directional isolate', 0x2069],
    ['a tag character', 0xe0041],
    ['the cancel tag', 0xe007f],
    ['a supplementary variation selector', 0xe0100],
    ['the last supplementary variation selector', 0xe01ef],
  ];
  ignorables.forEach(([name, cp], k) => {
    const [key, detector] = keys[k % keys.length] as [string, string];
    const hidden = `${key.slice(0, 9)}${String.fromCodePoint(cp)}${key.slice(9)}`;
    it(`finds ${detector} with ${name} (U+${cp.toString(16).toUpperCase()}) inside, the span in the original text`, () => {
      assert.deepEqual(found(`value: ${hidden} ok`), [[detector, hidden]]);
    });
  });

  const card = (sep: string): string => ['4115', '9375', '2158', '0545'].join(sep);
  for (const [name, sep] of [['narrow no-break spaces (French)', '\u202f'], ['thin spaces', '\u2009'], ['figure spaces', '\u2007'], ['hair spaces', '\u200a']]) {
    it(`finds a card number grouped with ${name}`, () => {
      assert.deepEqual(found(`carte ${card(sep as string)} merci`), [['pii.payment_card', card(sep as string)]]);
    });
  }

  it('tag characters (surrogate pairs) inside a key: the span covers them and a mask removes them', () => {
    const tags = '\u{e0041}\u{e0042}';
    const key = `${AWS_ID.slice(0, 4)}${tags}${AWS_ID.slice(4, 10)}\u{e007f}\ufe0f${AWS_ID.slice(10)}`;
    const text = `😀 id \u{e0043}${key}\u{e0044} end`;
    const [f, ...rest] = scanner.scan(text);
    assert.ok(f !== undefined);
    assert.deepEqual(rest, []);
    assert.equal(f.detector, 'secret.aws_access_key_id');
    assert.equal(text.slice(f.start, f.end), key);
    assert.equal(text.slice(0, f.start) + '<X>' + text.slice(f.end), '😀 id \u{e0043}<X>\u{e0044} end');
  });

  it('removes every default-ignorable code point and folds every Unicode space; keeps every other character', () => {
    // Unicode's own properties (the runtime's ICU) as the reference, over every code point but lone surrogates.
    const ignorable = /^\p{Default_Ignorable_Code_Point}$/u;
    const space = /^\p{Space_Separator}$/u;
    const folded = (ch: string, c: number): string | undefined => {
      if (ignorable.test(ch)) return '';
      if (space.test(ch)) return ' ';
      if (c >= 0x2010 && c <= 0x2015) return '-';
      if (c === 0x2028 || c === 0x2029) return '\n';
      if (c >= 0xff01 && c <= 0xff5e) return String.fromCharCode(c - 0xfee0);
      return undefined;
    };
    const wrong: string[] = [];
    for (let c = 0x80; c <= 0x10ffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCodePoint(c);
      const want = folded(ch, c);
      const view = normalView(`é${ch}x`);
      const got = view === undefined ? undefined : view.text.slice(1, -1);
      if (got !== want) wrong.push(`U+${c.toString(16).toUpperCase()}: ${JSON.stringify(got)} for ${JSON.stringify(want)}`);
    }
    assert.deepEqual(wrong.slice(0, 20), []);
  });

  it('masking the reported span removes the hidden characters with the value', () => {
    const text = `a ${ZW}sk-${ZW}proj-${OPENAI.slice(8)}${ZW} b`;
    const [f] = scanner.scan(text);
    assert.ok(f !== undefined);
    const masked = text.slice(0, f.start) + '<X>' + text.slice(f.end);
    assert.equal(masked, `a ${ZW}<X>${ZW} b`);
  });

  it('keeps offsets right after astral characters and in scanSegments', () => {
    const text = `😀😀 ${OPENAI.slice(0, 3)}${ZW}${OPENAI.slice(3)} é`;
    const [f] = scanner.scanSegments([{ path: ['x'], text: 'plain', role: 'user' }, { path: ['y'], text, role: 'user' }]);
    assert.ok(f !== undefined);
    assert.equal(f.segment, 1);
    assert.equal(text.slice(f.start, f.end), `${OPENAI.slice(0, 3)}${ZW}${OPENAI.slice(3)}`);
  });

  it('non-ASCII text without hidden characters is scanned as it is', () => {
    const text = `Größe: ${OPENAI} — fin`;
    assert.deepEqual(found(text), [['secret.openai_api_key', OPENAI]]);
  });
});

describe('the decoding layer', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const b64url = (s: string): string => Buffer.from(s).toString('base64url');
  const cases: readonly [string, string, string][] = [
    ['base64 of a credential line', `aws_access_key_id = ${AWS_ID}\n`, 'secret.aws_access_key_id'],
    ['base64 of an sk- key alone', OPENAI, 'secret.openai_api_key'],
  ];
  for (const [name, plain, detector] of cases) {
    it(`finds ${name} and reports the encoded run`, () => {
      const run = b64(plain);
      assert.deepEqual(found(`config: ${run} end`), [[detector, run]]);
    });
  }

  it('finds base64url of an env line (no padding, - and _ alphabet)', () => {
    const run = b64url(`export OPENAI_API_KEY=${OPENAI}??>`);
    assert.match(run, /[-_]/);
    assert.deepEqual(found(`blob=${run}`), [['secret.openai_api_key', run]]);
  });

  it('finds a percent-encoded sk- key and reports the encoded token', () => {
    const enc = OPENAI.replace(/-/g, '%2D');
    assert.deepEqual(found(`https://x.example/cb?key=${enc}&a=1`), [['secret.openai_api_key', enc]]);
    const all = Array.from({ length: OPENAI.length }, (_, k) => `%${OPENAI.charCodeAt(k).toString(16).toUpperCase()}`).join('');
    assert.deepEqual(found(`q=${all}`), [['secret.openai_api_key', all]]);
  });

  it('decodes a token encoded twice or three times (%252D: a URL in a query parameter), not four', () => {
    const once = (s: string): string => Array.from(s, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
    const pct = (s: string): string => s.replace(/%/g, '%25');
    const one = once(`key=${OPENAI}`);
    for (const enc of [one, pct(one), pct(pct(one))]) assert.deepEqual(found(`next=${enc}&a=1`), [['secret.openai_api_key', enc]]);
    assert.deepEqual(found(`next=${pct(pct(pct(one)))}&a=1`), []);
    assert.deepEqual(found('to=ana.lima%252540example.com&x=1'), [['pii.email', 'ana.lima%252540example.com']]);
  });

  it('finds a percent-encoded email (%40)', () => {
    assert.deepEqual(found('to=ana.lima%40example.com&x=1'), [['pii.email', 'ana.lima%40example.com']]);
  });

  // The first 8 groups decide whether a run is decoded at all: text in any script passes (UTF-8 checked byte by
  // byte), random bytes do not.
  const leads: readonly [string, string][] = [
    ['Latin-1 letters', 'Schlüssel für München: '],
    ['Japanese', '本番環境のキーです: '],
    ['emoji', '🔑🔑🔑🔑🔑🔑 key: '],
    ['Cyrillic after a newline', '\nключ доступа = '],
  ];
  for (const [name, lead] of leads) {
    it(`finds a key in base64 whose decoded text starts with ${name}`, () => {
      const run = b64(`${lead}${OPENAI}\n`);
      assert.deepEqual(found(`blob ${run} end`), [['secret.openai_api_key', run]]);
      const url = b64url(`${lead}aws_access_key_id = ${AWS_ID}`);
      assert.deepEqual(found(`k=${url}`), [['secret.aws_access_key_id', url]]);
    });
  }

  it('finds a key in a PowerShell -EncodedCommand (base64 of UTF-16LE)', () => {
    const run = Buffer.from(`$env:OPENAI_API_KEY = '${OPENAI}'; python agent.py`, 'utf16le').toString('base64');
    assert.deepEqual(found(`powershell -NoProfile -EncodedCommand ${run}`), [['secret.openai_api_key', run]]);
    const aws = Buffer.from(`Set-AWSCredential -AccessKey ${AWS_ID} -SecretKey x -StoreAs ci`, 'utf16le').toString('base64');
    assert.deepEqual(found(`powershell -enc ${aws}`), [['secret.aws_access_key_id', aws]]);
  });

  it('leaves base64 of random bytes alone however its text ends', () => {
    // Random leading bytes, then a key: not text by the first 24 bytes (nor by printableText's share).
    for (let seed = 1; seed <= 50; seed++) {
      const noise = Buffer.from(Array.from({ length: 24 }, (_, k) => (seed * 131 + k * 197 + ((k * k * seed) % 251)) & 255));
      const run = Buffer.concat([noise, Buffer.from(` ${OPENAI}`)]).toString('base64');
      const run16 = Buffer.concat([noise, Buffer.from(` ${OPENAI}`, 'utf16le')]).toString('base64');
      const text = new TextDecoder().decode(noise);
      const units = Array.from(text, (c) => c.charCodeAt(0));
      const printable = units.filter((c) => c >= 32 && c !== 0xfffd && !(c >= 0x7f && c < 0xa0)).length;
      assert.ok(printable < units.length * 0.9, `seed ${seed}: the noise must not read as text`);
      assert.deepEqual(found(`x ${run} y ${run16} z`), [], `seed ${seed}`);
    }
  });

  it('leaves binary base64 and short runs alone', () => {
    const binary = Buffer.from(Array.from({ length: 60 }, (_, k) => (k * 37 + 128) & 255)).toString('base64');
    assert.deepEqual(found(`png ${binary} end`), []);
    assert.deepEqual(found(`x ${b64('AKIA1234')} y`), []);
  });

  it('decodes one level only: base64 of base64 of a key is not a finding', () => {
    const twice = b64(b64(`aws_access_key_id = ${AWS_ID}\n`));
    assert.deepEqual(found(`v ${twice} w`), []);
  });

  it('decodes the text of a base64 data: URL written in a prompt', () => {
    const run = b64(`AWS_ACCESS_KEY_ID=${AWS_ID}\nAWS_REGION=eu-west-1\n`);
    assert.deepEqual(found(`see data:text/plain;base64,${run} attached`), [['secret.aws_access_key_id', run]]);
  });

  it('decodes escapes as UTF-8 and folds the decoded text: a percent-encoded fullwidth @ and a zero-width space in a base64 env line', () => {
    // %EF%BC%A0 is U+FF20 in UTF-8; read as Latin-1 bytes it was three unrelated characters.
    const mail = 'ana.lima%EF%BC%A0example.com';
    for (const pad of ['', ' ', '  ', '   ']) assert.deepEqual(found(`to=${pad}${mail}&x=1`), [['pii.email', mail]]);
    // Past the first 8 groups, which decide whether a run is decoded at all (random tokens are refused there).
    const run = b64(`OPENAI_API_KEY=${OPENAI.slice(0, 20)}${ZW}${OPENAI.slice(20)}\n`);
    assert.deepEqual(found(`blob ${run} end`), [['secret.openai_api_key', run]]);
  });

  it('combines with the view: a zero-width space inside a base64 run', () => {
    const run = b64(`key=${OPENAI}\n`);
    const text = `x ${run.slice(0, 10)}${ZW}${run.slice(10)} y`;
    assert.deepEqual(found(text), [['secret.openai_api_key', `${run.slice(0, 10)}${ZW}${run.slice(10)}`]]);
  });
});

describe('the decoding layer: base64 wrapped in lines', () => {
  /** Base64 of the text in lines of `width` characters, as `base64` (76) and `openssl base64` (64) print it. */
  const wrap = (plain: string, width: number, eol = '\n', indent = ''): string =>
    (Buffer.from(plain).toString('base64').match(new RegExp(`.{1,${width}}`, 'g')) ?? []).map((l) => `${indent}${l}`).join(eol);
  // The key starts 50 bytes in, so its base64 crosses the end of the first line at both widths.
  const env = `# staging environment, do not share\nOPENAI_API_KEY=${OPENAI}\nDB_HOST=db.internal\n`;

  const shapes: readonly [string, number, string, string][] = [
    ['GNU base64 (76 columns)', 76, '\n', ''],
    ['openssl base64 (64 columns), CRLF line ends', 64, '\r\n', ''],
    ['a YAML block scalar (indented lines)', 76, '\n', '    '],
  ];
  for (const [name, width, eol, indent] of shapes) {
    it(`finds a key cut by a line break in ${name}, and reports the whole block`, () => {
      const block = wrap(env, width, eol, indent);
      assert.ok(block.split(eol).length >= 2);
      // Cut at a line break, the key is in no single line's decoded text.
      for (const line of block.split(eol)) assert.ok(!Buffer.from(line.trim(), 'base64').toString('utf8').includes(OPENAI));
      const text = `config:${eol}${block}${eol}thanks`;
      assert.deepEqual(found(text), [['secret.openai_api_key', block.trimStart()]]);
    });
  }

  it('takes in the lines before the one the scan stops in', () => {
    const block = wrap(env, 64);
    const lines = block.split('\n');
    assert.deepEqual(lines.map((l) => l.length), [64, 64, 32]);
    const second = 65 + 5;
    assert.deepEqual(base64Run(block, second, 0), { start: 0, end: block.length, lines: 3 });
    // Not before `from` (the end of the run looked at before).
    assert.equal(base64Run(block, second, 65).start, 65);
    // The shorter last line is reached from the lines before it, not on its own.
    assert.deepEqual(base64Run(block, 135, 0), { start: 130, end: block.length, lines: 1 });
  });

  it('joins only lines of one width, the last no longer, ending with their line', () => {
    const line = (n: number): string => Buffer.from('x'.repeat(n)).toString('base64');
    const a = line(48); // 64 characters
    assert.equal(a.length, 64);
    // A shorter line before is not a wrapped line's start; a longer one after is not its continuation.
    assert.equal(base64Run(`${line(45)}\n${a}`, 70, 0).lines, 1);
    assert.equal(base64Run(`${a}\n${line(51)}`, 3, 0).lines, 1);
    // A word on the next line that does not end it, or does not close its groups, is not taken in.
    assert.deepEqual(base64Run(`${a}\nBest regards`, 3, 0), { start: 0, end: 64, lines: 1 });
    assert.deepEqual(base64Run(`${a}\nThanks\n`, 3, 0), { start: 0, end: 64, lines: 1 });
    // Under MIN_WRAP (48) characters, a line is not wrapped output.
    const short = line(33); // 44 characters
    assert.equal(base64Run(`${short}\n${short}`, 3, 0).lines, 1);
    // The last line with its padding.
    assert.deepEqual(base64Run(`${a}\n${a}\nQUI=`, 3, 0), { start: 0, end: 64 * 2 + 2 + 4, lines: 3 });
    // A last line whose padding does not close its group is not base64's.
    assert.deepEqual(base64Run(`${a}\n${a}\nQUJD==`, 3, 0), { start: 0, end: 64 * 2 + 1, lines: 2 });
  });

  it('decodes random wrapped text whole, at any width tools use', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const width = [64, 76][seed % 2] as number;
      const filler = 'lorem ipsum dolor sit amet '.repeat(seed % 7);
      const block = wrap(`${filler}key=${OPENAI}\n${filler}`, width);
      assert.deepEqual(found(`b64:\n${block}\n`), [['secret.openai_api_key', block]], `seed ${seed}`);
    }
  });
});
