// The budget reservation as an upper bound: the output each format's request asks for at most (cap and
// number of outputs, nested and aliased spellings) and the arithmetic that turns it into the reservation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANTHROPIC_MESSAGES } from '../../extproc/providers/formats/anthropic.ts';
import { BEDROCK_CONVERSE, BEDROCK_INVOKE } from '../../extproc/providers/formats/bedrock.ts';
import { GEMINI } from '../../extproc/providers/formats/gemini.ts';
import { OPENAI_CHAT, OPENAI_COMPLETIONS, OPENAI_EMBEDDINGS, OPENAI_RESPONSES } from '../../extproc/providers/formats/openai.ts';
import type { BodyFormatHandler } from '../../extproc/providers/formats/format.ts';
import type { OutputRequest } from '../../extproc/providers/shared/output-request.ts';
import type { JsonObject } from '../../extproc/providers/shared/strict-json.ts';
import { reservationEstimate } from '../../extproc/state/reservation.ts';

describe('outputRequest: the cap and the number of outputs each format reads', () => {
  const table: readonly [string, BodyFormatHandler, JsonObject, OutputRequest][] = [
    ['OpenAI chat: no cap', OPENAI_CHAT, { model: 'm', messages: [] }, { maxTokens: undefined, choices: 1 }],
    ['OpenAI chat: max_tokens and n', OPENAI_CHAT, { model: 'm', max_tokens: 100, n: 4 }, { maxTokens: 100, choices: 4 }],
    ['OpenAI chat: both spellings set, the larger wins', OPENAI_CHAT, { model: 'm', max_tokens: 100, max_completion_tokens: 900 }, { maxTokens: 900, choices: 1 }],
    ['OpenAI chat: an absurd cap (past 2^53) is no cap', OPENAI_CHAT, { model: 'm', max_tokens: 1e300 }, { maxTokens: undefined, choices: 1 }],
    ['OpenAI chat: a string, zero or negative cap is no cap', OPENAI_CHAT, { model: 'm', max_tokens: '100', max_completion_tokens: 0 }, { maxTokens: undefined, choices: 1 }],
    ['OpenAI chat: a fractional n counts rounded up', OPENAI_CHAT, { model: 'm', max_tokens: 10, n: 2.5 }, { maxTokens: 10, choices: 3 }],
    ['OpenAI chat: a huge n stays a safe integer', OPENAI_CHAT, { model: 'm', max_tokens: 10, n: 1e300 }, { maxTokens: 10, choices: Number.MAX_SAFE_INTEGER }],
    ['Ollama /api/chat: options.num_predict', OPENAI_CHAT, { model: 'm', options: { num_predict: 64 } }, { maxTokens: 64, choices: 1 }],
    ['OpenAI completions: best_of above n', OPENAI_COMPLETIONS, { model: 'm', max_tokens: 50, n: 2, best_of: 5 }, { maxTokens: 50, choices: 5 }],
    ['OpenAI Responses: max_output_tokens', OPENAI_RESPONSES, { model: 'm', max_output_tokens: 300 }, { maxTokens: 300, choices: 1 }],
    ['OpenAI embeddings: no output', OPENAI_EMBEDDINGS, { model: 'm', input: 'x' }, { maxTokens: 0, choices: 1 }],
    ['Anthropic: max_tokens', ANTHROPIC_MESSAGES, { model: 'm', max_tokens: 2048 }, { maxTokens: 2048, choices: 1 }],
    ['Gemini: nested generationConfig', GEMINI, { generationConfig: { maxOutputTokens: 500, candidateCount: 3 } }, { maxTokens: 500, choices: 3 }],
    ['Gemini: the snake_case alias', GEMINI, { generation_config: { max_output_tokens: 700, candidate_count: 2 } }, { maxTokens: 700, choices: 2 }],
    ['Gemini: both spellings, the larger of each', GEMINI, { generationConfig: { maxOutputTokens: 10, candidate_count: 4 }, generation_config: { max_output_tokens: 80 } }, { maxTokens: 80, choices: 4 }],
    ['Gemini: a top-level maxOutputTokens is not the cap', GEMINI, { maxOutputTokens: 5 }, { maxTokens: undefined, choices: 1 }],
    ['Bedrock Converse: inferenceConfig.maxTokens', BEDROCK_CONVERSE, { inferenceConfig: { maxTokens: 256 } }, { maxTokens: 256, choices: 1 }],
    ['Bedrock invoke, Anthropic body', BEDROCK_INVOKE, { anthropic_version: 'bedrock-2023-05-31', max_tokens: 128, messages: [] }, { maxTokens: 128, choices: 1 }],
    ['Bedrock invoke, Llama body', BEDROCK_INVOKE, { prompt: 'x', max_gen_len: 512 }, { maxTokens: 512, choices: 1 }],
    ['Bedrock invoke, Titan body', BEDROCK_INVOKE, { inputText: 'x', textGenerationConfig: { maxTokenCount: 333 } }, { maxTokens: 333, choices: 1 }],
    ['Bedrock invoke, Nova body', BEDROCK_INVOKE, { inferenceConfig: { max_new_tokens: 99 } }, { maxTokens: 99, choices: 1 }],
    ['Bedrock invoke, no cap', BEDROCK_INVOKE, { prompt: 'x' }, { maxTokens: undefined, choices: 1 }],
  ];
  for (const [name, format, doc, want] of table) it(name, () => { assert.deepEqual(format.outputRequest(doc), want); });
});

describe('reservationEstimate', () => {
  const table: readonly [string, number, OutputRequest, number | undefined, { inputTokens: number; outputTokens: number } | undefined][] = [
    ['the request cap, under the model maximum', 400, { maxTokens: 100, choices: 1 }, 4096, { inputTokens: 100, outputTokens: 100 }],
    ['times the number of outputs (n = 4)', 400, { maxTokens: 100, choices: 4 }, undefined, { inputTokens: 100, outputTokens: 400 }],
    ['a cap above the model maximum is clamped to it', 10, { maxTokens: 1_000_000, choices: 2 }, 8192, { inputTokens: 3, outputTokens: 16_384 }],
    ['no cap: the model maximum from the catalog', 8, { maxTokens: undefined, choices: 1 }, 65_536, { inputTokens: 2, outputTokens: 65_536 }],
    ['no cap and no catalog entry: unknown (refused by the caller)', 8, { maxTokens: undefined, choices: 1 }, undefined, undefined],
    ['no output (embeddings): the prompt alone', 41, { maxTokens: 0, choices: 1 }, undefined, { inputTokens: 11, outputTokens: 0 }],
    ['a bound past 2^53 stays a safe integer', 4, { maxTokens: 1e15, choices: Number.MAX_SAFE_INTEGER }, undefined, { inputTokens: 1, outputTokens: Number.MAX_SAFE_INTEGER - 1 }],
  ];
  for (const [name, bytes, output, max, want] of table) it(name, () => { assert.deepEqual(reservationEstimate(bytes, output, max), want); });
});
