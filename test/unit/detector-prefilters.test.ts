// The scanner's shortcuts lose nothing: (1) the hot loop reads the text in 64K windows of Latin-1 bytes, so
// values straddling a window edge, and code units whose low byte looks like a trigger or a digit, are checked;
// (2) number detectors' prefilters (digit window, group counts, the character before, a single group's digit
// count and neighbours) only skip tokens the detector would reject: a reference that tokenises independently
// and offers every token to every number detector, unfiltered, finds exactly what the scanner finds, on seeded
// random text full of near-misses;
// (3) the pair table of the hot loop (a trigger looked up by the character before or after it, a keyword by its
// least likely pair of characters and the character after it) only skips what the detector's masks reject: a
// reference that calls every char detector at every trigger its masks admit and every keyword detector at every
// case-insensitive occurrence finds exactly what the scanner finds, across window edges; the masks that only
// save calls (`before`, the two characters before a trigger; the header names' last letters as `prev`) are
// left out of the reference, so they are shown to lose nothing; (4) the context-word lookup (one table
// load per character) finds what a plain search of every word at every place finds; (5) the decoding layer's
// byte test at a lower-case letter before an upper-case one passes every place inside a base64 run of
// MIN_BASE64_RUN characters or more.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contextWords, hasContextWord, isWordFold, wordsByLength } from '../../extproc/detectors/chars.ts';
import type { CharDetector, Detector, KeywordDetector, NumberDetector, NumberToken } from '../../extproc/detectors/detector.ts';
import { buildDetectors, buildScanner, type DetectorSettings } from '../../extproc/detectors/registry.ts';
import { normalView, originalIndex, type NormalView } from '../../extproc/detectors/normal-view.ts';
import { Scanner } from '../../extproc/detectors/scanner.ts';
import { DEFAULT_SCAN_LIMITS } from '../../extproc/detectors/scan-limits.ts';
import { mayBeRunBytes, MIN_BASE64_RUN } from '../../extproc/detectors/encoded-runs.ts';
import { isPasswordPlaceholder } from '../../extproc/detectors/url-credentials.ts';

const SETTINGS: DetectorSettings = {
  phone: { enabled: true, requireContext: true },
  ip: { enabled: true, requireContext: true, includePrivate: false },
  limits: { ...DEFAULT_SCAN_LIMITS, maxScanMs: 60_000 },
};
const scanner = buildScanner(SETTINGS);
const WINDOW = 1 << 16;

