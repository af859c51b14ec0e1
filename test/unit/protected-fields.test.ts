// The protected-fields table (one per format family, each row with its direction) is what both sides enforce:
// the request walk through each format's rules, the response scan through each provider kind's test. A row
// holds in its direction and, unless another rule covers it, not in the other.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANTHROPIC_RULES } from '../../extproc/providers/formats/anthropic.ts';
import { CONVERSE_RULES, GENERIC_RULES } from '../../extproc/providers/formats/bedrock.ts';
import { GEMINI_RULES } from '../../extproc/providers/formats/gemini.ts';
import { OPENAI_RULES } from '../../extproc/providers/formats/openai.ts';
import { PROTECTED_FIELDS, type FormatFamily } from '../../extproc/providers/shared/protected-fields.ts';
import { walkRequest, type WalkRules } from '../../extproc/providers/shared/request-walk.ts';
import { protectedFieldsFor } from '../../extproc/redactors/protected-fields.ts';

const REQUEST_RULES: Readonly<Record<FormatFamily, WalkRules>> = { openai: OPENAI_RULES, anthropic: ANTHROPIC_RULES, gemini: GEMINI_RULES, 'bedrock-converse': CONVERSE_RULES, generic: GENERIC_RULES };
/** The provider kinds whose responses read each table. */
const RESPONSE_KINDS: Readonly<Record<FormatFamily, readonly string[]>> = { openai: ['openai', 'azure-openai', 'openai-compatible'], anthropic: ['anthropic', 'bedrock'], gemini: ['vertex'], 'bedrock-converse': ['bedrock'], generic: [] };
const FORMATS = Object.keys(PROTECTED_FIELDS) as FormatFamily[];
const VALUE = 'value-under-test';

/** Whether a request of `format` protects a value under `key` (in an object the format reads no structure in). */
function protectedInRequest(format: FormatFamily, key: string): boolean {
  const segs = walkRequest({ metadata: { [key]: VALUE } }, REQUEST_RULES[format], false).segments.filter((s) => s.text === VALUE);
  assert.equal(segs.length, 1, 'the value is scanned');
  return segs[0]?.protected === true;
}

/** What the response side adds for every kind: "id" and every "*_id" / "*Id" key. */
const anyId = (key: string): boolean => key === 'id' || key.endsWith('_id') || key.endsWith('Id');

describe('protected fields: one table per format family, read by both directions', () => {
  for (const format of FORMATS) {
    it(`${format}: each row holds in its direction`, () => {
      const norm = REQUEST_RULES[format].key ?? ((k: string) => k);
      const requestKeys = new Set(PROTECTED_FIELDS[format].filter((f) => f.in !== 'response').map((f) => f.key));
      for (const f of PROTECTED_FIELDS[format]) {
        const holder = 'holderType' in f ? f.holderType : undefined;
        if (f.in === 'response') {
          if (holder === undefined) assert.equal(protectedInRequest(format, f.key), requestKeys.has(norm(f.key)), `${f.key}: response only`);
        } else {
          assert.equal(protectedInRequest(format, f.key), true, `${f.key}: protected in ${format} requests`);
        }
        for (const kind of RESPONSE_KINDS[format]) {
          const test = protectedFieldsFor(kind);
          assert.equal(test(f.key, holder, undefined), f.in !== 'request' || anyId(f.key), `${f.key}: ${kind} responses`);
          if (holder !== undefined) {
            assert.equal(test(f.key, undefined, holder), true, `${f.key} of ${holder}: matched by the holder's key too`);
            assert.equal(test(f.key, 'other', 'other'), false, `${f.key}: only inside ${holder}`);
          }
        }
      }
    });
  }

  it('a kind no table names protects ids only', () => {
    const test = protectedFieldsFor('no-such-kind');
    for (const key of ['id', 'call_id', 'toolUseId']) assert.equal(test(key, undefined, undefined), true, key);
    for (const key of ['signature', 'encrypted_content', 'b64_json', 'text']) assert.equal(test(key, undefined, undefined), false, key);
  });
});
