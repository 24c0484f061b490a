/**
 * How long a retry waits: a job's or a task's `retryDelay`, either seconds
 * (every retry waits as long) or a backoff, whose delay grows with each
 * attempt. The delay of each retry is computed when the attempt before it
 * ends, and stored in the retry's record (`delay`).
 *
 * Invariants: a checked `retryDelay` always gives a finite delay >= 0, at
 * most `max` for a backoff; with `jitter`, the delay is drawn from its upper
 * half, so retries of tasks that failed together spread out but never come
 * sooner than half the backoff.
 * @module
 */
import { describeValue } from "./errors.ts";

/**
 * A delay that grows with each attempt: `base × 2^(n-1)` seconds before the
 * n-th retry (exponential), at most `max`.
 *
 * @example
 * ```ts
 * import type { Backoff } from "@pq/queue";
 * // 1 s, 2 s, 4 s ... then 300 s, each drawn from its upper half.
 * const backoff: Backoff = { type: "exponential", base: 1, max: 300, jitter: true };
 * ```
 */
export interface Backoff {
  /** How the delay grows; `exponential` doubles it with each retry. */
  type: "exponential";
  /** Seconds before the first retry (> 0). */
  base: number;
  /** The longest delay in seconds (>= base); 1 day when absent. */
  max?: number;
  /** Draw each delay at random from its upper half (false when absent). */
  jitter?: boolean;
}

/** Seconds before every retry, or a {@linkcode Backoff}. */
export type RetryDelay = number | Backoff;

/** The longest delay of a backoff without `max`: one day. */
const DEFAULT_MAX_SECONDS = 86_400;

const BACKOFF_KEYS: ReadonlySet<string> = new Set([
  "type",
  "base",
  "max",
  "jitter",
]);

/**
 * Why `value` is not a {@linkcode RetryDelay}, or undefined when it is one:
 * a number of seconds >= 0, or a backoff with a known `type`, a `base` > 0,
 * a `max` >= `base` and a boolean `jitter`.
 */
export function retryDelayProblem(value: unknown): string | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0
      ? undefined
      : `a number of seconds >= 0 or a backoff, not ${value}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `a number of seconds >= 0 or a backoff ({ type: "exponential", base, max?, jitter? }), not ${
      describeValue(value)
    }`;
  }
  const backoff = value as Record<string, unknown>;
  for (const key of Object.keys(backoff)) {
    if (!BACKOFF_KEYS.has(key)) {
      return `a backoff of ${
        [...BACKOFF_KEYS].join(", ")
      }: unknown key '${key}'`;
    }
  }
  const { type, base, max, jitter } = backoff;
  if (type !== "exponential") {
    return `a backoff 'type' of "exponential", not ${describeValue(type)}`;
  }
  if (!(typeof base === "number" && Number.isFinite(base) && base > 0)) {
    return `a backoff 'base' in seconds > 0, not ${describeValue(base)}`;
  }
  if (
    max !== undefined &&
    !(typeof max === "number" && Number.isFinite(max) && max >= base)
  ) {
    return `a backoff 'max' in seconds >= its base (${base}), not ${
      describeValue(max)
    }`;
  }
  if (jitter !== undefined && typeof jitter !== "boolean") {
    return `a backoff 'jitter' of true or false, not ${describeValue(jitter)}`;
  }
  return undefined;
}

/**
 * The seconds the retry after attempt `attempt` (1 for the first run) waits.
 * `random` is `Math.random` unless a test gives its own.
 *
 * @example
 * ```ts
 * import { retryDelaySeconds } from "./retry_delay.ts";
 * const backoff = { type: "exponential", base: 1, max: 300 } as const;
 * retryDelaySeconds(backoff, 1); // 1
 * retryDelaySeconds(backoff, 4); // 8
 * retryDelaySeconds(backoff, 20); // 300
 * ```
 */
export function retryDelaySeconds(
  delay: RetryDelay,
  attempt: number,
  random: () => number = Math.random,
): number {
  if (typeof delay === "number") return delay;
  const max = delay.max ?? DEFAULT_MAX_SECONDS;
  // 2^(attempt-1) grows past any max within 1100 attempts: stop there.
  const grown = Math.min(
    max,
    delay.base * 2 ** Math.min(Math.max(attempt - 1, 0), 1100),
  );
  return delay.jitter ? grown / 2 + (grown / 2) * random() : grown;
}