const SAMPLES: readonly (readonly [string, string])[] = [
  ['EMAIL', 'write to ana.lima@example.com'],
  ['CARD_NUMBER', 'card 4111 1111 1111 1111'],
  ['CARD_NUMBER', 'card 4242424242424242'],
  ['IBAN', 'iban DE89 3704 0044 0532 0130 00'],
  ['US_SSN', 'ssn 536-22-1234'],
  ['UK_NINO', 'nino JG 10 37 52 A'],
  ['ES_DNI', 'dni X1234567L'],
  ['PHONE_NUMBER', 'call me at +1 415 555 2671'],
  ['IP_ADDRESS', 'the server ip is 8.8.4.4'],
  ['AWS_ACCESS_KEY', 'id AKIA4Q3EGRIVYW6TQSPW'],
  ['URL_PASSWORD', 'postgres://admin:s3cr3tP4ss@db.example.com'],
  ['GCP_API_KEY', 'key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe'],
  ['BEARER_TOKEN', 'curl -H "Authorization: Bearer abcDEF123456ghiJKL789"'],
  // A keyword alone (no header line around it), so its marked pair and the character after it meet the edge.
  ['BEARER_TOKEN', 'bearer abcDEF123456ghiJKL789'],
  ['DATABRICKS_TOKEN', 'token dapi8f3c2a1b9d7e6f5a4b3c2d1e0f9a8b7c'],
  ['PRIVATE_KEY', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7Qm2Lp9Rt4Vn6\n-----END EC PRIVATE KEY-----'],
];

const shape = (text: string, base: number): string[] =>
  scanner.scan(text).map((f) => `${f.type}@${f.start - base}-${f.end - base}`);

describe('window edges and non-ASCII code units', () => {
  // 'ı' (U+0131) reads as '1', 'ŀ' (U+0140) as '@', 'ł' (U+0142) as 'B' when only the low byte is kept.
  for (const [fillName, fillChar] of [['ASCII', 'x'], ['non-ASCII look-alikes', 'ıŀł']] as const) {
    it(`every sample is found at every offset across a window edge (${fillName} filler)`, () => {
      for (const [type, sample] of SAMPLES) {
        const alone = shape(` ${sample} `, 0);
        assert.ok(alone.some((f) => f.startsWith(`${type}@`)), `${sample} must be a positive on its own`);
        for (const edge of [WINDOW, 2 * WINDOW]) {
          for (let at = edge - sample.length - 2; at <= edge + 1; at++) {
            const before = fillChar.repeat(Math.ceil(at / fillChar.length)).slice(0, at - 1);
            const text = `${before} ${sample} ${fillChar.repeat(8)}`;
            assert.deepEqual(shape(text, at - 1), alone, `${type} at ${at} around ${edge}`);
          }
        }
      }
    });
  }

  it('a code unit whose low byte is a trigger or a digit is not one', () => {
    const ascii = 'mail ana@example.com, card 4111 1111 1111 1111';
    assert.equal(scanner.scan(ascii).length, 2);
    const alike = ascii.replaceAll('1', 'ı').replaceAll('@', 'ŀ');
    assert.deepEqual(scanner.scan(alike), []);
    assert.deepEqual(scanner.scan(`${'ı'.repeat(WINDOW + 5)}ŀŀ${'ı'.repeat(40)}`), []);
  });

  it('a 7-digit DNI-like value at the very start of the text has no NIE letter (no finding at offset -1)', () => {
    const letter = 'TRWAGMYFPDXBNJZSQVHLCKE'.charAt(1234567 % 23);
    const found = scanner.scan(`1234567${letter} and X1234567${letter}`);
    assert.deepEqual(found.map((f) => [f.type, f.start]), [['ES_DNI', 13]]);
  });
});

/** Hits as the scanner reports them: sorted, overlapping ones merged, as "start-end". */
function mergedSpans(hits: [number, number][]): string[] {
  hits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: [number, number][] = [];
  for (const h of hits) {
    const last = merged[merged.length - 1];
    if (last !== undefined && h[0] < last[1]) last[1] = Math.max(last[1], h[1]);
    else merged.push([h[0], h[1]]);
  }
  return merged.map(([s, e]) => `${s}-${e}`);
}

// Reference: digit groups joined by single ' ', '-' or '.' between digits, found by a regexp; every token is
// offered to the detector; overlapping hits of one detector merge as the scanner merges them.

function referenceHits(det: NumberDetector, text: string): string[] {
  const hits: [number, number][] = [];
  for (const m of text.matchAll(/\d+(?:[ .-]\d+)*/g)) {
    const starts: number[] = [];
    const ends: number[] = [];
    for (const g of m[0].matchAll(/\d+/g)) {
      starts.push(m.index + g.index);
      ends.push(m.index + g.index + g[0].length);
    }
    assert.ok(starts.length <= 24, 'generator keeps tokens under the scanner window');
    const tok: NumberToken = {
      text,
      start: m.index,
      end: m.index + m[0].length,
      starts,
      ends,
      count: starts.length,
      digits: m[0].replace(/\D/g, '').length,
    };
    det.onNumber(tok, (s, e) => hits.push([s, e]));
  }
  return mergedSpans(hits);
}

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const PIECES = [
  'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'DE89370400440532013000', '4111 1111 1111 1111',
  '3782-822463-10005', '536-22-1234', '536 22 1234', '536221234', 'AB123456C', 'JG 10 37 52 A', '12345678Z',
  'X1234567L', '86095742719', '86 095 742 719', '+1 415 555 2671', 'call +14155552671,', '(4155552671)', '(415) 555-2671', '415-555-2671', '8.8.4.4',
  '1.2.3.4.5', '192.168.1.10', '2024-01-15', '9.5', 'v1.2.3', 'ssn', 'SSN:', 'call', 'phone:', 'ip', 'server',
  'Steuer-ID', 'tax id', 'DE', 'GB', 'AB', 'X', 'Y', 'Z', 'x', '+', '(', ')', '-', '.', ',', 'ñ', 'é',
];
const DIGITS = '0123456789';

function randomText(next: () => number, parts: number): string {
  let out = '';
  let run = 0;
  for (let k = 0; k < parts; k++) {
    const r = next();
    if (r < 0.45) {
      out += PIECES[Math.floor(next() * PIECES.length)] ?? '';
      run = 0;
    } else if (r < 0.8 && run < 5) {
      const n = 1 + Math.floor(next() * 12);
      for (let q = 0; q < n; q++) out += DIGITS.charAt(Math.floor(next() * 10));
      run++;
    } else {
      out += ' word ';
      run = 0;
      continue;
    }
    out += ' -.'.charAt(Math.floor(next() * 3)) + (next() < 0.5 ? '' : ' ');
  }
  return out;
}

describe('number-detector prefilters are sound', () => {
  const numberDetectors = buildDetectors(SETTINGS).filter((d): d is NumberDetector => d.kind === 'number');

  it('covers every built-in number detector with at least one prefilter or a digit floor', () => {
    assert.deepEqual(
      numberDetectors.map((d) => d.id).sort(),
      ['pii.de_steuer_id', 'pii.es_dni', 'pii.iban', 'pii.ip_address', 'pii.payment_card', 'pii.phone_number', 'pii.uk_nino', 'pii.us_ssn'],
    );
  });

  it('a number detector is called only with tokens its digit window, group counts and character before admit', () => {
    const calls: { digits: number; count: number; prev: number }[] = [];
    const spy: NumberDetector = {
      kind: 'number',
      id: 'test.spy',
      type: 'SPY',
      maxLength: 64,
      minDigits: 4,
      maxDigits: 12,
      groupCounts: [1, 4],
      prev: (c) => c === 32,
      onNumber(tok) {
        calls.push({ digits: tok.digits, count: tok.count, prev: tok.start > 0 ? tok.text.charCodeAt(tok.start - 1) : 32 });
      },
    };
    const single = new Scanner([spy], { limits: SETTINGS.limits ?? DEFAULT_SCAN_LIMITS });
    // Runs past the scanner's digit cap (32) included: those share one table entry. Commas end the tokens.
    const runs = [3, 4, 12, 13, 31, 32, 33, 40, 64].flatMap((n) => [` ${'7'.repeat(n)}`, ` x${'7'.repeat(n)}`]);
    const text = [...runs, ' 1.2.3.4', ' 10.20.30.40.50', ' 1234 5678 9012', ' 1.2.3.4444444444'].join(',');
    single.scan(text);
    assert.deepEqual(calls, [
      { digits: 4, count: 1, prev: 32 },
      { digits: 12, count: 1, prev: 32 },
      { digits: 4, count: 4, prev: 32 },
    ]);
  });

  it('a token of one group is passed only with a digit count in lone.digits and the neighbours lone.around admits', () => {
    const calls: string[] = [];
    const spy: NumberDetector = {
      kind: 'number',
      id: 'test.lone_spy',
      type: 'SPY',
      maxLength: 64,
      minDigits: 1,
      lone: { digits: [5, 9], around: (p, c) => p !== 35 && c !== 59 },
      onNumber(tok) {
        calls.push(tok.text.slice(tok.start, tok.end));
      },
    };
    const single = new Scanner([spy], { limits: SETTINGS.limits ?? DEFAULT_SCAN_LIMITS });
    // `#` before or `;` after a single group fails `around`; groups joined by a separator are not single.
    single.scan(['12345', '1234', '123456789;', '#123456789', '123456789', '12.345', '1 2', '7'.repeat(40), '55555'].join(', '));
    assert.deepEqual(calls, ['12345', '123456789', '12.345', '1 2', '55555']);
  });

  for (const det of numberDetectors) {
    it(`${det.id}: the scanner finds what the unfiltered reference finds`, () => {
      const single = new Scanner([det], { limits: SETTINGS.limits ?? DEFAULT_SCAN_LIMITS });
      const next = rng(0x9e3779b9 ^ det.id.length * 7919);
      let total = 0;
      for (let k = 0; k < 1000; k++) {
        const text = randomText(next, 40);
        const want = referenceHits(det, text);
        const got = single.scan(text).map((f) => `${f.start}-${f.end}`);
        assert.deepEqual(got, want, `${det.id} on ${JSON.stringify(text)}`);
        total += want.length;
      }
      assert.ok(total >= 10, `${det.id}: the random corpus must hold positives (found ${total})`);
    });
  }
});

/** A reference span `start-end` in a view, as the span of the original text from its first to its last character. */
const mapBack = (span: string, view: NormalView): string => {
  const [s, e] = span.split('-').map(Number) as [number, number];
  return `${originalIndex(view, s)}-${originalIndex(view, e - 1) + 1}`;
};

/** Detectors whose `prev` only saves calls (the detector rejects every other character there itself). */
const PREV_ONLY_SAVES_CALLS = new Set(['secret.header_credential']);

/**
 * Every call the scanner's masks admit, made without the pair table; hits merged as the scanner merges them.
 * `before` is not applied (nor `prev` where it only saves calls): those masks must lose nothing.
 */
function referenceCharHits(det: CharDetector | KeywordDetector, text: string): string[] {
  const hits: [number, number][] = [];
  const report = (s: number, e: number): void => void hits.push([s, e]);
  if (det.kind === 'char') {
    const fits = (chars: string | undefined, c: number): boolean => chars === undefined || chars.includes(String.fromCharCode(c & 127));
    const memo = new Map<string, number>();
    for (let i = 0; i < text.length; i++) {
      if (!det.triggers.includes(text.charAt(i))) continue;
      const pc = i > 0 ? text.charCodeAt(i - 1) : 0;
      const nc = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if ((!PREV_ONLY_SAVES_CALLS.has(det.id) && !fits(det.prev, pc)) || (det.next !== undefined && !fits(det.next, nc)) || (det.gate !== undefined && !det.gate(text, i))) continue;
      det.at(text, i, report, memo);
    }
  } else {
    // ASCII case folding only, written out (toLowerCase also folds letters such as U+212A KELVIN SIGN to 'k').
    const fold = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);
    // Every keyword at every place in any letter case, also those written in upper case (which the pair table
    // marks in that case only): the detector checks the case it needs.
    const words = det.keywords.map((w) => w.toLowerCase());
    for (let i = 0; i < text.length; i++) {
      for (const w of words) {
        let k = 0;
        while (k < w.length && fold(text.charCodeAt(i + k)) === w.charCodeAt(k)) k++;
        if (k === w.length) det.atKeyword(text, i, w, report);
      }
    }
  }
  return mergedSpans(hits);
}

