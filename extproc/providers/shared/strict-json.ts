// A strict JSON parser for request bodies. It accepts exactly RFC 8259 JSON, and additionally refuses what
// lets two parsers disagree about one document: invalid UTF-8, a byte-order mark, duplicate object keys at
// any depth (compared after unescaping, so "mod\u0065l" duplicates "model"), a lone surrogate written as an
// escape ("\ud800": not Unicode text, and parsers and detectors disagree on it), numbers outside the double
// range, and nesting deeper than a limit. One pass, linear time; errors carry a byte-free reason and an offset,
// never document text.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type StrictJsonReason = 'utf8' | 'lone_surrogate' | 'syntax' | 'duplicate_key' | 'depth' | 'number_range' | 'not_object';

/** Why a body was refused. `offset` is a character index into the decoded text (-1 for UTF-8 errors). */
export class StrictJsonError extends Error {
  readonly reason: StrictJsonReason;
  readonly offset: number;
  constructor(reason: StrictJsonReason, offset: number) {
    super(`strict JSON: ${reason} at offset ${offset}`);
    this.name = 'StrictJsonError';
    this.reason = reason;
    this.offset = offset;
  }
}

export const DEFAULT_MAX_DEPTH = 64;

// ignoreBOM: true keeps a leading U+FEFF in the text, where the parser refuses it as a syntax error.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// JSON forbids raw control characters inside strings.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f]/;

/** Decodes UTF-8 strictly (no replacement characters, no BOM stripping). */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new StrictJsonError('utf8', -1);
  }
}

/**
 * Parses any JSON value strictly. `loneSurrogates: 'allow'` is for provider responses, where a model that split
 * an emoji across tokens can emit one: refusing the whole answer would help no one, and scanning still sees the
 * text around it.
 */
export function parseStrictJson(input: Uint8Array | string, maxDepth = DEFAULT_MAX_DEPTH, loneSurrogates: 'refuse' | 'allow' = 'refuse'): JsonValue {
  const refuse = loneSurrogates === 'refuse';
  // Bytes decoded strictly cannot hold a lone surrogate; a string handed in may.
  if (refuse && typeof input === 'string' && !input.isWellFormed()) throw new StrictJsonError('lone_surrogate', -1);
  const s = typeof input === 'string' ? input : decodeUtf8Strict(input);
  return new Parser(s, maxDepth, refuse).document();
}

