// The one rule every model name meets before it is matched, logged or audited.
import { ProviderError } from '../errors.ts';

/**
 * A model name: 1 to 200 characters, first an ASCII letter or digit, then ASCII letters, digits and
 * `. _ : / @ + -`. No spaces, no `*` (patterns use it), no `%`, no `..`, no `//`, no leading or trailing
 * `/`. This admits OpenAI, Anthropic, Gemini, Azure deployment names, Bedrock model ids, inference
 * profile ids and ARNs (`arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic...`), and
 * Hugging Face / Ollama names (`meta-llama/Llama-3.1-8B`, `llama3.1:8b`).
 */
export const MODEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

export type ModelSource = 'body' | 'path' | 'query';

export function isValidModelName(name: string): boolean {
  return MODEL_NAME_RE.test(name) && !name.includes('..') && !name.includes('//') && !name.endsWith('/');
}

/** Returns the name if valid; otherwise throws model_invalid without echoing the value. */
export function checkModelName(name: string, source: ModelSource): string {
  if (!isValidModelName(name)) throw new ProviderError('model_invalid', `the model in the ${source} breaks the model-name rule (length ${Math.min(name.length, 10_000)})`);
  return name;
}