// Near-misses and positives for the char and keyword detectors, in mixed case, with look-alike code units
// (U+0141 'Ł' reads as 'A', U+012D 'ĭ' as '-', U+0173 'ų' as 's') and digits next to triggers.
const CHAR_PIECES = [
  'AKIA4Q3EGRIVYW6TQSPW', 'akia', 'AKIA', 'Asia', 'ASIA', 'secret', 'SECRET', 'aws_secret_access_key=', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
  'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe', 'AIza', 'Bearer ', 'bearer', 'BASIC ', 'Basic dXNlcjpwYXNzd29yZDEyMw==', 'abcDEF123456ghiJKL789',
  'dapi8f3c2a1b9d7e6f5a4b3c2d1e0f9a8b7c', 'DAPI', 'dp.pt.', 'dp.', 'ATATT3', 'atatt3', 'AKCp', 'akcp', 'login', 'LOGIN ', 'password ',
  '-----BEGIN RSA PRIVATE KEY-----', '-----END RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEAx7Qm2Lp9Rt4Vn6Bc1Zk8Hs3', '--', '-', '—',
  'v1.0-', 'v1', 'hvs.', 'sk-', 'ghp_', 'xoxb-', 'SG.', 'glpat-', 'GR1348941', 'eyJ', 'ZXlK', 'Q~', 'sha256~', '://u:p@h', 'user@example.com',
  'password=', 'token: ', '"apiKey": "', 'X-Api-Key: ', 'curl -u ', 'var token string = "', 'val secret: String = ',
  '"api_token_2": "', 'password1 = ', '("db.password", "', "['api_token_2', '", '<password>', 'key="secret_2" value="',
  'token  = ', '"token" : "', 'env["TOKEN"] = "', "$cfg['password']=", 'secret ??= ', 'password .= ',
  '"credentials": "', "'secret_value' = '", 'COHERE_API_KEY=', `COHERE_API_KEY=q7Vd2KfR9mXw4TbL8pZc3NhY6sJg1UeA5oWi0BxE`, `"dd_api_key": "9f4c2e7a1b8d6053c4e9a2f7b1d8c6e3"`,
  `'twilio_secret': '9f4c2e7a1b8d6053c4e9a2f7b1d8c6e3'`, `"cohere_token":"q7Vd2KfR9mXw4TbL8pZc3NhY6sJg1UeA5oWi0BxE"`, '9f4c2e7a1b8d6053c4e9a2f7b1d8c6e3', 'mySecretString = "', '"cloudflare": "', '"jfrog" : "', 'creds = ', 'Ł', 'ĭ', 'ų', 'é', '1', '42', ' ', '\n', '=', ':', '"', "'",
];

