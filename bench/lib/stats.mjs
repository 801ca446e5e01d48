export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Spread as (max - min) / median, in percent. */
export function spread(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  const m = median(finite);
  return finite.length < 2 || !m ? 0 : ((Math.max(...finite) - Math.min(...finite)) / m) * 100;
}

export const fmt = {
  rps: (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a'),
  ratio: (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a'),
  pct: (v) => `±${v.toFixed(0)}%`,
  ms: (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a'),
  mib: (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`,
};
