/**
 * `api.queues`: pause and resume queues. A facade over its producer's
 * store: every argument is checked here, before the store is called.
 * @module
 */
import { checkQueueName } from "../store/_queue_name.ts";
import type { Store } from "../store/store.ts";

/** What `api.queues` uses of its producer. */
export interface QueuesHost {
  /** The store (after `start()`). */
  readonly store: Store;
  /** Opens the producer; idempotent. */
  start(): Promise<unknown>;
}

/**
 * The queues of the producer API (`api.queues`): a paused queue keeps its
 * tasks and takes new ones, but no worker claims them until it is resumed.
 * The state lives in the store, so it holds for every server and survives
 * restarts; each change is published on channel `queue` (`paused`,
 * `resumed`, with the queue's name).
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * await api.queues.pause("emails");
 * console.log(await api.queues.paused()); // ["emails"]
 * await api.queues.resume("emails");
 * ```
 */
export class Queues {
  readonly #producer: QueuesHost;

  /** Made by the producer. */
  constructor(producer: QueuesHost) {
    this.#producer = producer;
  }

  /**
   * Pauses a queue: workers stop claiming its tasks at once (tasks already
   * running finish), and producers can still queue tasks in it; they wait,
   * in order, until `resume`. A name that is not a non-empty string
   * rejects with a `TypeError` naming it.
   *
   * @param queue The queue's name.
   * @returns True when the queue was running and is now paused, false when
   * it was paused already.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * if (await api.queues.pause("emails")) console.log("emails paused");
   * ```
   */
  async pause(queue: string): Promise<boolean> {
    checkQueueName(queue, "pause queue");
    await this.#producer.start();
    return await this.#producer.store.pauseQueue(queue);
  }

  /**
   * Resumes a paused queue: its tasks are claimed again, and idle workers
   * that consume it wake at once. A name that is not a non-empty string
   * rejects with a `TypeError` naming it.
   *
   * @param queue The queue's name.
   * @returns True when the queue was paused and now runs, false when it
   * was not paused.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * if (await api.queues.resume("emails")) console.log("emails resumed");
   * ```
   */
  async resume(queue: string): Promise<boolean> {
    checkQueueName(queue, "resume queue");
    await this.#producer.start();
    return await this.#producer.store.resumeQueue(queue);
  }

  /**
   * The names of the paused queues, sorted.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * for (const queue of await api.queues.paused()) console.log(queue);
   * ```
   */
  async paused(): Promise<string[]> {
    await this.#producer.start();
    return await this.#producer.store.pausedQueues();
  }
}