function randomCharText(next: () => number, length: number): string {
  let out = '';
  while (out.length < length) {
    const p = CHAR_PIECES[Math.floor(next() * CHAR_PIECES.length)] ?? '';
    out += next() < 0.2 ? p.toUpperCase() : p;
    if (next() < 0.5) out += ' ';
  }
  return out;
}

describe('the pair table of the hot loop is sound', () => {
  const detectors = buildDetectors(SETTINGS).filter((d): d is CharDetector | KeywordDetector => d.kind === 'char' || d.kind === 'keyword');

  it('covers keyword detectors and detectors looked up by the character after their trigger', () => {
    assert.ok(detectors.some((d) => d.kind === 'keyword'));
    assert.ok(detectors.some((d) => d.kind === 'char' && d.next !== undefined && d.prev === undefined));
  });

  it('every char and keyword detector finds what the unfiltered reference finds, across window edges', () => {
    const next = rng(0x2545f491);
    // Texts longer than a window, so pieces straddle the edge at every alignment the generator makes. The
    // third is ASCII only: the hot loop then reads a stop's neighbours from its window bytes.
    const texts = [randomCharText(next, WINDOW + 4000), randomCharText(next, WINDOW + 4000), randomCharText(next, WINDOW + 4000).replace(/[^\t\n -~]/g, '~')];
    let total = 0;
    for (const det of detectors) {
      const single = new Scanner([det], { limits: SETTINGS.limits ?? DEFAULT_SCAN_LIMITS });
      for (const text of texts) {
        // The scanner reads a text with characters the normalising view folds (the em dash here) as its view.
        const view = normalView(text);
        const want = view === undefined ? referenceCharHits(det, text) : referenceCharHits(det, view.text).map((r) => mapBack(r, view));
        const got = single.scan(text).map((f) => `${f.start}-${f.end}`);
        assert.deepEqual(got, want, det.id);
        total += want.length;
      }
    }
    assert.ok(total >= 50, `the random corpus must hold positives (found ${total})`);
  });

  it('every detector together, `before` sets shared by several, finds what they find without `before` and `before3`', () => {
    const all = buildDetectors(SETTINGS);
    const shared = all.filter((d) => d.kind === 'char' && d.before !== undefined && all.some((o) => o !== d && o.kind === 'char' && o.before === d.before));
    assert.ok(shared.length >= 2, 'some detectors share a before function');
    const own = all.map((d): Detector => {
      if (d.kind !== 'char') return d;
      const copy: { -readonly [K in keyof CharDetector]: CharDetector[K] } = { ...d };
      delete copy.before;
      delete copy.before3;
      return copy;
    });
    const limits = SETTINGS.limits ?? DEFAULT_SCAN_LIMITS;
    const text = randomCharText(rng(0x5bd1e995), WINDOW + 4000);
    const got = new Scanner(all, { limits }).scan(text);
    assert.deepEqual(got, new Scanner(own, { limits }).scan(text));
    assert.ok(got.filter((f) => shared.some((d) => d.id === f.detector)).length >= 5, 'the text holds findings of the sharing detectors');
  });
});

