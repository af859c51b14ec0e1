// Pure statistics for the benchmark: median over rounds, nearest-rank percentiles, ratios.

/** Nearest-rank percentile (p in 0..100) of a non-empty list; NaN for an empty one. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p=${p}`);
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

/** Median (mean of the two middle values for an even count); NaN for an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** value / base, or NaN when either is missing or the base is not positive. */
export function ratio(value: number | undefined, base: number | undefined): number {
  if (value === undefined || base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base <= 0) return NaN;
  return value / base;
}

/** "2.31×", or "–" when not a number. */
export function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
}

/** Relative spread of a list: (max − min) / median; 0 for fewer than two values. */
export function spread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = median(xs);
  return m > 0 ? (Math.max(...xs) - Math.min(...xs)) / m : NaN;
}
