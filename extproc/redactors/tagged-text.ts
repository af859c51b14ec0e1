// Text that remembers where each character came from. The SSE transform tags every text delta with the
// number of the event field it arrived in; the stream stages (leak scanner, restorer) hold and release tagged
// text, so released text can go back into its own event, and a replacement that spans several deltas (a
// masked secret split across events) goes into the earliest of them.

/** A run of text from one origin (an event field). */
export interface Run {
  readonly tag: number;
  readonly text: string;
}

/** A replacement of `[start, end)` by `text`. */
export interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

interface Span {
  tag: number;
  len: number;
}

/** Appends a run, merging it into the previous one when both have the same tag. */
export function pushRun(out: Run[], tag: number, text: string): void {
  if (text === '') return;
  const last = out.at(-1);
  if (last?.tag === tag) out[out.length - 1] = { tag, text: last.text + text };
  else out.push({ tag, text });
}


export class TaggedText {
  #text = '';
  readonly #spans: Span[] = [];

  get text(): string {
    return this.#text;
  }

  get length(): number {
    return this.#text.length;
  }

  /** The tag of the oldest character held, or undefined when empty (tags never decrease along the text). */
  get firstTag(): number | undefined {
    return this.#spans[0]?.tag;
  }

  append(runs: readonly Run[]): void {
    for (const r of runs) {
      if (r.text === '') continue;
      this.#text += r.text;
      const last = this.#spans.at(-1);
      if (last?.tag === r.tag) last.len += r.text.length;
      else this.#spans.push({ tag: r.tag, len: r.text.length });
    }
  }

  /** The tag of the character at `at` (the last tag for at ≥ length). */
  tagAt(at: number): number {
    let end = 0;
    for (const s of this.#spans) {
      end += s.len;
      if (at < end) return s.tag;
    }
    return this.#spans.at(-1)?.tag ?? 0;
  }

  /**
   * Removes the first `cut` characters and returns them as runs, with `edits` (sorted, not overlapping, inside
   * [0, cut)) applied: unchanged text keeps its own tags, a replacement takes the tag of its first character.
   */
  take(cut: number, edits: readonly Edit[] = []): Run[] {
    const out: Run[] = [];
    let at = 0;
    for (const e of edits) {
      this.#copy(out, at, e.start);
      pushRun(out, this.tagAt(e.start), e.text);
      at = e.end;
    }
    this.#copy(out, at, cut);
    this.#drop(cut);
    return out;
  }

  /** Copies [from, to) unchanged into `out`, split by origin. */
  #copy(out: Run[], from: number, to: number): void {
    let start = 0;
    for (const s of this.#spans) {
      const end = start + s.len;
      const a = Math.max(from, start);
      const b = Math.min(to, end);
      if (a < b) pushRun(out, s.tag, this.#text.slice(a, b));
      if (end >= to) break;
      start = end;
    }
  }

  #drop(n: number): void {
    this.#text = this.#text.slice(n);
    let left = n;
    while (left > 0 && this.#spans.length > 0) {
      const s = this.#spans[0];
      if (s === undefined) break;
      if (s.len <= left) {
        left -= s.len;
        this.#spans.shift();
      } else {
        s.len -= left;
        left = 0;
      }
    }
  }
}
