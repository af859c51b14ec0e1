// Name patterns for MCP tools, prompts and resources in grants: literal text where "*" stands for any run of
// characters (none included): "search_*", "*_read", "file:///docs/*", "*". No other metacharacters, so a URI's
// "?" or "[" is literal. Matching is linear: the parts between stars are found in order with indexOf.

export type NameMatcher = (name: string) => boolean;

function compileOne(pattern: string): NameMatcher {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  return (name) => {
    if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
    let at = first.length;
    const end = name.length - last.length;
    for (const part of middle) {
      const found = name.indexOf(part, at);
      if (found < 0 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}

/** One matcher for a list of patterns (any may match); an empty list matches nothing. */
export function compileNamePatterns(patterns: readonly string[]): NameMatcher {
  const matchers = patterns.map(compileOne);
  return (name) => matchers.some((m) => m(name));
}
