import type { OutputRequest } from '../providers/shared/output-request.ts';
import type { TokenUsage } from './budgets.ts';

/** Prompt bytes per token assumed for the input estimate. */
export const BYTES_PER_TOKEN = 4;

/**
 * The upper bound a request reserves against token budgets, cost budgets and token rate limits: the
 * prompt's estimate (~4 bytes a token) plus the output cap times the number of outputs. The cap is the
 * request's own, clamped to the model's catalogued maximum, or that maximum when the request sets none.
 * Undefined when neither is known: the caller refuses (`output_cap_required`) instead of guessing low.
 */
export function reservationEstimate(bodyBytes: number, output: OutputRequest, modelMaxOutput: number | undefined): TokenUsage | undefined {
  const inputTokens = Math.ceil(bodyBytes / BYTES_PER_TOKEN);
  const cap = output.maxTokens === undefined ? modelMaxOutput : modelMaxOutput === undefined ? output.maxTokens : Math.min(output.maxTokens, modelMaxOutput);
  if (cap === undefined) return undefined;
  // Bounded so the counters stay whole numbers: a reservation this large is refused anyway.
  return { inputTokens, outputTokens: Math.min(cap * output.choices, Number.MAX_SAFE_INTEGER - inputTokens) };
}
