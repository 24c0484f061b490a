/**
 * "Did you mean" hints for mistyped names: settings, options, job names.
 * The closest name wins when it is within a third of the given name's
 * length (at least 2 edits); otherwise there is no hint.
 * @module
 */

/** The edit distance of two strings (Levenshtein). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        row[j] + 1,
        next[j - 1] + 1,
        row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length];
}

/** Case, dashes, underscores and dots do not count as differences. */
function norm(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, "");
}

/**
 * The closest of `names` to `given` within `maxEdits` edits (case, dashes,
 * underscores and dots ignored), or undefined; by default within a third
 * of the given name's length, at least 2 edits.
 */
export function closestName(
  given: string,
  names: Iterable<string>,
  maxEdits = Math.max(2, Math.floor(norm(given).length / 3)),
): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = distance(norm(given), norm(name));
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= maxEdits ? best : undefined;
}

/** ` (did you mean 'x'?)` for the closest of `names`, if one is close. */
export function didYouMean(given: string, names: Iterable<string>): string {
  const best = closestName(given, names);
  return best !== undefined ? ` (did you mean '${best}'?)` : "";
}

/**
 * Throws a TypeError for the first key of `value` not in `known`:
 * `Unknown option 'delya' of tasks.queue (did you mean 'delay'?); known: ...`.
 */
export function checkKnownKeys(
  value: object,
  known: readonly string[],
  what: string,
): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown === undefined) return;
  throw new TypeError(
    `Unknown option '${unknown}' of ${what}${
      didYouMean(unknown, known)
    }; known options: ${known.join(", ")}`,
  );
}