describe('`before` through the dispatch tables', () => {
  // The tables are looked up by the low seven bits of the code before the trigger, yet `before` and `before3`
  // must see every code >= 128 there (and none, at the text's start) as 128: 'ŧ' (U+0167) has the low bits of
  // 'g', 'Ł' (U+0141) those of 'A'. Each probe detector reports every trigger its `before` and `before3` admit;
  // the reference asks them itself at every trigger.
  const code = (text: string, k: number): number => (k >= 0 && text.charCodeAt(k) < 128 ? text.charCodeAt(k) : 128);
  type Probe = Pick<CharDetector, 'before' | 'before3'>;
  const probes: readonly (readonly [string, Probe])[] = [
    ['non-ASCII or nothing before', { before: (_p2, p) => p === 128 }],
    ['nothing two before', { before: (p2, p) => p2 === 128 && p !== 128 }],
    ['g, not a code ending in its bits', { before: (_p2, p) => p === 103 }],
    ['gA', { before: (p2, p) => p2 === 103 && p === 65 }],
    ['ŧ then A', { before: (p2, p) => p2 === 128 && p === 65 }],
    ['x three before', { before3: (p3) => p3 === 120 }],
    ['nothing or ŧ three before, after gA', { before: (p2, p) => p2 === 103 && p === 65, before3: (p3) => p3 === 128 }],
    ['x three before, non-ASCII just before', { before3: (p3, _p2, p) => p3 === 120 && p === 128 }],
  ];
  const texts = [':', 'g:', 'ŧ:', 'Ł:', 'gA:', 'ŧA:', 'ŧŁ:', 'gŁ:', 'xg:', 'x:A:ŧ:gA:ŧA:g:Ł:ŧŁ:', 'xgA:', 'ŧgA:', 'agA:', 'xgŁ:', 'xŁ:', 'x:g:', 'ŧx:A:', 'xŁŁ:', 'xaŧ:'];

  for (const [name, { before, before3 }] of probes) {
    it(`a stop calls a detector exactly where its before and before3 admit the codes there (${name})`, () => {
      const probe: CharDetector = { kind: 'char', id: 'test.probe', type: 'PROBE', triggers: ':', ...(before && { before }), ...(before3 && { before3 }), maxLength: 1, at: (_t, i, report) => { report(i, i + 1); } };
      const single = new Scanner([probe], { limits: SETTINGS.limits ?? DEFAULT_SCAN_LIMITS });
      let admitted = 0;
      for (const text of texts) {
        const want: string[] = [];
        for (let i = 0; i < text.length; i++) {
          const [p3, p2, p] = [code(text, i - 3), code(text, i - 2), code(text, i - 1)];
          if (text[i] === ':' && (before?.(p2, p) ?? true) && (before3?.(p3, p2, p) ?? true)) want.push(`${i}-${i + 1}`);
        }
        assert.deepEqual(single.scan(text).map((f) => `${f.start}-${f.end}`), want, JSON.stringify(text));
        admitted += want.length;
      }
      assert.ok(admitted >= 2, 'the texts hold stops the probe admits');
    });
  }
});

