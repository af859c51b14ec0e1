// Masking and buffered restore: golden before/after bodies per provider format (OpenAI chat with tool calls
// and tool results, Anthropic Messages with a signed thinking block, Gemini), byte preservation outside the
// masked strings, placeholder numbering, collisions, refusals, and restore with escapes and unknown placeholders.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import type { JsonPath, TextSegment } from '../../extproc/core/content.ts';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { walkStrings } from '../../extproc/redactors/json-strings.ts';
import { maskBody, MaskError } from '../../extproc/redactors/mask.ts';
import { RestoreMap } from '../../extproc/redactors/restore-map.ts';
import { restoreJson, restoreText } from '../../extproc/redactors/restore.ts';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';

const dir = new URL('../fixtures/detectors/redaction/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, dir), 'utf8');

function at(doc: unknown, path: JsonPath): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], doc);
}

function segmentsFor(name: string, raw: string): TextSegment[] {
  const doc: unknown = JSON.parse(raw);
  const specs = JSON.parse(read(`${name}.segments.json`)) as { path: (string | number)[]; role: TextSegment['role'] }[];
  return specs.map((s) => ({ path: s.path, role: s.role, text: at(doc, s.path) as string }));
}

/** Every string value with its path, for comparing untouched strings. */
function strings(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  walkStrings(raw, (t) => {
    if (!t.isKey) out.set(JSON.stringify(t.path), raw.slice(t.start, t.end));
  });
  return out;
}

describe('masking: golden bodies per provider format', () => {
  for (const name of ['openai-chat', 'anthropic-messages', 'gemini']) {
    it(`${name}: masked body equals the golden file; other strings are byte-identical; values restore`, () => {
      const raw = read(`${name}.request.json`);
      const segs = segmentsFor(name, raw);
      const findings = buildScanner().scanSegments(segs);
      const m = maskBody(raw, segs, findings);
      const out = m.body.toString('utf8');
      assert.equal(out, read(`${name}.masked.json`));
      JSON.parse(out);
      // Only segment strings changed; everything else (including signed thinking blocks) is untouched.
      const before = strings(raw);
      const after = strings(out);
      const segPaths = new Set(segs.map((s) => JSON.stringify(s.path)));
      for (const [p, v] of before) if (!segPaths.has(p)) assert.equal(after.get(p), v, p);
      // Outside string tokens, not a byte moved (numbers such as a 20-digit seed keep their digits).
      const skeleton = (s: string): string => {
        let o = '';
        let k = 0;
        walkStrings(s, (t) => {
          o += s.slice(k, t.start);
          k = t.end;
        }, false);
        return o + s.slice(k);
      };
      assert.equal(skeleton(out), skeleton(raw));
      // The masked body has no findings left in its segments, and restore gives the original segment texts back.
      const maskedSegs = segs.map((s) => ({ ...s, text: at(JSON.parse(out), s.path) as string }));
      assert.deepEqual(buildScanner().scanSegments(maskedSegs), []);
      for (const s of maskedSegs) assert.equal(restoreText(s.text, m.restore).text, segs.find((x) => x.path === s.path)?.text);
    });
  }

  it('the same value gets the same placeholder; numbering follows request order per type', () => {
    const raw = JSON.stringify({ a: 'x b@e.org y a@e.org', b: 'a@e.org 4242424242424242 b@e.org' });
    const segs: TextSegment[] = [
      { path: ['a'], text: 'x b@e.org y a@e.org', role: 'user' },
      { path: ['b'], text: 'a@e.org 4242424242424242 b@e.org', role: 'user' },
    ];
    const m = maskBody(raw, segs, buildScanner().scanSegments(segs));
    assert.deepEqual(JSON.parse(m.body.toString()), { a: 'x <EMAIL_1> y <EMAIL_2>', b: '<EMAIL_2> <CARD_NUMBER_1> <EMAIL_1>' });
    assert.deepEqual(m.counts, { EMAIL: 4, CARD_NUMBER: 1 });
  });

  it('placeholders that already occur literally in the request are not handed out again', () => {
    const text = 'literal <EMAIL_1> and <EMAIL_2>, real a@e.org';
    const raw = JSON.stringify({ t: text });
    const segs: TextSegment[] = [{ path: ['t'], text, role: 'user' }];
    const m = maskBody(raw, segs, buildScanner().scanSegments(segs));
    assert.equal((JSON.parse(m.body.toString()) as { t: string }).t, 'literal <EMAIL_1> and <EMAIL_2>, real <EMAIL_3>');
  });

  it('refuses a segment whose text differs from the body, a path that is not a string, and invalid JSON', () => {
    const raw = JSON.stringify({ t: 'a@e.org', n: 5 });
    const f = [{ detector: 'pii.email', type: 'EMAIL', start: 0, end: 7, segment: 0 }];
    assert.throws(() => maskBody(raw, [{ path: ['t'], text: 'b@e.org', role: 'user' }], f), MaskError);
    assert.throws(() => maskBody(raw, [{ path: ['n'], text: 'a@e.org', role: 'user' }], f), MaskError);
    assert.throws(() => maskBody(raw, [{ path: ['missing'], text: 'a@e.org', role: 'user' }], f), MaskError);
    assert.throws(() => maskBody('{"t": "a@e.org"', [{ path: ['t'], text: 'a@e.org', role: 'user' }], f), MaskError);
  });

  it('leaks in buffered responses are masked with a non-restorable mark, so restore cannot turn them into request values', () => {
    const text = 'leaked a@e.org';
    const raw = JSON.stringify({ choices: [{ message: { content: text } }] });
    const segs: TextSegment[] = [{ path: ['choices', 0, 'message', 'content'], text, role: 'assistant' }];
    const requestMap = new RestoreMap();
    requestMap.placeholderFor('EMAIL', 'mine@e.org');
    const leak = maskBody(raw, segs, buildScanner().scanSegments(segs), new RestoreMap(), { mark: leakMark });
    const restored = restoreJson(leak.body, requestMap).body.toString();
    assert.equal((JSON.parse(restored) as { choices: { message: { content: string } }[] }).choices[0]?.message.content, 'leaked [REDACTED:EMAIL]');
  });

  it('with no findings the body bytes are returned unchanged', () => {
    const raw = Buffer.from('{ "t" : "hello" }');
    assert.equal(maskBody(raw, [{ path: ['t'], text: 'hello', role: 'user' }], []).body, raw);
  });
});

