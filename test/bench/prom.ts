// Reading Prometheus text exposition: the sum of every series of one metric name.

/**
 * Sums the samples of `name` over all label sets. `name` is matched exactly (so `x_sum` does not
 * match `x_sum_total`); comments are skipped. Returns 0 if the metric is absent.
 */
export function sumMetric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || !line.startsWith(name)) continue;
    const next = line.charAt(name.length);
    if (next !== '{' && next !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

/** Counters that grew between two scrapes, divided by `per` (e.g. the requests in the window). */
export function metricDeltas(before: string, after: string, names: readonly string[], per: number): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, per > 0 ? (sumMetric(after, n) - sumMetric(before, n)) / per : 0]));
}