describe('words read in place (URL password placeholders, file TLDs)', () => {
  it('isWordFold answers as a set of the lower-case words would for the range, in any ASCII letter case', () => {
    const words = ['png', 'json', 'md', 'your_password'];
    const set = new Set(words);
    const by = wordsByLength(words);
    const text = 'a PNG.Json md mdx pn your_PASSWORD jsonx ***';
    for (let s = 0; s <= text.length; s++) {
      for (let e = s; e <= text.length; e++) assert.equal(isWordFold(by, text, s, e), set.has(text.slice(s, e).toLowerCase()), JSON.stringify(text.slice(s, e)));
    }
  });

  // The URL detector tests its password in place; the exported isPasswordPlaceholder (slice, lower-case copy,
  // set) is the reference: a URL password is reported exactly when that refuses it as a placeholder.
  it('a URL password is reported exactly where isPasswordPlaceholder does not refuse it', () => {
    const words = ['password', 'PassWord', 'PASS', 'passwd', 'Pwd', 'SECRET', 'changeMe', 'xxx', 'XXXX', 'xXxXxX', '***', '********', '...', 'Token', 'PW', 'myPassword', 'YourPassword', 'your_PASSWORD', 'Example'];
    const near = ['passwords', 'pas', 'pwdx', 'secret1', 'changeme!', 'xx', 'tokens', 'ex@mple', 'p', 'q*', 'Zq8Lw3Nx', 's3cr3tP4ss', 'aaaa', 'z', '$PASS', '{{pw}}', '%s', '[pw]', '<pw>', 'abcdefgh', 'YOUR_PASSWORD_HERE'];
    let reported = 0;
    let refused = 0;
    for (const pw of [...words, ...near]) {
      const found = scanner.scan(`DB=postgres://app:${pw}@db.example.com:5432/x`).filter((f) => f.type === 'URL_PASSWORD');
      const want = isPasswordPlaceholder(pw) ? [] : [pw];
      assert.deepEqual(found.map((f) => `DB=postgres://app:${pw}@db.example.com:5432/x`.slice(f.start, f.end)), want, pw);
      if (want.length > 0) reported++;
      else refused++;
    }
    assert.ok(reported >= 5 && refused >= words.length, 'both outcomes are exercised');
  });

  it('an email whose TLD is a file extension, in any letter case, is not reported; a near TLD is', () => {
    const emails = (text: string): string[] => scanner.scan(text).filter((f) => f.type === 'EMAIL').map((f) => text.slice(f.start, f.end));
    for (const tld of ['png', 'PNG', 'Json', 'md', 'YAML', 'tGz', 'html', 'LOG']) assert.deepEqual(emails(`see ana@assets.${tld} now`), [], tld);
    for (const tld of ['pngs', 'jsn', 'mdx', 'yam', 'htm', 'io', 'Com']) assert.deepEqual(emails(`see ana@assets.${tld} now`), [`ana@assets.${tld}`], tld);
  });
});

