/**
 * The promise of a task a producer queued: a {@linkcode TaskFuture} has the
 * id at once; a {@linkcode QueuedTask} (`callback: false`) waits for its end
 * only when asked.
 * @module
 */
import { Task, type TaskRecord } from "../task.ts";

/**
 * A task on its way: `.id` at once, and a promise of the task (done, or
 * queued with `callback: false`).
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
