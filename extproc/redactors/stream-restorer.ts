// Placeholder restore for streamed text, per channel. A suffix that could still become a placeholder
// ("<EMA") is held back until the next delta of the same channel completes or rules it out, so a placeholder
// split across chunks or across events is restored whole. Hold-back is bounded by the longest placeholder.
// Text is tagged with its origin (tagged-text.ts): a restored value goes where its placeholder started.
import type { RestoreMap } from './restore-map.ts';
import { restoreEdits } from './restore.ts';
import { TaggedText, type Run } from './tagged-text.ts';

export interface ChannelTransform {
  /** New text for a channel; returns the text to emit now (the rest is held back). */
  push(channel: string, runs: readonly Run[]): Run[];
  /** Releases everything held for the channel. */
  flush(channel: string): Run[];
  /** Channels that hold text. */
  held(): string[];
  /** The oldest tag still held in any channel, or undefined when nothing is held. */
  oldestHeld(): number | undefined;
}

const isPlaceholderBody = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;

/** Start of the suffix of `s` that is a proper prefix of a placeholder shape ("<", "<EM", "<EMAIL_1"), or s.length. */
export function partialPlaceholderStart(s: string, maxLen: number): number {
  const from = Math.max(0, s.length - maxLen + 1);
  const lt = s.lastIndexOf('<');
  if (lt < from) return s.length;
  for (let k = lt + 1; k < s.length; k++) if (!isPlaceholderBody(s.charCodeAt(k))) return s.length;
  return lt;
}

export function oldestOf(held: Iterable<TaggedText>): number | undefined {
  let min: number | undefined;
  for (const t of held) {
    const f = t.firstTag;
    if (f !== undefined && (min === undefined || f < min)) min = f;
  }
  return min;
}

export class StreamRestorer implements ChannelTransform {
  readonly #map: RestoreMap;
  readonly #held = new Map<string, TaggedText>();
  restored = 0;

  constructor(map: RestoreMap) {
    this.#map = map;
  }

  push(channel: string, runs: readonly Run[]): Run[] {
    const buf = this.#held.get(channel) ?? new TaggedText();
    buf.append(runs);
    const text = buf.text;
    const cut = this.#map.size === 0 ? text.length : partialPlaceholderStart(text, this.#map.longestPlaceholder);
    const { edits } = restoreEdits(text.slice(0, cut), this.#map);
    this.restored += edits.length;
    const out = buf.take(cut, edits);
    if (buf.length > 0) this.#held.set(channel, buf);
    else this.#held.delete(channel);
    return out;
  }

  flush(channel: string): Run[] {
    const h = this.#held.get(channel);
    this.#held.delete(channel);
    return h === undefined ? [] : h.take(h.length);
  }

  held(): string[] {
    return [...this.#held.keys()];
  }

  oldestHeld(): number | undefined {
    return oldestOf(this.#held.values());
  }
}