describe('context words', () => {
  const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  /** Every word at every place of [from, to), whole words inside the window (its edges count as non-letters). */
  function reference(text: string, from: number, to: number, words: readonly string[]): boolean {
    const a = Math.max(0, from);
    const b = Math.min(text.length, to);
    for (let k = a; k < b; k++) {
      for (const w of words) {
        const e = k + w.length;
        if (e > b || text.slice(k, e).toLowerCase() !== w) continue;
        if ((k === a || !isLetter(text.charCodeAt(k - 1))) && (e === b || !isLetter(text.charCodeAt(e)))) return true;
      }
    }
    return false;
  }

  it('a window holds a context word exactly when a search of every word at every place finds one', () => {
    const lists = [
      ['phone', 'tel', 'call', 'number', 'ss#', 'ss #', 'tax-id', '9to5', '#tag'],
      ['social security', 'ssn', 'taxpayer'],
    ];
    const pieces = ['phone', 'PHONE', 'Tel', 'tel:', 'xtel', 'telx', 'call', 'CALLS', 'number', 'ss#', 'SS #', 'Tax-ID', '9to5',
      '#tag', 'social', 'Social Security', 'ssn', 'taxpayer', ' ', '-', '.', ':', '#', '1', 'é', 'Ł', 'a', 'Z'];
    const next = rng(0x51ed270b);
    let found = 0;
    for (const list of lists) {
      const cw = contextWords(list);
      for (let k = 0; k < 2000; k++) {
        let text = '';
        while (text.length < 60) text += pieces[Math.floor(next() * pieces.length)] ?? '';
        const from = Math.floor(next() * 70) - 10;
        const to = from + Math.floor(next() * 50);
        const want = reference(text, from, to, cw.words);
        assert.equal(hasContextWord(text, from, to, cw), want, `${JSON.stringify(text)} [${from}, ${to})`);
        if (want) found++;
      }
    }
    assert.ok(found >= 500 && found <= 3500, `the random windows must hold both outcomes (${found} of 4000 with a word)`);
  });
});

