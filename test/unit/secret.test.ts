// Secret: every way of printing it hides the value; reveal() is the only way out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import { Secret } from '../../extproc/core/secret.ts';

const VALUE = 'sk-live-0123456789abcdefSECRET';

describe('Secret', () => {
  const s = new Secret(VALUE);

  const renderings: readonly [string, () => string][] = [
    ['String()', () => String(s)],
    ['template literal', () => `key=${s}`], // eslint-disable-line @typescript-eslint/restrict-template-expressions
    ['string concatenation', () => 'x' + String(s)],
    ['toString()', () => s.toString()],
    ['JSON.stringify(secret)', () => JSON.stringify(s)],
    ['JSON.stringify of a nested object', () => JSON.stringify({ a: { b: [s] } })],
    ['util.inspect', () => inspect(s)],
    ['util.inspect of a nested object, depth unlimited', () => inspect({ a: { b: { c: s } } }, { depth: null })],
    ['util.inspect without custom inspect', () => inspect(s, { customInspect: false, showHidden: true })],
    ['util.format %s %o %O %j', () => format('%s %o %O %j', s, s, s, s)],
    ['Object.entries', () => JSON.stringify(Object.entries(s))],
    ['Object.assign copy', () => JSON.stringify(Object.assign({}, s))],
    ['an Error message built from it', () => new Error(`failed with ${String(s)}`).message],
  ];
  for (const [label, render] of renderings) {
    it(`${label} does not reveal the value`, () => {
      const out = render();
      assert.ok(!out.includes(VALUE), out);
      assert.ok(!out.includes('SECRET'), out);
    });
  }

  it('prints as "[redacted]"', () => {
    assert.equal(String(s), '[redacted]');
    assert.equal(`${s}`, '[redacted]'); // eslint-disable-line @typescript-eslint/restrict-template-expressions
    assert.equal(JSON.stringify(s), '"[redacted]"');
    assert.equal(inspect(s), '[redacted]');
  });

  it('reveal() gives the value, and length its length', () => {
    assert.equal(s.reveal(), VALUE);
    assert.equal(s.length, VALUE.length);
  });

  it('has no own enumerable property holding the value', () => {
    assert.deepEqual(Object.keys(s), []);
    assert.deepEqual(Object.getOwnPropertyNames(s), []);
  });
});
