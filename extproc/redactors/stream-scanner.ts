// Leak scanning for streamed text, per channel. Text is released only when no match can still be growing
// across it: the last `holdBack` characters, any trailing run without whitespace (a token still arriving, up to
// `maxHoldBack`), an unterminated private-key block, and any match that crosses the cut are held. Findings are
// masked with placeholders before release. A finding that reaches back into text already released (a value
// longer than the hold-back) cannot be masked in time: the scanner reports failure and the stream must be failed.
import type { Scanner } from '../detectors/scanner.ts';
import { oldestOf, type ChannelTransform } from './stream-restorer.ts';
import { TaggedText, type Edit, type Run } from './tagged-text.ts';

export interface StreamFinding {
  readonly detector: string;
  readonly type: string;
  readonly channel: string;
  /** Offsets into the channel's complete text (as the upstream sent it). */
  readonly start: number;
  readonly end: number;
}

export interface StreamScanOptions {
  /** Characters always held back (default 64: covers spaced cards, IBANs, phone numbers). */
  readonly holdBack?: number;
  /** Upper bound on held characters per channel (default 16384). */
  readonly maxHoldBack?: number;
}

interface ChannelState {
  /** Tail of released text (unmasked), for matches reaching back across the cut. */
  ctx: string;
  /** Held text, tagged with the event field each character arrived in. */
  pending: TaggedText;
  /** Channel offset of pending[0]. */
  offset: number;
  /** Part of an unfinished run was forced out (maxHoldBack): ctx keeps the whole run until it ends. */
  forced: boolean;
}

/**
 * What a leaked value is replaced with. Deliberately not placeholder-shaped ("<TYPE_N>"), so the restorer that
 * runs after the leak scanner can never turn it into a request value.
 */
export function leakMark(type: string): string {
  return `[REDACTED:${type}]`;
}

/** Released text kept for matching: context words sit up to 60 characters before a match. */
const CONTEXT = 128;
/** Context kept for a forced-out run: findings up to this long are still caught (as a stream failure). */
const FORCED_CONTEXT = 65536;

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

export class StreamLeakScanner implements ChannelTransform {
  readonly #scanner: Scanner;
  readonly #holdBack: number;
  readonly #maxHoldBack: number;
  readonly #channels = new Map<string, ChannelState>();
  readonly findings: StreamFinding[] = [];
  failed = false;

  constructor(scanner: Scanner, options: StreamScanOptions = {}) {
    this.#scanner = scanner;
    this.#holdBack = options.holdBack ?? 64;
    this.#maxHoldBack = Math.max(this.#holdBack, options.maxHoldBack ?? 16384);
  }

  push(channel: string, runs: readonly Run[]): Run[] {
    const st = this.#channels.get(channel) ?? { ctx: '', pending: new TaggedText(), offset: 0, forced: false };
    this.#channels.set(channel, st);
    st.pending.append(runs);
    return this.#release(channel, st, 'natural');
  }

  flush(channel: string): Run[] {
    const st = this.#channels.get(channel);
    if (st === undefined) return [];
    const out = this.#release(channel, st, 'end');
    this.#channels.delete(channel);
    return out;
  }

  /**
   * Releases everything held for a channel that has not ended (the caller cannot wait any longer). Complete
   * findings are masked; the released text stays as context, so a finding completed later that reaches back
   * into it fails the stream instead of slipping through.
   */
  force(channel: string): Run[] {
    const st = this.#channels.get(channel);
    return st === undefined ? [] : this.#release(channel, st, 'force');
  }

  held(): string[] {
    return [...this.#channels.entries()].filter(([, s]) => s.pending.length > 0).map(([k]) => k);
  }

  oldestHeld(): number | undefined {
    return oldestOf([...this.#channels.values()].map((s) => s.pending));
  }

  /** Where release may stop without cutting a possible match (before applying maxHoldBack). */
  #naturalCut(pend: string): number {
    const n = pend.length;
    let cut = Math.max(0, n - this.#holdBack);
    let t = n;
    const floor = Math.max(0, n - this.#maxHoldBack - 1);
    while (t > floor && !isSpace(pend.charCodeAt(t - 1))) t--;
    cut = Math.min(cut, t);
    const begin = pend.lastIndexOf('-----BEGIN', n);
    if (begin !== -1 && pend.indexOf('-----END', begin) === -1) cut = Math.min(cut, begin);
    return cut;
  }

  #release(channel: string, st: ChannelState, mode: 'natural' | 'end' | 'force'): Run[] {
    if (this.failed) return [];
    const pend = st.pending.text;
    const ctxLen = st.ctx.length;
    const found = this.#scanner.scan(st.ctx + pend);
    const natural = mode === 'natural' ? this.#naturalCut(pend) : pend.length;
    const floor = Math.max(0, pend.length - this.#maxHoldBack);
    const forcedNow = natural < floor || (mode === 'force' && natural > this.#naturalCut(pend));
    let cut = Math.max(natural, floor);
    for (const f of found) {
      const fs = f.start - ctxLen;
      const fe = f.end - ctxLen;
      if (fe <= 0) continue; // wholly inside text released earlier: it was judged then
      if (fs < 0) {
        this.failed = true;
        this.findings.push({ detector: f.detector, type: f.type, channel, start: st.offset + fs, end: st.offset + fe });
        return [];
      }
      if (fs < cut && fe > cut) cut = fe <= pend.length - this.#maxHoldBack ? fe : fs;
    }
    const edits: Edit[] = [];
    for (const f of found) {
      const fs = f.start - ctxLen;
      const fe = f.end - ctxLen;
      if (fs < 0 || fe > cut) continue;
      edits.push({ start: fs, end: fe, text: leakMark(f.type) });
      this.findings.push({ detector: f.detector, type: f.type, channel, start: st.offset + fs, end: st.offset + fe });
    }
    const released = pend.slice(0, cut);
    const out = st.pending.take(cut, edits);
    // While a forced-out run is unfinished, keep all of it as context, so a match completed later that starts in
    // the released part is seen (and fails the stream) instead of slipping through unseen.
    st.forced = forcedNow || (st.forced && !/\s/.test(released));
    st.ctx = (st.ctx + released).slice(-(st.forced ? FORCED_CONTEXT : Math.max(CONTEXT, this.#holdBack)));
    st.offset += cut;
    return out;
  }
}