describe('the decoding layer\'s byte test', () => {
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_';
  const isB64 = (c: number): boolean => c < 128 && B64.includes(String.fromCharCode(c));
  const isLower = (c: number): boolean => c >= 97 && c <= 122;
  const isUpper = (c: number): boolean => c >= 65 && c <= 90;

  it('passes every lower-case letter before an upper-case one inside a base64 run of 24 or more', () => {
    // Random runs of 1-40 base64 characters (letters mostly, so the pair is common) between separators; at each
    // pair far enough from the ends (as the scanner asks), the run's length through the pair decides.
    const next = rng(0x6a09e667);
    const seps = ' (.,:"\n=é';
    const inRun = new Map<number, number>();
    let refused = 0;
    for (let k = 0; k < 3000; k++) {
      const codes: number[] = [];
      while (codes.length < 200) {
        const len = 1 + Math.floor(next() * 40);
        for (let q = 0; q < len; q++) codes.push(B64.charCodeAt(Math.floor(next() * (next() < 0.9 ? 52 : B64.length))));
        codes.push(seps.charCodeAt(Math.floor(next() * seps.length)) & 255);
      }
      const bytes = Uint8Array.from(codes);
      for (let b = 13; b + 12 <= bytes.length; b++) {
        if (!isLower(bytes[b - 1] as number) || !isUpper(bytes[b] as number)) continue;
        let s = b - 1;
        while (s > 0 && isB64(bytes[s - 1] as number)) s--;
        let e = b + 1;
        while (e < bytes.length && isB64(bytes[e] as number)) e++;
        if (e - s >= MIN_BASE64_RUN) {
          assert.ok(mayBeRunBytes(bytes, b), `a run of ${e - s} with its pair at ${b - s}`);
          if (e - s === MIN_BASE64_RUN) inRun.set(b - s, (inRun.get(b - s) ?? 0) + 1);
        } else if (!mayBeRunBytes(bytes, b)) refused++;
      }
    }
    // Runs of exactly 24 with the pair at every place (its upper-case letter 1 to 23), and shorter runs refused.
    assert.deepEqual([...inRun.keys()].sort((a, b) => a - b), Array.from({ length: 23 }, (_, u) => u + 1));
    assert.ok(refused > 1000, `short runs must be refused (${refused})`);
  });
});
