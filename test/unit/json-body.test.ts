// Request parsing and usage parsing for JSON provider APIs, against recorded provider bodies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Usage } from '../../extproc/core/request-context.ts';
import { TollgateError, type ErrorCode } from '../../extproc/errors.ts';
import { parseModelRequest, parseUsageObject } from '../../extproc/providers/json-body.ts';

const PROVIDERS = fileURLToPath(new URL('../fixtures/providers/', import.meta.url));
const fixture = (path: string): Buffer => readFileSync(PROVIDERS + path);
const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('parseModelRequest', () => {
  const valid: readonly [string, string, { model: string; stream: boolean }][] = [
    ['a chat request', '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}', { model: 'gpt-4o-mini', stream: false }],
    ['stream: true', '{"model":"gpt-4o","stream":true}', { model: 'gpt-4o', stream: true }],
    ['stream: false', '{"model":"gpt-4o","stream":false}', { model: 'gpt-4o', stream: false }],
    ['stream: "true" (a string is not true)', '{"model":"gpt-4o","stream":"true"}', { model: 'gpt-4o', stream: false }],
    ['stream: 1', '{"model":"gpt-4o","stream":1}', { model: 'gpt-4o', stream: false }],
    ['surrounding whitespace', ' \n {"model":"claude-sonnet-4"} \n', { model: 'claude-sonnet-4', stream: false }],
    ['a 256-character model', `{"model":"${'m'.repeat(256)}"}`, { model: 'm'.repeat(256), stream: false }],
    ['a multi-byte model name', '{"model":"modèle-€"}', { model: 'modèle-€', stream: false }],
  ];
  for (const [label, body, expected] of valid) {
    it(`parses ${label}`, () => {
      assert.deepEqual(parseModelRequest(buf(body)), expected);
    });
  }

  const invalid: readonly [string, string, ErrorCode][] = [
    ['an empty body', '', 'body_malformed'],
    ['plain text', 'model=gpt-4o', 'body_malformed'],
    ['truncated JSON', '{"model":"gpt-4o"', 'body_malformed'],
    ['JSON with a trailing comma', '{"model":"gpt-4o",}', 'body_malformed'],
    ['two JSON documents', '{"model":"a"}{"model":"b"}', 'body_malformed'],
    ['an array', '[{"model":"gpt-4o"}]', 'model_missing'],
    ['null', 'null', 'model_missing'],
    ['a number', '42', 'model_missing'],
    ['a string', '"gpt-4o"', 'model_missing'],
    ['true', 'true', 'model_missing'],
    ['an object without model', '{"messages":[]}', 'model_missing'],
    ['an empty model', '{"model":""}', 'model_missing'],
    ['a numeric model', '{"model":4}', 'model_missing'],
    ['a null model', '{"model":null}', 'model_missing'],
    ['an array model', '{"model":["gpt-4o"]}', 'model_missing'],
    ['an object model', '{"model":{"name":"gpt-4o"}}', 'model_missing'],
    ['a 257-character model', `{"model":"${'m'.repeat(257)}"}`, 'model_missing'],
  ];
  for (const [label, body, code] of invalid) {
    it(`rejects ${label} with ${code}`, () => {
      assert.throws(() => parseModelRequest(buf(body)), (err: unknown) => err instanceof TollgateError && err.code === code);
    });
  }
});

describe('parseUsageObject: recorded provider bodies', () => {
  const recorded: readonly [string, Usage | undefined][] = [
    ['openai/chat-completion.json', { inputTokens: 19, outputTokens: 10, totalTokens: 29 }],
    ['openai/responses.json', { inputTokens: 36, outputTokens: 87, totalTokens: 123 }],
    ['openai/embeddings.json', { inputTokens: 8, outputTokens: 0, totalTokens: 8 }],
    ['openai/error-invalid-api-key.json', undefined],
    ['openai/chat-completion-stream.txt', undefined],
    ['anthropic/messages.json', { inputTokens: 2095, outputTokens: 503, totalTokens: 2598 }],
    ['anthropic/error-overloaded.json', undefined],
    ['anthropic/gateway-502.html', undefined],
  ];
  for (const [file, expected] of recorded) {
    it(`${file} → ${expected === undefined ? 'no usage' : `${expected.inputTokens}/${expected.outputTokens}/${expected.totalTokens}`}`, () => {
      assert.deepEqual(parseUsageObject(fixture(file)), expected);
    });
  }
});

describe('parseUsageObject: edge cases', () => {
  const table: readonly [string, string, Usage | undefined][] = [
    ['no total: sum of input and output', '{"usage":{"prompt_tokens":3,"completion_tokens":4}}', { inputTokens: 3, outputTokens: 4, totalTokens: 7 }],
    ['the provider total wins', '{"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":10}}', { inputTokens: 3, outputTokens: 4, totalTokens: 10 }],
    ['only output tokens', '{"usage":{"output_tokens":5}}', { inputTokens: 0, outputTokens: 5, totalTokens: 5 }],
    ['zeros', '{"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}', { inputTokens: 0, outputTokens: 0, totalTokens: 0 }],
    ['a negative count falls back to the other naming', '{"usage":{"prompt_tokens":-1,"input_tokens":6}}', { inputTokens: 6, outputTokens: 0, totalTokens: 6 }],
    ['string counts are ignored', '{"usage":{"prompt_tokens":"5","completion_tokens":"6"}}', undefined],
    ['fractional counts are ignored', '{"usage":{"prompt_tokens":1.5,"completion_tokens":2.5}}', undefined],
    ['a bad total falls back to the sum', '{"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":-3}}', { inputTokens: 1, outputTokens: 2, totalTokens: 3 }],
    ['usage: null', '{"usage":null}', undefined],
    ['usage: a number', '{"usage":12}', undefined],
    ['usage: {}', '{"usage":{}}', undefined],
    ['no usage', '{"id":"x"}', undefined],
    ['a JSON array', '[{"usage":{"prompt_tokens":1}}]', undefined],
    ['JSON null', 'null', undefined],
    ['an empty body', '', undefined],
  ];
  for (const [label, body, expected] of table) {
    it(label, () => {
      assert.deepEqual(parseUsageObject(buf(body)), expected);
    });
  }
});
