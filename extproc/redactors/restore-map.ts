// Placeholders and their original values for one request. Lives in the request's memory only: values are
// wrapped in Secret, and the map itself prints as a count, so neither can reach a log line or an audit record.
import { inspect } from 'node:util';
import { Secret } from '../core/secret.ts';

/** `<TYPE_N>`: TYPE is upper-case letters, digits and '_'. */
export function placeholder(type: string, n: number): string {
  return `<${type}_${n}>`;
}

/** Every substring of `text` shaped like a placeholder (to avoid numbering collisions with literal text). */
export function placeholdersIn(text: string): string[] {
  const out: string[] = [];
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    let j = i + 1;
    const limit = Math.min(text.length, i + 66);
    while (j < limit) {
      const c = text.charCodeAt(j);
      if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95) j++;
      else break;
    }
    if (text.charCodeAt(j) === 62 && /^<[A-Z][A-Z0-9_]*_[0-9]+$/.test(text.slice(i, j))) out.push(text.slice(i, j + 1));
  }
  return out;
}

export class RestoreMap {
  readonly #byPlaceholder = new Map<string, Secret>();
  readonly #byValue = new Map<string, string>();
  readonly #next = new Map<string, number>();
  readonly #reserved = new Set<string>();
  #longest = 0;

  /** Placeholders that already occur literally in the request: never handed out. */
  reserve(literal: Iterable<string>): void {
    for (const p of literal) this.#reserved.add(p);
  }

  /** The placeholder for this value; the same value always gets the same placeholder. */
  placeholderFor(type: string, value: string): string {
    const key = `${type}\u0000${value}`;
    const known = this.#byValue.get(key);
    if (known !== undefined) return known;
    let n = this.#next.get(type) ?? 1;
    while (this.#reserved.has(placeholder(type, n))) n++;
    const p = placeholder(type, n);
    this.#next.set(type, n + 1);
    this.#byValue.set(key, p);
    this.#byPlaceholder.set(p, new Secret(value));
    this.#longest = Math.max(this.#longest, p.length);
    return p;
  }

  /** The original value of a placeholder. */
  valueOf(p: string): Secret | undefined {
    return this.#byPlaceholder.get(p);
  }

  get size(): number {
    return this.#byPlaceholder.size;
  }

  /** Length of the longest placeholder handed out (bounds restore hold-back). */
  get longestPlaceholder(): number {
    return this.#longest;
  }

  /** Placeholders, longest first. */
  placeholders(): string[] {
    return [...this.#byPlaceholder.keys()].sort((a, b) => b.length - a.length);
  }

  toJSON(): string {
    return `[restore map: ${this.size} placeholders]`;
  }

  toString(): string {
    return this.toJSON();
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}
