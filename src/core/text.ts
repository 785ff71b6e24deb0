/** Small text helpers shared by every layer: bounded quoting, file-system error wording, "did you mean". */

/** Values come from the user's file: quoted and bounded, so messages stay one readable line. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/** "ENOENT: no such file or directory" without the path Node appends (the caller names it). */
export function fsProblem(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.split(', ')[0] ?? err.message;
}

/**
 * The edit distance of `a` and `b` (optimal string alignment: insertions, deletions,
 * substitutions and swaps of two neighbours each cost 1), case ignored.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // Three rows are enough: the swap looks two rows back.
  let before: number[] = [];
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
    }
    before = previous;
    previous = row;
  }
  return previous[t.length]!;
}

/**
 * The candidate `given` most likely misspells, if one is close enough: at most one edit
 * per three characters (one for short words), and never all of them. Ties go to the
 * first candidate.
 */
export function closest(given: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(Math.max(1, Math.floor(given.length / 3)), given.length - 1);
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    if (candidate === given) continue;
    // Lengths differing by more than the limit cannot be within it.
    if (Math.abs(candidate.length - given.length) > limit) continue;
    const d = editDistance(given, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** `did you mean "x"?` for the closest candidate, or '' when none is close: for messages. */
export function didYouMean(given: string, candidates: Iterable<string>, quoteWith: (s: string) => string = quote): string {
  const match = closest(given, candidates);
  return match === undefined ? '' : `did you mean ${quoteWith(match)}?`;
}
