/** Binary search over sorted arrays. */

/** The first index whose element is not less than `probe` (where it would be inserted). */
export function lowerBound<T, P>(sorted: readonly T[], probe: P, compare: (element: T, probe: P) => number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compare(sorted[mid] as T, probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
