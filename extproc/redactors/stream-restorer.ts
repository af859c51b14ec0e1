// Placeholder restore for streamed text, per channel. A suffix that could still become a placeholder
// ("<EMA") is held back until the next delta of the same channel completes or rules it out, so a placeholder
// split across chunks or across events is restored whole. Hold-back is bounded by the longest placeholder.
import type { RestoreMap } from './restore-map.ts';
import { restoreText } from './restore.ts';

export interface ChannelTransform {
  /** New text for a channel; returns the text to emit now (the rest is held back). */
  push(channel: string, text: string): string;
  /** Releases everything held for the channel. */
  flush(channel: string): string;
  /** Channels that hold text. */
  held(): string[];
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

export class StreamRestorer implements ChannelTransform {
  readonly #map: RestoreMap;
  readonly #held = new Map<string, string>();
  restored = 0;

  constructor(map: RestoreMap) {
    this.#map = map;
  }

  push(channel: string, text: string): string {
    const buf = (this.#held.get(channel) ?? '') + text;
    const cut = this.#map.size === 0 ? buf.length : partialPlaceholderStart(buf, this.#map.longestPlaceholder);
    if (cut < buf.length) this.#held.set(channel, buf.slice(cut));
    else this.#held.delete(channel);
    const r = restoreText(buf.slice(0, cut), this.#map);
    this.restored += r.restored;
    return r.text;
  }

  flush(channel: string): string {
    const h = this.#held.get(channel) ?? '';
    this.#held.delete(channel);
    return h;
  }

  held(): string[] {
    return [...this.#held.keys()];
  }
}
