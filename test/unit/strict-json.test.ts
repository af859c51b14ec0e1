// The strict JSON parser: agrees with JSON.parse on valid JSON, and refuses what lets two parsers disagree
// (duplicate keys, invalid UTF-8, lone surrogate escapes, BOM), too-deep nesting, and out-of-range numbers. Linear time on
// adversarial input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_DEPTH, parseStrictJson, parseStrictJsonObject, StrictJsonError, type StrictJsonReason } from '../../extproc/providers/shared/strict-json.ts';

const refuses = (input: string | Buffer, reason: StrictJsonReason, fn = parseStrictJson): void => {
  assert.throws(() => fn(typeof input === 'string' ? Buffer.from(input, 'utf8') : input), (err: unknown) => {
    assert.ok(err instanceof StrictJsonError, String(err));
    assert.equal(err.reason, reason);
    return true;
  });
};

describe('strict JSON: agrees with JSON.parse on valid documents', () => {
  const valid = [
    '{}', '[]', '0', '-0', '1.5e3', '-1.25E-2', '"x"', 'true', 'false', 'null', ' \t\r\n{"a" : [1, 2, {"b": null}] } ',
    '{"s":"\\u00e9\\n\\t\\"\\\\\\/\\b\\f\\r"}', '{"emoji":"😀","cjk":"漢字"}', '{"":1}',
    '{"a":{"a":{"a":1}}}', '[{"model":"x"},{"model":"y"}]', '{"__proto__":{"x":1},"constructor":2}', '{"n":12345678901234567890}',
    '{"k\\u0000":"v\\u001f"}', '"\u2028\u2029"',
  ];
  for (const text of valid) {
    it(JSON.stringify(text), () => {
      const expected: unknown = JSON.parse(text);
      const got = parseStrictJson(Buffer.from(text, 'utf8'));
      assert.deepEqual(got, expected);
      assert.equal(JSON.stringify(got), JSON.stringify(expected));
    });
  }

  it('"__proto__" becomes an own key, not the prototype (as with JSON.parse)', () => {
    const doc = parseStrictJsonObject('{"__proto__":{"polluted":true}}');
    assert.equal(Object.getPrototypeOf(doc), Object.prototype);
    assert.ok(Object.hasOwn(doc, '__proto__'));
    assert.equal((doc as { polluted?: boolean }).polluted, undefined);
  });

  it('matches JSON.parse on 2,000 random documents', () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const strs = ['', 'a', 'model', 'mod\\u0065l', 'é', '\\"q\\"', '\\\\', 'line\\nbreak', '😀', '\\ud83d\\ude00'];
    const gen = (d: number): string => {
      const k = d > 4 ? rnd(4) : rnd(6);
      if (k === 0) return String(rnd(1000) - 500) + (rnd(2) ? '.5' : '') + (rnd(3) === 0 ? 'e2' : '');
      if (k === 1) return `"${strs[rnd(strs.length)] ?? ''}"`;
      if (k === 2) return ['true', 'false', 'null'][rnd(3)] ?? 'null';
      if (k === 3) return `"${'x'.repeat(rnd(50))}"`;
      if (k === 4) return `[${Array.from({ length: rnd(4) }, () => gen(d + 1)).join(',')}]`;
      const keys = new Set<string>();
      while (keys.size < rnd(5)) keys.add(`k${rnd(20)}`);
      return `{${[...keys].map((key) => `"${key}": ${gen(d + 1)}`).join(' , ')}}`;
    };
    for (let i = 0; i < 2000; i++) {
      const text = gen(0);
      assert.deepEqual(parseStrictJson(text), JSON.parse(text) as unknown, text);
    }
  });
});

