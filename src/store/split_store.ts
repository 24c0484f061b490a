/**
 * A store whose queues live on one server (`messageBroker`) and whose other
 * channels and locks live on another (`dataStore`), as pulsar-queue's two
 * settings. Task events are published by the queues' own transitions, so
 * channel `task` is the broker's; every other channel is the data store's.
 * @module
 */
import type { WorkerStatus } from "../model/worker_status.ts";
import type { DedupeOptions } from "../model/queue_options.ts";
import type { TaskProgress, TaskRecord } from "../model/task.ts";
import type {
  BeatReport,
  ChannelMessage,
  Claim,
  ClaimRequest,
  Finish,
  Lease,
  MessageListener,
  QueueStats,
  ReclaimReport,
  RevokeOutcome,
  Store,
  TaskPage,
  TaskQuery,
  UniqueOutcome,
} from "./store.ts";

/** Queues on `broker`, other channels and locks on `data`. */
export class SplitStore implements Store {
  readonly url: string;
  readonly #broker: Store;
  readonly #data: Store;

  /** Joins two open stores; closing this closes both. */
  constructor(broker: Store, data: Store) {
    this.#broker = broker;
    this.#data = data;
    this.url = `${broker.url} (queues), ${data.url} (data)`;
  }

  /**
   * Channels `task`, `control` and `queue` live with the queues: the broker
   * publishes task events, revokes and pauses inside its own transitions.
   */
  #channelStore(channel: string): Store {
    return channel === "task" || channel === "control" || channel === "queue"
      ? this.#broker
      : this.#data;
  }

  enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    return this.#broker.enqueue(tasks);
  }

  enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome> {
    return this.#broker.enqueueUnique(task, dedupe);
  }

  claim(request: ClaimRequest): Promise<Claim[]> {
    return this.#broker.claim(request);
  }

  waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    return this.#broker.waitForTasks(queues, seconds, signal);
  }

  renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    return this.#broker.renew(leases, leaseSeconds);
  }

  finish(outcomes: readonly Finish[]): Promise<boolean[]> {
    return this.#broker.finish(outcomes);
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#broker.release(leases);
  }

  reclaim(
    maxRedeliveries: number,
    queues?: readonly string[],
  ): Promise<ReclaimReport> {
    return this.#broker.reclaim(maxRedeliveries, queues);
  }

  /** A record beside the tasks it may share an id with: the broker's. */
  settle(task: TaskRecord): Promise<boolean> {
    return this.#broker.settle(task);
  }

  // Groups live beside the tasks whose results they gather.
  joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined> {
    return this.#broker.joinGroup(group, index, total, value);
  }

  revoke(id: string): Promise<RevokeOutcome> {
    return this.#broker.revoke(id);
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.#broker.get(id);
  }

  searchTasks(query: TaskQuery): Promise<TaskPage> {
    return this.#broker.searchTasks(query);
  }

  queueStats(queues?: readonly string[]): Promise<QueueStats[]> {
    return this.#broker.queueStats(queues);
  }

  setProgress(lease: Lease, progress: TaskProgress): Promise<boolean> {
    return this.#broker.setProgress(lease, progress);
  }

  // Paused or not is a state of the queues: the broker's.
  pauseQueue(queue: string): Promise<boolean> {
    return this.#broker.pauseQueue(queue);
  }

  resumeQueue(queue: string): Promise<boolean> {
    return this.#broker.resumeQueue(queue);
  }

  pausedQueues(): Promise<string[]> {
    return this.#broker.pausedQueues();
  }

  /** The queues holding tasks: the broker holds the queues. */
  queueNames(): Promise<string[]> {
    return this.#broker.queueNames();
  }

  flush(queues: readonly string[]): Promise<number> {
    return this.#broker.flush(queues);
  }

  publish(message: ChannelMessage): Promise<void> {
    return this.#channelStore(message.channel).publish(message);
  }

  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    return this.#channelStore(channel).subscribe(channel, listener);
  }

  // Beats live beside the queues, whose leases a dead worker's beat ends.
  beat(status: WorkerStatus): Promise<BeatReport> {
    return this.#broker.beat(status);
  }

  expireLeases(worker: string, queues: readonly string[]): Promise<number> {
    return this.#broker.expireLeases(worker, queues);
  }

  liveWorkers(): Promise<WorkerStatus[]> {
    return this.#broker.liveWorkers();
  }

  leave(worker: string): Promise<void> {
    return this.#broker.leave(worker);
  }

  acquireLock(name: string, owner: string, seconds: number): Promise<boolean> {
    return this.#data.acquireLock(name, owner, seconds);
  }

  releaseLock(name: string, owner: string): Promise<boolean> {
    return this.#data.releaseLock(name, owner);
  }

  async close(): Promise<void> {
    await Promise.all([this.#broker.close(), this.#data.close()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