describe('buffered restore', () => {
  const map = new RestoreMap();
  const e1 = map.placeholderFor('EMAIL', 'a@e.org');
  for (let k = 2; k <= 12; k++) map.placeholderFor('EMAIL', `u${k}@e.org`);
  const key = map.placeholderFor('PRIVATE_KEY', '-----BEGIN X-----\n"quoted"\n-----END X-----');

  it('restores placeholders in every string value, including JSON-escaped and tool-call arguments', () => {
    const body = `{"choices":[{"message":{"content":"Hi ${e1} and \\u003cEMAIL_12\\u003e","tool_calls":[{"function":{"arguments":"{\\"to\\":\\"${e1}\\"}"}}]}}],"n":1.50}`;
    const r = restoreJson(body, map);
    const doc = JSON.parse(r.body.toString()) as { choices: { message: { content: string; tool_calls: { function: { arguments: string } }[] } }[] };
    assert.equal(doc.choices[0]?.message.content, 'Hi a@e.org and u12@e.org');
    assert.deepEqual(JSON.parse(doc.choices[0].message.tool_calls[0]!.function.arguments), { to: 'a@e.org' });
    assert.equal(r.restored, 3);
    assert.ok(r.body.toString().endsWith('"n":1.50}'));
  });

  it('values with quotes and newlines keep the JSON valid; unknown placeholders stay and are counted', () => {
    const r = restoreJson(JSON.stringify({ t: `key ${key} and <EMAIL_99> and <EMAIL_1` }), map);
    assert.equal((JSON.parse(r.body.toString()) as { t: string }).t, 'key -----BEGIN X-----\n"quoted"\n-----END X----- and <EMAIL_99> and <EMAIL_1');
    assert.equal(r.unknown, 1);
  });

  it('the restore map never prints its values', () => {
    for (const s of [inspect(map), JSON.stringify({ map }), String(map), String(map.valueOf(e1))]) assert.ok(!s.includes('a@e.org'), s);
  });
});
