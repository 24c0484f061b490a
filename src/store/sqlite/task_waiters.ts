/**
 * The callers of `waitForTasks` in one process of the embedded store, and
 * when each is woken: at once when this process queues a task, at the time
 * its next delayed task is due, and when the change loop sees another
 * process commit and a look finds a due task. A waiter hands nothing over:
 * once woken, its caller claims.
 *
 * Invariants:
 * - A waiter ends once, by its deadline at the latest; its signal or the
 *   store's close ends it sooner.
 * - A paused queue's tasks wake no one (the statements skip its tasks).
 * @module
 */
import type { Claim } from "../store.ts";
import type { ChangeLoopStats, LoopControl } from "./loop_control.ts";
import { POLL_MS } from "./loop_control.ts";
import { byPriority, type Statements } from "./statements.ts";

/** A caller of `waitForTasks`. */
interface Waiter {
  queues: readonly string[];
  /** When (`Date.now()`) it stops waiting. */
  deadline: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Stops waiting (idempotent). */
  done(): void;
}

/** What the waiters of a store read with. */
export interface TaskWaitersOptions {
  sql: Statements;
  /** The store's clock, Unix seconds. */
  now: () => number;
  /** Where their reads are counted. */
  stats: ChangeLoopStats;
  /** The change loop: it runs while anyone waits. */
  loop: LoopControl;
}

/** The callers of one store waiting for a task to claim. */
export class TaskWaiters {
  readonly #sql: Statements;
  readonly #now: () => number;
  readonly #stats: ChangeLoopStats;
  readonly #loop: LoopControl;
  readonly #waiters = new Set<Waiter>();
  #closed = false;

  constructor(options: TaskWaitersOptions) {
    this.#sql = options.sql;
    this.#now = options.now;
    this.#stats = options.stats;
    this.#loop = options.loop;
  }

  /** Whether anyone in this process waits. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  /**
   * Resolves (with no claim: the caller claims then) once a task of the
   * queues may be due, after `seconds`, or when `signal` aborts.
   */
  wait(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    return new Promise<Claim[]>((resolve) => {
      if (signal?.aborted || this.#closed || !(seconds > 0)) return resolve([]);
      const waiter: Waiter = {
        queues,
        deadline: Date.now() + seconds * 1000,
        done: () => {
          clearTimeout(waiter.timer);
          if (!this.#waiters.delete(waiter)) return;
          signal?.removeEventListener("abort", waiter.done);
          this.#loop.stopIfIdle();
          resolve([]);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", waiter.done, { once: true });
      this.#loop.start();
      // The caller has just found nothing it could claim: a task due now is
      // held back (its job's maxConcurrency), so look again in one interval.
      this.#lookForTasks(waiter, POLL_MS);
    });
  }

  /** Ends every wait of this process: it has just queued tasks. */
  wakeAll(): void {
    for (const waiter of [...this.#waiters]) waiter.done();
  }

  /**
   * Every waiter looks again for due tasks: another process committed, or
   * a queue was paused (no timer left for its delayed tasks).
   */
  lookAgain(): void {
    for (const waiter of [...this.#waiters]) this.#lookForTasks(waiter);
  }

  /** Ends every wait, and any later one at once (the store closes). */
  close(): void {
    this.#closed = true;
    this.wakeAll();
  }

  /**
   * Ends the wait when a task of its queues is due; else sets its timer for
   * the next due task (at least `minMs` away) or for its deadline. Tasks
   * queued later by other processes are seen by the change loop, which
   * calls this again.
   */
  #lookForTasks(waiter: Waiter, minMs = 0): void {
    if (this.#closed) return waiter.done();
    let next = Infinity;
    try {
      for (const queue of waiter.queues) {
        this.#stats.reads++;
        byPriority(this.#sql, queue, (priority) => {
          const { due } = this.#sql.nextDue.get(queue, priority) as {
            due: number | null;
          };
          if (due !== null && due < next) next = due;
          return false;
        });
        // The tasks of its groups (fair queues), by their own index.
        const grouped = this.#sql.groupNextDue.get(queue) as
          | { due: number }
          | undefined;
        if (grouped && grouped.due < next) next = grouped.due;
      }
    } catch {
      return waiter.done(); // The caller's claim reports the store's error.
    }
    const wait = Math.max(minMs, (next - this.#now()) * 1000);
    const left = waiter.deadline - Date.now();
    if (wait <= 0 || left <= 0) return waiter.done();
    clearTimeout(waiter.timer);
    waiter.timer = setTimeout(
      () =>
        Date.now() >= waiter.deadline
          ? waiter.done()
          : this.#lookForTasks(waiter),
      Math.min(wait, left),
    );
  }
}
