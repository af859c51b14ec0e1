// Model patterns: exact names and trailing-"*" prefixes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileModelPatterns, MODEL_PATTERN_RE } from '../../extproc/core/model-pattern.ts';

describe('compileModelPatterns', () => {
  const table: readonly [readonly string[], string, boolean][] = [
    [['gpt-4o'], 'gpt-4o', true],
    [['gpt-4o'], 'gpt-4o-mini', false],
    [['gpt-4o'], 'gpt-4', false],
    [['gpt-4o'], 'GPT-4o', false],
    [['gpt-4o'], ' gpt-4o', false],
    [['gpt-4o*'], 'gpt-4o', true],
    [['gpt-4o*'], 'gpt-4o-mini', true],
    [['gpt-4o*'], 'gpt-4o-2024-08-06', true],
    [['gpt-4o*'], 'gpt-4', false],
    [['gpt-4o*'], 'xgpt-4o', false],
    [['claude-*'], 'claude-sonnet-4-20250514', true],
    [['claude-*'], 'claude', false],
    [['*'], 'anything', true],
    [['*'], 'meta-llama/Llama-3.1-8B-Instruct', true],
    [['gpt-4o-mini', 'o3*'], 'o3-mini', true],
    [['gpt-4o-mini', 'o3*'], 'gpt-4o-mini', true],
    [['gpt-4o-mini', 'o3*'], 'gpt-4o', false],
    [['gpt-4o-mini', 'o3*'], 'o1', false],
    [[], 'gpt-4o', false],
    [['gpt.4o'], 'gpt-4o', false],
    [['gpt.4o*'], 'gpt-4o', false],
  ];
  for (const [patterns, model, expected] of table) {
    it(`${JSON.stringify(patterns)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(model)}`, () => {
      assert.equal(compileModelPatterns(patterns)(model), expected);
    });
  }
});

describe('MODEL_PATTERN_RE', () => {
  const valid = ['*', 'gpt-4o', 'gpt-4o*', 'o3', 'ns/model:tag@v1.2_x', 'a'.repeat(200), `${'a'.repeat(200)}*`];
  const invalid = ['', '**', '*gpt', 'g*pt', 'gpt-*-mini', '-gpt', '_gpt', 'gpt 4o', 'gpt\n', 'gpt-4o**', 'a'.repeat(201), 'modèle'];
  for (const p of valid) it(`accepts ${JSON.stringify(p.slice(0, 30))}`, () => { assert.match(p, MODEL_PATTERN_RE); });
  for (const p of invalid) it(`rejects ${JSON.stringify(p.slice(0, 30))}`, () => { assert.doesNotMatch(p, MODEL_PATTERN_RE); });
});