/** Parses a JSON object strictly; any other top-level value is refused with reason "not_object". */
export function parseStrictJsonObject(input: Uint8Array | string, maxDepth = DEFAULT_MAX_DEPTH): JsonObject {
  const doc = parseStrictJson(input, maxDepth);
  if (!isJsonObject(doc)) throw new StrictJsonError('not_object', 0);
  return doc;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Parser {
  readonly #s: string;
  readonly #maxDepth: number;
  readonly #refuseLoneSurrogates: boolean;
  #i = 0;
  // Index of the next backslash at or after #i (or Infinity). Searched forward only, so the total search is linear.
  #nextBackslash = -1;

  constructor(s: string, maxDepth: number, refuseLoneSurrogates: boolean) {
    this.#s = s;
    this.#maxDepth = maxDepth;
    this.#refuseLoneSurrogates = refuseLoneSurrogates;
  }

  document(): JsonValue {
    this.#ws();
    const v = this.#value(0);
    this.#ws();
    if (this.#i !== this.#s.length) this.#fail('syntax');
    return v;
  }

  #fail(reason: StrictJsonReason, at = this.#i): never {
    throw new StrictJsonError(reason, at);
  }

  #ws(): void {
    const s = this.#s;
    let i = this.#i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.#i = i;
  }

  #value(depth: number): JsonValue {
    const c = this.#s.charCodeAt(this.#i);
    if (c === 0x22) return this.#string();
    if (c === 0x7b) return this.#object(depth + 1);
    if (c === 0x5b) return this.#array(depth + 1);
    if (c === 0x74) return this.#literal('true', true);
    if (c === 0x66) return this.#literal('false', false);
    if (c === 0x6e) return this.#literal('null', null);
    return this.#number();
  }

  #literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.#s.startsWith(word, this.#i)) this.#fail('syntax');
    this.#i += word.length;
    return value;
  }

  #object(depth: number): JsonObject {
    if (depth > this.#maxDepth) this.#fail('depth');
    const s = this.#s;
    const obj: JsonObject = {};
    this.#i++;
    this.#ws();
    if (s.charCodeAt(this.#i) === 0x7d) {
      this.#i++;
      return obj;
    }
    for (;;) {
      if (s.charCodeAt(this.#i) !== 0x22) this.#fail('syntax');
      const keyAt = this.#i;
      const key = this.#string();
      if (Object.hasOwn(obj, key)) this.#fail('duplicate_key', keyAt);
      this.#ws();
      if (s.charCodeAt(this.#i) !== 0x3a) this.#fail('syntax');
      this.#i++;
      this.#ws();
      const v = this.#value(depth);
      // "__proto__" must become an own property, as JSON.parse makes it, not the object's prototype.
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      this.#ws();
      const c = s.charCodeAt(this.#i++);
      if (c === 0x7d) return obj;
      if (c !== 0x2c) this.#fail('syntax', this.#i - 1);
      this.#ws();
    }
  }

  #array(depth: number): JsonValue[] {
    if (depth > this.#maxDepth) this.#fail('depth');
    const s = this.#s;
    const arr: JsonValue[] = [];
    this.#i++;
    this.#ws();
    if (s.charCodeAt(this.#i) === 0x5d) {
      this.#i++;
      return arr;
    }
    for (;;) {
      arr.push(this.#value(depth));
      this.#ws();
      const c = s.charCodeAt(this.#i++);
      if (c === 0x5d) return arr;
      if (c !== 0x2c) this.#fail('syntax', this.#i - 1);
      this.#ws();
    }
  }

  #string(): string {
    const s = this.#s;
    const start = this.#i + 1;
    const end = s.indexOf('"', start);
    if (end < 0) this.#fail('syntax');
    if (this.#nextBackslash < start) {
      const b = s.indexOf('\\', start);
      this.#nextBackslash = b < 0 ? Infinity : b;
    }
    if (this.#nextBackslash > end) {
      const raw = s.slice(start, end);
      if (CONTROL.test(raw)) this.#fail('syntax', start);
      this.#i = end + 1;
      return raw;
    }
    return this.#escapedString(start);
  }

  // A string with escapes: find its closing quote (a quote preceded by an even run of backslashes), then let
  // the native parser decode exactly that literal, which also refuses bad escapes and raw control characters.
  #escapedString(start: number): string {
    const s = this.#s;
    let q = start - 1;
    for (;;) {
      q = s.indexOf('"', q + 1);
      if (q < 0) this.#fail('syntax', start);
      let k = q - 1;
      while (s.charCodeAt(k) === 0x5c) k--;
      if ((q - 1 - k) % 2 === 0) break;
    }
    let out: unknown;
    try {
      out = JSON.parse(s.slice(start - 1, q + 1));
    } catch {
      this.#fail('syntax', start);
    }
    // Only an escape can make a lone surrogate here (the text itself is well formed).
    if (this.#refuseLoneSurrogates && !(out as string).isWellFormed()) this.#fail('lone_surrogate', start);
    this.#i = q + 1;
    const b = s.indexOf('\\', this.#i);
    this.#nextBackslash = b < 0 ? Infinity : b;
    return out as string;
  }

  #number(): number {
    const s = this.#s;
    const start = this.#i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const first = s.charCodeAt(i);
    if (first === 0x30) {
      i++;
      const next = s.charCodeAt(i);
      if (next !== 0x2e && next !== 0x65 && next !== 0x45) {
        this.#i = i;
        return i - start === 2 ? -0 : 0;
      }
    } else if (first >= 0x31 && first <= 0x39) {
      // Fast path: a short integer is accumulated directly.
      let v = 0;
      const from = i;
      for (;;) {
        const c = s.charCodeAt(i);
        if (!(c >= 0x30 && c <= 0x39)) break; // NaN past the end also stops
        v = v * 10 + (c - 0x30);
        i++;
      }
      const next = s.charCodeAt(i);
      if (i - from <= 15 && next !== 0x2e && next !== 0x65 && next !== 0x45) {
        this.#i = i;
        return s.charCodeAt(start) === 0x2d ? -v : v;
      }
    } else this.#fail('syntax', start);
    if (s.charCodeAt(i) === 0x2e) {
      const j = this.#digits(i + 1);
      if (j === i + 1) this.#fail('syntax', i);
      i = j;
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const j = this.#digits(i);
      if (j === i) this.#fail('syntax', i);
      i = j;
    }
    const n = Number(s.slice(start, i));
    if (!Number.isFinite(n)) this.#fail('number_range', start);
    this.#i = i;
    return n;
  }

  #digits(from: number): number {
    const s = this.#s;
    let i = from;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) i++;
      else return i;
    }
  }
}
