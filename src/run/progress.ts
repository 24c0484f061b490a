/**
 * The rate limit of `ctx.progress`: a job may report progress in a tight
 * loop, and at most one write per {@linkcode PROGRESS_INTERVAL_MS} leaves
 * for the store (or, from a Web Worker or subprocess, for the worker).
 *
 * Invariants of a {@linkcode ProgressThrottle}:
 * - the first report is written at once (leading); later ones within the
 *   interval coalesce, and the latest is written when the interval ends
 *   (trailing): the last value said is never overtaken by an older one;
 * - one write at a time: a write never starts before the one before it
 *   settled, so writes land in the order of the values;
 * - after `close()`, nothing is written; `close()` waits for the write in
 *   flight, and writes the pending value only when asked to (`flush`).
 * @module
 */
import type { TaskProgress } from "../model/task.ts";

/** The fewest milliseconds between two progress writes of one task. */
export const PROGRESS_INTERVAL_MS = 250;

/** Options of a {@linkcode ProgressThrottle}. */
export interface ProgressThrottleOptions {
  /** The fewest milliseconds between two writes (default 250). */
  intervalMs?: number;
  /** Called when a write throws or rejects; the throttle goes on. */
  onError?: (error: unknown) => void;
}

/** Coalesces progress reports into at most one write per interval. */
export class ProgressThrottle {
  readonly #write: (progress: TaskProgress) => unknown;
  readonly #intervalMs: number;
  readonly #onError: (error: unknown) => void;
  #latest?: TaskProgress;
  /** True when `#latest` has not been handed to a write yet. */
  #pending = false;
  /** When the last write began (ms, `performance.now()`). */
  #lastWrite = -Infinity;
  #timer?: ReturnType<typeof setTimeout>;
  #inFlight?: Promise<void>;
  #closed = false;

  /** `write` sends one progress on (it may be async); see the module. */
  constructor(
    write: (progress: TaskProgress) => unknown,
    options: ProgressThrottleOptions = {},
  ) {
    this.#write = write;
    this.#intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
    this.#onError = options.onError ?? (() => {});
  }

  /** The last progress reported (written or not), if any. */
  get latest(): TaskProgress | undefined {
    return this.#latest;
  }

  /** Reports a progress: written now, or with the next write. */
  push(progress: TaskProgress): void {
    if (this.#closed) return;
    this.#latest = progress;
    this.#pending = true;
    this.#schedule();
  }

  /**
   * Stops writing: waits for the write in flight, then writes the pending
   * value when `flush`, or drops it. Resolves with the last progress.
   */
  async close(
    options: { flush: boolean },
  ): Promise<TaskProgress | undefined> {
    if (!this.#closed) {
      this.#closed = true;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#inFlight;
      if (options.flush && this.#pending && this.#latest) {
        this.#pending = false;
        await this.#send(this.#latest);
      }
    }
    return this.#latest;
  }

  #schedule(): void {
    if (!this.#pending || this.#closed) return;
    if (this.#timer !== undefined || this.#inFlight !== undefined) return;
    const wait = this.#lastWrite + this.#intervalMs - performance.now();
    if (wait <= 0) return this.#writeLatest();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writeLatest();
    }, wait);
  }

  #writeLatest(): void {
    if (!this.#pending || this.#closed || !this.#latest) return;
    this.#pending = false;
    this.#lastWrite = performance.now();
    this.#inFlight = this.#send(this.#latest).finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
  }

  async #send(progress: TaskProgress): Promise<void> {
    try {
      await this.#write(progress);
    } catch (error) {
      this.#onError(error);
    }
  }
}
