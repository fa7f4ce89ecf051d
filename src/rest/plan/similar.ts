// Name similarity for PostgREST's "Perhaps you meant …" hints (PGRST200/202/205).

/**
 * 1 − normalised Levenshtein distance. Names longer than 64 characters score 0: identifiers are at
 * most 63, and the quadratic loop must not run on arbitrary request text.
 */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  if (a.length > 64 || b.length > 64) return 0;
  const d: number[] = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return 1 - d[b.length]! / Math.max(a.length, b.length, 1);
}
