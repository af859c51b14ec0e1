// A minimal JSON walker over raw text that reports every string token with its JSON path, without building
// the document. Redaction splices new string tokens into the original text, so every byte outside the
// replaced strings (numbers, whitespace, key order, other strings) is left exactly as the client sent it.
// The input must already be valid JSON (callers JSON.parse it first); the walk is linear.

export type PathKey = string | number;

export interface StringToken {
  /** Raw token bounds, quotes included. */
  readonly start: number;
  readonly end: number;
  readonly path: readonly PathKey[];
  /** True when the token is an object key rather than a value. */
  readonly isKey: boolean;
}

function stringEnd(raw: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const c = raw.charCodeAt(j);
    if (c === 34) return j + 1;
    if (c === 92) j += 2;
    else if (Number.isNaN(c)) throw new SyntaxError('unterminated string');
    else j++;
  }
}

interface Frame {
  kind: 'object' | 'array';
  key: PathKey;
  expectKey: boolean;
}

/** Calls visit for every string token; `wantPath` false skips path copies (faster) and passes []. */
export function walkStrings(raw: string, visit: (tok: StringToken) => void, wantPath = true): void {
  const stack: Frame[] = [];
  const path = (): PathKey[] => (wantPath ? stack.map((f) => f.key) : []);
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const c = raw.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 34) {
      const end = stringEnd(raw, i);
      if (top?.kind === 'object' && top.expectKey) {
        top.key = JSON.parse(raw.slice(i, end)) as string;
        top.expectKey = false;
        visit({ start: i, end, path: path(), isKey: true });
      } else visit({ start: i, end, path: path(), isKey: false });
      i = end;
    } else if (c === 123) {
      stack.push({ kind: 'object', key: '', expectKey: true });
      i++;
    } else if (c === 91) {
      stack.push({ kind: 'array', key: 0, expectKey: false });
      i++;
    } else if (c === 125 || c === 93) {
      stack.pop();
      i++;
    } else if (c === 44) {
      if (top?.kind === 'object') top.expectKey = true;
      else if (top?.kind === 'array') top.key = (top.key as number) + 1;
      i++;
    } else i++;
  }
}

export function pathKey(path: readonly PathKey[]): string {
  return JSON.stringify(path);
}

/** Replaces raw token spans with new text, right to left; `edits` must not overlap. */
export function splice(raw: string, edits: readonly { start: number; end: number; text: string }[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    out += raw.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + raw.slice(at);
}
