// "Did you mean" for keys and enum values.
import { distance } from 'fastest-levenshtein';

/** Levenshtein distance, except that swapping two neighbours (`GTE`/`GET`) costs 1. */
function editDistance(a: string, b: string): number {
  if (a.length === b.length) {
    const diff = [...a].flatMap((ch, i) => (ch === b[i] ? [] : [i]));
    if (diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!]) return 1;
  }
  return distance(a, b);
}

/**
 * The candidate `input` most likely misspells, or undefined when none is close.
 * A case-insensitive match wins outright (`get` → `GET`, `pathprefix` →
 * `pathPrefix`); otherwise one typo is allowed per four letters, so `GTE` →
 * `GET` and `metod` → `method` are suggested but `FETCH` → `PATCH` is not. A
 * word containing, or contained in, exactly one candidate also counts
 * (`prefix` → `pathPrefix`, `warning` → `warn`).
 *
 * @example suggest('metod', ['path', 'method', 'handler']) // 'method'
 */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  const sameCase = candidates.find((c) => c.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(input.length, best.length) / 4))) return best;
  // A shortened or lengthened name (`prefix` → `pathPrefix`, `warning` → `warn`),
  // when only one candidate fits.
  const related = candidates.filter((c) => {
    const other = c.toLowerCase();
    return (lower.length >= 4 && other.includes(lower)) || (other.length >= 4 && lower.includes(other));
  });
  return related.length === 1 ? related[0] : undefined;
}
