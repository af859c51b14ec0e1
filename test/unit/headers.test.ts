// Reading Envoy's HeaderMap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headerMap, mediaType } from '../../extproc/processing/headers.ts';
import type { HeaderValue, HttpHeaders } from '../../extproc/wire/ext-proc.ts';

const headers = (...hs: HeaderValue[]): HttpHeaders => ({ headers: { headers: hs } });
const raw = (key: string, value: string): HeaderValue => ({ key, raw_value: Buffer.from(value, 'latin1') });

describe('headerMap', () => {
  it('is empty for no headers', () => {
    assert.equal(headerMap(undefined).size, 0);
    assert.equal(headerMap({}).size, 0);
    assert.equal(headerMap({ headers: {} }).size, 0);
  });

  const table: readonly [string, HttpHeaders, [string, string][]][] = [
    ['reads raw_value', headers(raw(':path', '/openai/v1/chat/completions')), [[':path', '/openai/v1/chat/completions']]],
    ['prefers raw_value over value', headers({ key: 'x-a', value: 'from-value', raw_value: Buffer.from('from-raw') }), [['x-a', 'from-raw']]],
    ['falls back to value when raw_value is absent', headers({ key: 'x-a', value: 'from-value' }), [['x-a', 'from-value']]],
    ['falls back to value when raw_value is empty', headers({ key: 'x-a', value: 'from-value', raw_value: Buffer.alloc(0) }), [['x-a', 'from-value']]],
    ['is empty when neither is set', headers({ key: 'x-a' }), [['x-a', '']]],
    ['lower-cases names', headers(raw('Content-Type', 'application/json'), raw('X-API-Key', 'k')), [['content-type', 'application/json'], ['x-api-key', 'k']]],
    ['keeps value case', headers(raw('x-a', 'MiXeD')), [['x-a', 'MiXeD']]],
    ['joins repeats with "," in order', headers(raw('x-api-key', 'a'), raw('accept', '*/*'), raw('x-api-key', 'b'), raw('x-api-key', 'c')), [['x-api-key', 'a,b,c'], ['accept', '*/*']]],
    ['joins repeats that differ only in case', headers(raw('Authorization', 'Bearer a'), raw('authorization', 'Bearer b')), [['authorization', 'Bearer a,Bearer b']]],
    ['decodes raw bytes as latin1', headers({ key: 'x-a', raw_value: Buffer.from([0x63, 0x61, 0x66, 0xe9]) }), [['x-a', 'café']]],
  ];
  for (const [label, input, expected] of table) {
    it(label, () => {
      assert.deepEqual([...headerMap(input)], expected);
    });
  }
});

describe('mediaType', () => {
  const table: readonly [string | undefined, string | undefined][] = [
    ['application/json', 'application/json'],
    ['application/json; charset=utf-8', 'application/json'],
    ['Application/JSON ; charset=UTF-8', 'application/json'],
    ['  text/event-stream  ', 'text/event-stream'],
    ['multipart/form-data; boundary=x', 'multipart/form-data'],
    ['', ''],
    [undefined, undefined],
  ];
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(mediaType(input), expected);
    });
  }
});