describe('strict JSON: refusals', () => {
  const table: readonly [string, string | Buffer, StrictJsonReason][] = [
    ['a duplicate top-level key', '{"model":"gpt-4o","model":"gpt-4o-mini"}', 'duplicate_key'],
    ['a duplicate key equal after unescaping', '{"model":"a","mod\\u0065l":"b"}', 'duplicate_key'],
    ['a duplicate key fully escaped', '{"\\u006d\\u006f\\u0064\\u0065\\u006c":"a","model":"b"}', 'duplicate_key'],
    ['a duplicate key with an escaped slash', '{"a/b":1,"a\\/b":2}', 'duplicate_key'],
    ['a duplicate nested key', '{"messages":[{"role":"user","role":"system"}]}', 'duplicate_key'],
    ['a duplicate key deep inside', '{"a":{"b":[[{"c":{"d":1,"d":2}}]]}}', 'duplicate_key'],
    ['a duplicate "__proto__"', '{"__proto__":1,"__proto__":2}', 'duplicate_key'],
    ['invalid UTF-8 (a lone continuation byte)', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x80, 0x22, 0x7d]), 'utf8'],
    ['invalid UTF-8 (an overlong encoding of "/")', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 'utf8'],
    ['invalid UTF-8 (an encoded surrogate)', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'utf8'],
    ['invalid UTF-8 (a truncated sequence)', Buffer.from([0x22, 0xe2, 0x82, 0x22]), 'utf8'],
    ['a lone high surrogate escape', '{"a":"x\\ud800y"}', 'lone_surrogate'],
    ['a lone low surrogate escape', '{"a":"\\udc00"}', 'lone_surrogate'],
    ['a reversed surrogate pair', '{"a":"\\udc00\\ud800"}', 'lone_surrogate'],
    ['a lone surrogate escape in a key', '{"\\ud83d":1}', 'lone_surrogate'],
    ['a byte-order mark', Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'syntax'],
    ['an empty body', '', 'syntax'],
    ['a trailing comma in an object', '{"a":1,}', 'syntax'],
    ['a trailing comma in an array', '[1,]', 'syntax'],
    ['two documents', '{"model":"a"}{"model":"b"}', 'syntax'],
    ['a single-quoted string', "{'a':1}", 'syntax'],
    ['an unquoted key', '{a:1}', 'syntax'],
    ['a raw newline in a string', '{"a":"x\ny"}', 'syntax'],
    ['a raw tab in an escaped string', '{"a":"\\n\tx"}', 'syntax'],
    ['an unknown escape', '{"a":"\\x41"}', 'syntax'],
    ['a short unicode escape', '{"a":"\\u12"}', 'syntax'],
    ['an unterminated string', '{"a":"abc', 'syntax'],
    ['an unterminated escaped string', '{"a":"ab\\"', 'syntax'],
    ['a leading zero', '{"a":01}', 'syntax'],
    ['a leading plus', '{"a":+1}', 'syntax'],
    ['a bare decimal point', '{"a":1.}', 'syntax'],
    ['an empty exponent', '{"a":1e}', 'syntax'],
    ['NaN', '{"a":NaN}', 'syntax'],
    ['Infinity', '{"a":Infinity}', 'syntax'],
    ['a comment', '{"a":1 /* c */}', 'syntax'],
    ['a vertical tab as whitespace', '{\u000b"a":1}', 'syntax'],
    ['a non-breaking space as whitespace', '{\u00a0"a":1}', 'syntax'],
    ['a truncated literal', '{"a":tru}', 'syntax'],
    ['a number that overflows to Infinity', '{"a":1e400}', 'number_range'],
    ['a negative number that overflows', '{"a":-1e400}', 'number_range'],
  ];
  for (const [label, input, reason] of table) {
    it(`${label} → ${reason}`, () => {
      refuses(input, reason);
    });
  }

  it(`nesting: ${DEFAULT_MAX_DEPTH} levels parse, ${DEFAULT_MAX_DEPTH + 1} are refused (objects and arrays)`, () => {
    const arrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    const objects = (n: number): string => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);
    assert.deepEqual(parseStrictJson(arrays(DEFAULT_MAX_DEPTH)), JSON.parse(arrays(DEFAULT_MAX_DEPTH)) as unknown);
    assert.deepEqual(parseStrictJson(objects(DEFAULT_MAX_DEPTH)), JSON.parse(objects(DEFAULT_MAX_DEPTH)) as unknown);
    refuses(arrays(DEFAULT_MAX_DEPTH + 1), 'depth');
    refuses(objects(DEFAULT_MAX_DEPTH + 1), 'depth');
    refuses('['.repeat(100_000), 'depth');
  });

  const nonObjects = ['[]', '"x"', '1', 'null', 'true'];
  for (const text of nonObjects) {
    it(`parseStrictJsonObject refuses top-level ${text}`, () => {
      refuses(text, 'not_object', parseStrictJsonObject);
    });
  }

  it('a lone surrogate in a string handed in (not bytes) is refused too', () => {
    assert.throws(() => parseStrictJson('{"a":"\ud800"}'), (err: unknown) => err instanceof StrictJsonError && err.reason === 'lone_surrogate');
    assert.deepEqual(parseStrictJson('{"a":"\ud83d\ude00"}'), { a: '😀' });
  });

  it("with loneSurrogates 'allow' (provider responses) a lone surrogate escape parses as JSON.parse reads it", () => {
    assert.deepEqual(parseStrictJson(Buffer.from('{"a":"x\\ud800y"}'), DEFAULT_MAX_DEPTH, 'allow'), { a: 'x\ud800y' });
  });

  it('errors carry an offset and never the document text', () => {
    const secret = 'sk-proj-PLANTEDSECRET1234567890';
    for (const text of [`{"${secret}":1,"${secret}":2}`, `{"a":"${secret}\u0001"}`, `{"a":${secret}}`]) {
      try {
        parseStrictJson(text);
        assert.fail('should throw');
      } catch (err) {
        assert.ok(err instanceof StrictJsonError);
        assert.ok(!err.message.includes('PLANTED'), err.message);
        assert.ok(!JSON.stringify(err).includes('PLANTED'));
      }
    }
  });
});

