import { TollgateError } from '../errors.ts';
import type { Usage } from '../core/request-context.ts';
import type { ParsedRequest } from './provider.ts';

/** Parses a JSON object body with a string "model", as OpenAI- and Anthropic-style APIs use. */
export function parseModelRequest(body: Buffer): ParsedRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TollgateError('body_malformed', 'request body is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TollgateError('model_missing', 'request body is not a JSON object');
  const { model, stream } = doc as { model?: unknown; stream?: unknown };
  if (typeof model !== 'string' || model === '' || model.length > 256) throw new TollgateError('model_missing', 'request body has no usable "model" string');
  return { model, stream: stream === true };
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** Reads `usage` in either naming: prompt/completion (OpenAI chat) or input/output (Responses API, Anthropic). */
export function parseUsageObject(body: Buffer): Usage | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const usage = (doc as { usage?: unknown }).usage;
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const input = count(u.prompt_tokens) ?? count(u.input_tokens);
  const output = count(u.completion_tokens) ?? count(u.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  const inputTokens = input ?? 0;
  const outputTokens = output ?? 0;
  return { inputTokens, outputTokens, totalTokens: count(u.total_tokens) ?? inputTokens + outputTokens };
}
