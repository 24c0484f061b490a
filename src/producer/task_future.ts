/**
 * The promise of a task a producer queued: a {@linkcode TaskFuture} has the
 * id at once; a {@linkcode QueuedTask} (`callback: false`) waits for its end
 * only when asked.
 * @module
 */
import { Task, type TaskRecord } from "../model/task.ts";

/**
 * What a queue call did, once it is done (`TaskFuture.queued`): the task it
 * queued, or the task that was there (a duplicate: see `QueueOptions.id`
 * and `QueueOptions.dedupe`), which the future then follows.
 *
 * @example
 * ```ts
 * import type { QueueReceipt } from "@pq/queue";
 * const receipt: QueueReceipt = { id: "nightly-2024-07-01", duplicate: true, reason: "id" };
 * ```
 */
export interface QueueReceipt {
  /**
   * The id of the task the future follows: the call's own (`future.id`), or
   * the id of the task that holds the dedupe key.
   */
  id: string;
  /** True when nothing was queued, as a task was there already. */
  duplicate: boolean;
  /**
   * Why it was a duplicate: `"id"`, a task of that id is stored (queued,
   * running, or finished and kept); `"dedupe"`, a task holds the dedupe key.
   * Absent when the call queued its task.
   */
  reason?: "id" | "dedupe";
}

/**
 * Tells a future what its queue call did (internal: the producer's; see
 * {@linkcode TaskFuture.queued}): queued (no receipt: made when asked
 * for), or the receipt of the duplicate it found.
 */
export let noteQueued: (future: TaskFuture, duplicate?: QueueReceipt) => void;

/**
 * A task on its way: `.id` at once, a promise of the task (done, or queued
 * with `callback: false`), and `queued`, what the queue call did.
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
 *   .api().start();
 * const future = api.tasks.queue("addition", { a: 1, b: 2 });
 * console.log(future.id);
 * const task = await future;
 * ```
 */
export class TaskFuture implements PromiseLike<Task> {
  /** The id of the task. */
  readonly id: string;
  readonly #promise: Promise<Task>;
  /** What the queue call did, once known (set by the producer). */
  #receipt?: QueueReceipt | true;
  /** The promise of `queued`, made when first asked for. */
  #queued?: PromiseWithResolvers<QueueReceipt>;

  static {
    noteQueued = (future, duplicate) => future.#note(duplicate);
  }

  /**
   * Wraps the promise of a task of a known id.
   *
   * @param id The task's id.
   * @param promise Resolves with the task.
   */
  constructor(id: string, promise: Promise<Task>) {
    this.id = id;
    this.#promise = promise;
  }

  /**
   * Resolves once the call is done queueing, before the task runs: with
   * the id of the task the future follows and whether the call queued it
   * or found a task there already (a caller's `id`, or a `dedupe` key).
   * Rejects as the future does when nothing could be queued. For a task run
   * in this process (`execute`), resolves at once: nothing is queued.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
   *   .api().start();
   * const first = api.tasks.queue("addition", { a: 1 }, { id: "sum-1" });
   * const again = api.tasks.queue("addition", { a: 1 }, { id: "sum-1" });
   * console.log(await again.queued); // { id: "sum-1", duplicate: true, reason: "id" }
   * console.log((await first).result === (await again).result); // true: one task
   * ```
   */
  get queued(): Promise<QueueReceipt> {
    if (!this.#queued) {
      const queued = this.#queued = Promise.withResolvers<QueueReceipt>();
      this.#settle();
      // A future no producer told (made by hand): queued as the task it
      // resolves with; a producer's rejection is the call's too.
      this.#promise.then(
        (task) => queued.resolve({ id: task.id, duplicate: false }),
        queued.reject,
      );
    }
    return this.#queued.promise;
  }

  #note(duplicate?: QueueReceipt): void {
    this.#receipt ??= duplicate ?? true;
    if (this.#queued) this.#settle();
  }

  #settle(): void {
    const receipt = this.#receipt;
    if (receipt === undefined) return;
    this.#queued!.resolve(
      receipt === true ? { id: this.id, duplicate: false } : receipt,
    );
  }

  /** Waits for the task. */
  then<A = Task, B = never>(
    onfulfilled?: ((value: Task) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onfulfilled, onrejected);
  }

  /** Handles a rejection. */
  catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<Task | B> {
    return this.#promise.catch(onrejected);
  }

  /** `TaskFuture<id>`. */
  toString(): string {
    return `TaskFuture<ID=${this.id}>`;
  }
}

/**
 * A task returned QUEUED: its `doneCallback` waits for it, made on first
 * use (a getter on the prototype: a property defined on each of thousands
 * of tasks queued at once was a seventh of the bulk queueing time).
 */
export class QueuedTask extends Task {
  readonly #wait: () => Promise<Task>;
  #done?: Promise<Task>;

  constructor(record: TaskRecord, wait: () => Promise<Task>) {
    super(record);
    this.#wait = wait;
  }

  override get doneCallback(): Promise<Task> {
    return this.#done ??= this.#wait();
  }
}
