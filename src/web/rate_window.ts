/**
 * A ring buffer of counts per second over a fixed window (15 minutes for the
 * dashboard's chart, a minute for each queue's throughput), by key (a status
 * name, or one key for a total).
 *
 * Invariants: memory is `seconds × keys` numbers whatever the rate; a slot
 * holds the counts of one whole second (Unix seconds, floored) and is
 * cleared when the ring comes round to it again; counts older than the
 * window are never reported.
 * @module
 */

/** The counts of one second, by key. */
export type SecondCounts = Record<string, number>;

/**
 * Counts per second over the last `seconds` seconds.
 *
 * @example
 * ```ts
 * import { RateWindow } from "./rate_window.ts";
 * const rate = new RateWindow(900, ["SUCCESS", "FAILURE"]);
 * rate.count("SUCCESS", 1_700_000_000.2);
 * rate.series(1_700_000_001).SUCCESS.at(-2); // 1
 * ```
 */
export class RateWindow {
  /** The length of the window, in seconds. */
  readonly seconds: number;
  /** The keys counted, in order. */
  readonly keys: readonly string[];
  readonly #stamps: Float64Array;
  readonly #counts: Map<string, Float64Array>;

  /**
   * @param seconds How many seconds the window holds (at least 1).
   * @param keys The keys counted; `count` ignores any other.
   */
  constructor(seconds: number, keys: readonly string[]) {
    if (!Number.isInteger(seconds) || seconds < 1) {
      throw new RangeError(
        `A rate window needs a whole number of seconds >= 1: got ${seconds}`,
      );
    }
    this.seconds = seconds;
    this.keys = [...keys];
    this.#stamps = new Float64Array(seconds).fill(-1);
    this.#counts = new Map(
      this.keys.map((key) => [key, new Float64Array(seconds)]),
    );
  }

  /** Adds `n` (default 1) to `key` at `time` (Unix seconds). */
  count(key: string, time: number, n = 1): void {
    const counts = this.#counts.get(key);
    if (!counts || !Number.isFinite(time)) return;
    const second = Math.floor(time);
    const slot = this.#slot(second);
    if (slot >= 0) counts[slot] += n;
  }

  /** The counts of one second (zeros when it is out of the window). */
  at(second: number): SecondCounts {
    const slot = Math.floor(second) % this.seconds;
    const live = this.#stamps[slot] === Math.floor(second);
    return Object.fromEntries(
      this.keys.map((key) => [key, live ? this.#counts.get(key)![slot] : 0]),
    );
  }

  /**
   * Every second of the window that ends at `now` (its last entry is the
   * current, unfinished second): `start` is the first second, and each key
   * has `seconds` counts.
   */
  series(now: number): { start: number } & Record<string, number[]> {
    const end = Math.floor(now);
    const start = end - this.seconds + 1;
    const out: Record<string, number[]> = {};
    for (const key of this.keys) out[key] = new Array(this.seconds).fill(0);
    for (let i = 0; i < this.seconds; i++) {
      const counts = this.at(start + i);
      for (const key of this.keys) out[key][i] = counts[key];
    }
    return Object.assign(out, { start }) as
      & { start: number }
      & Record<string, number[]>;
  }

  /** The sum of `key` over the last `seconds` whole seconds before `now`. */
  sum(key: string, now: number, seconds = this.seconds): number {
    const end = Math.floor(now);
    let total = 0;
    for (let s = end - Math.min(seconds, this.seconds); s < end; s++) {
      total += this.at(s)[key] ?? 0;
    }
    return total;
  }

  /**
   * The slot of a second, cleared if it held an older second; -1 for a
   * second older than the one its slot holds (out of the window).
   */
  #slot(second: number): number {
    const slot = second % this.seconds;
    if (this.#stamps[slot] > second) return -1;
    if (this.#stamps[slot] !== second) {
      this.#stamps[slot] = second;
      for (const counts of this.#counts.values()) counts[slot] = 0;
    }
    return slot;
  }
}
