/**
 * A model pattern is an exact model name, or a prefix followed by a single trailing "*"
 * ("gpt-4o*" matches "gpt-4o" and "gpt-4o-mini"; "*" matches every model).
 */
export type ModelMatcher = (model: string) => boolean;

export const MODEL_PATTERN_RE = /^(\*|[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}\*?)$/;

export function compileModelPatterns(patterns: readonly string[]): ModelMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return (model) => exact.has(model) || prefixes.some((prefix) => model.startsWith(prefix));
}
