/**
 * The promises of awaited tasks, settled by their `done` event or, when that
 * event was missed, by reading the store.
 *
 * Invariants: a waiter is settled once; a retried task's waiters move to its
 * next attempt (`meta.nextTask`); while any task is awaited the store is read
 * for them every {@linkcode WAIT_CHECK_SECONDS}, one pass at a time, so a
 * missed event never hangs a wait and a slow store is never asked twice at
 * once.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { FINISHED_STATES, TaskStatus } from "../model/status.ts";
import { Task, type TaskRecord } from "../model/task.ts";

const logger = getLogger(["pq", "producer"]);

/** Seconds between checks of the store for tasks whose `done` event was missed. */
const WAIT_CHECK_SECONDS = 1;

interface Waiter {
  resolve: (task: Task) => void;
  reject: (error: unknown) => void;
}

/** The waiters of a producer, by task id. */
export class TaskWaiters {
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #read: (id: string) => Promise<TaskRecord | undefined>;
  #checkTimer?: ReturnType<typeof setTimeout>;
  #closed = false;

  /** `read` gets a task's stored record (undefined when unknown). */
  constructor(read: (id: string) => Promise<TaskRecord | undefined>) {
    this.#read = read;
  }

  /** True while the task of `id` is awaited. */
  has(id: string): boolean {
    return this.#waiters.has(id);
  }

  /** Resolves when the task of `id` is done (its last attempt). */
  wait(id: string): Promise<Task> {
    return new Promise<Task>((resolve, reject) =>
      this.#add(id, { resolve, reject })
    );
  }

  /** Rejects the waiters of `id` with `error` (its queueing failed). */
  drop(id: string, error: unknown): void {
    for (const waiter of this.#waiters.get(id) ?? []) waiter.reject(error);
    this.#waiters.delete(id);
  }

  /**
   * Moves the waiters of `from` to the task of `to` (a duplicate follows
   * the task that was there). Its `done` may have come before it was
   * awaited: the caller settles it from a record it read since, or
   * `check`s.
   */
  follow(from: string, to: string): void {
    const waiters = this.#waiters.get(from);
    if (!waiters || from === to) return;
    this.#waiters.delete(from);
    for (const waiter of waiters) this.#add(to, waiter);
  }

  /** Resolves the waiters of a finished task, or moves them to its retry. */
  settle(task: Task): void {
    const waiters = this.#waiters.get(task.id);
    if (!waiters) return;
    if (task.status === TaskStatus.RETRY) {
      const next = task.meta.nextTask;
      if (typeof next !== "string") return;
      this.#waiters.delete(task.id);
      for (const waiter of waiters) this.#add(next, waiter);
      this.check([next]);
    } else if (FINISHED_STATES.has(task.status)) {
      this.#waiters.delete(task.id);
      for (const waiter of waiters) waiter.resolve(task);
    }
  }

  /** Settles the awaited tasks of `ids` that the store has finished. */
  async check(ids: readonly string[]): Promise<void> {
    try {
      // Reads go in parallel (pipelined on Redis), a hundred at a time.
      for (let i = 0; i < ids.length && !this.#closed; i += 100) {
        const batch = ids.slice(i, i + 100).filter((id) => this.has(id));
        const records = await Promise.all(
          batch.map((id) => this.#read(id).catch(() => undefined)),
        );
        for (const record of records) {
          if (record) this.settle(new Task(record));
        }
      }
    } catch (error) {
      logger.warn("Cannot check awaited tasks in the store: {error}", {
        error,
      });
    }
  }

  /** Rejects every waiter and stops checking the store. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#checkTimer);
    for (const [id, waiters] of this.#waiters) {
      for (const waiter of waiters) {
        waiter.reject(
          new Error(`Producer closed while waiting for task ${id}`),
        );
      }
    }
    this.#waiters.clear();
  }

  #add(id: string, waiter: Waiter): void {
    const waiters = this.#waiters.get(id);
    if (waiters) waiters.push(waiter);
    else this.#waiters.set(id, [waiter]);
    this.#scheduleCheck();
  }

  #scheduleCheck(): void {
    if (this.#checkTimer !== undefined || this.#closed) return;
    this.#checkTimer = setTimeout(async () => {
      if (this.#waiters.size > 0) await this.check([...this.#waiters.keys()]);
      this.#checkTimer = undefined;
      if (this.#waiters.size > 0) this.#scheduleCheck();
    }, WAIT_CHECK_SECONDS * 1000);
  }
}
