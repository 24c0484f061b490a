/**
 * `api.queues`: pause, resume and purge queues, and read their sizes. A
 * facade over its producer's store: every argument is checked here, before
 * the store is called.
 * @module
 */
import { describeValue } from "../model/errors.ts";
import { checkQueueName } from "../store/_queue_name.ts";
import { checkGroupName } from "../model/task_group.ts";
import type {
  GroupInfo,
  QueueAdmin,
  QueueGroups,
  QueueStats,
  TaskReads,
} from "../store/store.ts";

/** What `api.queues` uses of its producer. */
export interface QueuesHost {
  /** The store (after `start()`). */
  readonly store: QueueAdmin & QueueGroups & TaskReads & {
    readonly url: string;
  };
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

  /**
   * The sizes and latency of queues: ready, delayed and running tasks, and
   * how long the oldest ready task has waited. A name that is not a
   * non-empty string rejects with a `TypeError` naming it.
   *
   * @param queues The queues (every queue that holds tasks when absent;
   * `api.tasks.knownQueues()` lists the configured ones too).
   * @returns One entry a queue, in the order asked (a queue without tasks
   * has zeros).
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * for (const q of await api.queues.stats(await api.tasks.knownQueues())) {
   *   console.log(q.queue, q.ready, q.running, q.latency);
   * }
   * ```
   */
  async stats(queues?: readonly string[]): Promise<QueueStats[]> {
    if (queues !== undefined) checkQueueNames(queues, "read queue stats");
    await this.#producer.start();
    return await this.#producer.store.queueStats(queues);
  }

  /**
   * Purges queues: drops every task waiting in them (ready or delayed);
   * running tasks finish, finished ones stay. A name that is not a
   * non-empty string rejects with a `TypeError` naming it.
   *
   * @param queues The queues' names.
   * @returns How many tasks were dropped.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * console.log(await api.queues.purge(["emails"]), "tasks dropped");
   * ```
   */
  async purge(queues: readonly string[]): Promise<number> {
    checkQueueNames(queues, "purge queue");
    await this.#producer.start();
    return await this.#producer.store.flush(queues);
  }

  /**
   * The groups of a queue (fair queues, see docs/fair_queues.md) with tasks
   * ready or running, and the paused ones, sorted by name. A name that is
   * not a non-empty string rejects with a `TypeError` naming it.
   *
   * @param queue The queue's name.
   * @returns One entry a group: its ready and running tasks, and whether it
   * is paused.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * for (const g of await api.queues.groups("default")) {
   *   console.log(g.group, g.ready, g.running, g.paused);
   * }
   * ```
   */
  async groups(queue: string): Promise<GroupInfo[]> {
    checkQueueName(queue, "list groups");
    await this.#producer.start();
    return await this.#producer.store.queueGroups(queue);
  }

  /**
   * Pauses one group of a queue: no worker claims its tasks until it is
   * resumed, while the queue's other groups flow. Its tasks wait, in
   * order; new ones can be queued.
   *
   * @param queue The queue's name.
   * @param group The group's name (1 to 200 characters).
   * @returns True when the group was running and is now paused.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.queues.pauseGroup("default", "tenant-42");
   * ```
   */
  async pauseGroup(queue: string, group: string): Promise<boolean> {
    checkQueueName(queue, "pause group");
    checkGroupName(group, "pause group");
    await this.#producer.start();
    return await this.#producer.store.pauseGroup(queue, group);
  }

  /**
   * Resumes a paused group of a queue: its tasks take their turns again.
   *
   * @param queue The queue's name.
   * @param group The group's name.
   * @returns True when the group was paused.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.queues.resumeGroup("default", "tenant-42");
   * ```
   */
  async resumeGroup(queue: string, group: string): Promise<boolean> {
    checkQueueName(queue, "resume group");
    checkGroupName(group, "resume group");
    await this.#producer.start();
    return await this.#producer.store.resumeGroup(queue, group);
  }

  /**
   * Where the queues are kept: the store's URL, its password masked (safe
   * to show).
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * console.log(await api.queues.storeUrl()); // "sqlite:pq.sqlite"
   * ```
   */
  async storeUrl(): Promise<string> {
    await this.#producer.start();
    return this.#producer.store.url;
  }
}

/** Checks a list of queue names; a `TypeError` naming what is wrong. */
function checkQueueNames(queues: readonly string[], action: string): void {
  if (!Array.isArray(queues)) {
    throw new TypeError(
      `Cannot ${action} as 'queues' must be a list of names: got ${
        describeValue(queues)
      }`,
    );
  }
  for (const queue of queues) checkQueueName(queue, action);
}