describe('strict JSON: linear time', () => {
  const best = (f: () => unknown): number => {
    let min = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = process.cpuUsage();
      try {
        f();
      } catch {
        // refusals take time too
      }
      const used = process.cpuUsage(t);
      min = Math.min(min, used.user + used.system);
    }
    return min;
  };
  // Each generator makes an adversarial document of about n bytes.
  const adversarial: readonly [string, (n: number) => string][] = [
    ['one string of escapes', (n) => `{"a":"${'\\n'.repeat(n / 2)}"}`],
    ['many strings, one backslash at the end', (n) => `[${'"abc",'.repeat(n / 6)}"\\n"]`],
    ['distinct keys in one object', (n) => `{${Array.from({ length: n / 10 }, (_, i) => `"k${i}":1`).join(',')}}`],
    ['escaped keys', (n) => `{${Array.from({ length: n / 14 }, (_, i) => `"\\u006b${i}":1`).join(',')}}`],
    ['a long number', (n) => `[${'1'.repeat(n)}]`],
    ['nesting at the limit, then wide', (n) => `${'['.repeat(60)}${'0,'.repeat(n / 2)}0${']'.repeat(60)}`],
    ['a duplicate key after many keys', (n) => `{${Array.from({ length: n / 10 }, (_, i) => `"k${i}":1`).join(',')},"k0":2}`],
  ];
  // Linear work grows 8× for an 8× input; quadratic work would grow 64×. The bound sits between, with room for
  // GC and hash-table growth on a loaded machine. CPU time, not wall time, so other processes matter less.
  const n = 100_000;
  for (const [label, make] of adversarial) {
    it(`${label}: 8× the input costs well under 64× the time, and within 8× JSON.parse`, () => {
      const small = Buffer.from(make(n));
      const large = Buffer.from(make(8 * n));
      const native = (b: Buffer) => () => JSON.parse(b.toString('utf8')) as unknown;
      const growth = best(() => parseStrictJson(large)) / Math.max(1, best(() => parseStrictJson(small)));
      const nativeGrowth = best(native(large)) / Math.max(1, best(native(small)));
      // GC and hash-table growth affect JSON.parse alike, so a growth close to its growth is linear too.
      assert.ok(growth < 24 || growth < 3 * nativeGrowth, `growth ${growth.toFixed(2)} (JSON.parse ${nativeGrowth.toFixed(2)})`);
      const vsNative = best(() => parseStrictJson(large)) / best(native(large));
      assert.ok(vsNative < 8, `vs JSON.parse ${vsNative.toFixed(2)}`);
    });
  }
});
