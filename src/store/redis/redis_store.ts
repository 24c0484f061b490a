/**
 * The Redis store: the distributed engine. Each state change is one Lua
 * script over the keys of one queue (a claim: of every queue it takes, on a
 * single server) (`lua/*.lua`, run through `scripts.ts`), through pq's own
 * client (`connection.ts`). Claims come in batches; idle workers block on
 * the server, and on a single server a task queued for an idle worker is
 * claimed for it and handed over with its wake-up; events go over pub/sub.
 * Works with Redis 7, Valkey, and (queue keys hash-tagged) Redis Cluster.
 *
 * This class holds what a store shares (the context: server, scripts,
 * keys, codec, clock) and delegates each method to the module of its role:
 *
 * - `queueing.ts`: enqueue, enqueueUnique, revoke;
 * - `leases.ts`: claim, renew, finish, release, setProgress and saveStep
 *   (a leased record rewritten);
 *   `hand_over.ts`: waitForTasks, and tasks handed to waiting workers;
 * - `recovery.ts`: reclaim, expireLeases;
 * - `workflow_state.ts`: settle, joinGroup;
 * - `search.ts`: get, searchTasks; `status_history.ts`: statusHistory;
 *   `delete_tasks.ts`: deleteTasks;
 * - `queues.ts`: queueStats, queueNames, pause, resume, flush
 *   (over the registry of queues, `registry.ts`);
 * - `pub_sub.ts`: publish, subscribe;
 * - `beats.ts`: beat, liveWorkers, leave; `locks.ts`: the named locks;
 *   `schedules.ts`: the schedules managed at run time.
 *
 * Where the keys live and how commands reach them (single server or
 * Cluster) is `topology.ts`'s alone.
 * @module
 */
import { maskUrl } from "../../model/_secrets.ts";
import type {
  ScheduleDefinition,
  StoredSchedule,
} from "../../model/schedule.ts";
import { codecFor } from "../../model/codec.ts";
import { StoreConnectionError } from "../../model/errors.ts";
import type { DedupeOptions } from "../../model/queue_options.ts";
import type { TaskProgress, TaskRecord } from "../../model/task.ts";
import { type TaskStep, withStep } from "../../model/task_step.ts";
import type { WorkerStatus } from "../../model/worker_status.ts";
import type {
  BeatOptions,
  BeatReport,
  ChannelMessage,
  Claim,
  ClaimRequest,
  Finish,
  GroupInfo,
  Lease,
  MessageListener,
  QueueStats,
  ReclaimReport,
  RevokeOutcome,
  StatusHistory,
  StatusHistoryOptions,
  Store,
  StoreOptions,
  TaskPage,
  TaskQuery,
  UniqueOutcome,
} from "../store.ts";
import type { JobStats, JobStatsOptions } from "../job_stats.ts";
import { Beats } from "./beats.ts";
import type { RedisContext } from "./context.ts";
import { redisDeleteTasks } from "./delete_tasks.ts";
import { HandOver } from "./hand_over.ts";
import { pauseGroup, queueGroups, resumeGroup } from "./groups.ts";
import { redisJobStats } from "./job_stats.ts";
import { redisKeys } from "./keys.ts";
import { Leases } from "./leases.ts";
import { Locks } from "./locks.ts";
import { PubSub } from "./pub_sub.ts";
import { Queues } from "./queues.ts";
import { Queueing } from "./queueing.ts";
import { parseRedisUrl } from "./redis_url.ts";
import { Recovery } from "./recovery.ts";
import { Registry } from "./registry.ts";
import { Schedules } from "./schedules.ts";
import { Scripts } from "./scripts.ts";
import { Search } from "./search.ts";
import { redisStatusHistory } from "./status_history.ts";
import { Topology } from "./topology.ts";
import { WorkflowState } from "./workflow_state.ts";

/** Seconds a command waits for a lost connection to come back. */
const CONNECT_WAIT_SECONDS = 5;

/** Options of a Redis store beyond the common ones. */
export interface RedisStoreOptions extends StoreOptions {
  /** Seconds to wait for the server at start-up and after a disconnect. */
  connectTimeout?: number;
}

/**
 * The Redis store. Open it with {@linkcode RedisStore.open}.
 */
export class RedisStore implements Store {
  readonly url: string;
  readonly #topology: Topology;
  /**
   * When the next delayed task of each queue this store claimed from is
   * due: learnt by claims and waits, and the queues a reclaim looks at by
   * default.
   */
  readonly #nextDue = new Map<string, number>();
  readonly #ctx: RedisContext;
  readonly #registry: Registry;
  readonly #queueing: Queueing;
  readonly #handOver: HandOver;
  readonly #leases: Leases;
  readonly #recovery: Recovery;
  readonly #workflowState: WorkflowState;
  readonly #search: Search;
  readonly #queues: Queues;
  readonly #pubSub: PubSub;
  readonly #beats: Beats;
  readonly #locks: Locks;
  readonly #schedules: Schedules;
  #closed = false;

  private constructor(ctx: RedisContext) {
    this.url = ctx.url;
    this.#topology = ctx.topology;
    const registry = new Registry(ctx);
    this.#ctx = ctx;
    this.#registry = registry;
    this.#pubSub = new PubSub(ctx);
    this.#search = new Search(ctx, registry);
    this.#queueing = new Queueing(ctx, registry, this.#search, this.#pubSub);
    this.#handOver = new HandOver(ctx, this.#pubSub, this.#nextDue);
    this.#leases = new Leases(ctx, this.#handOver, this.#pubSub, this.#nextDue);
    this.#recovery = new Recovery(ctx, this.#leases);
    this.#workflowState = new WorkflowState(ctx, registry, this.#search);
    this.#queues = new Queues(ctx, registry);
    this.#beats = new Beats(ctx);
    this.#locks = new Locks(ctx);
    this.#schedules = new Schedules(ctx);
  }

  /**
   * Connects to the server of a `redis://host:port/db?namespace=pq` URL
   * (`rediss://` for TLS, with `&ca=<PEM file>` when no system CA signed
   * the server's certificate).
   * Throws a `StoreConnectionError` for a bad URL, or when the server cannot
   * be reached within `connectTimeout` seconds.
   */
  static async open(
    url: string,
    options: RedisStoreOptions,
  ): Promise<RedisStore> {
    const target = parseRedisUrl(url);
    const { namespace, caFile } = target;
    const masked = maskUrl(url);
    const caCerts = caFile === undefined ? undefined : [
      await Deno.readTextFile(caFile).catch((error) => {
        throw new StoreConnectionError(
          `Cannot open store '${masked}': cannot read its CA file '${caFile}': ${error.message}`,
        );
      }),
    ];
    const topology = await Topology.connect(target, masked, {
      connectTimeout: options.connectTimeout ?? CONNECT_WAIT_SECONDS,
      ...(caCerts && { caCerts }),
    });
    return new RedisStore({
      url: masked,
      namespace,
      keys: redisKeys(namespace),
      topology,
      scripts: new Scripts(topology),
      codec: codecFor(options.serializer),
      now: options.now ?? (() => Date.now() / 1000),
      resultTtl: options.resultTtl,
    });
  }

  enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    return this.#queueing.enqueue(tasks);
  }

  enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome> {
    return this.#queueing.enqueueUnique(task, dedupe);
  }

  revoke(id: string): Promise<RevokeOutcome> {
    return this.#queueing.revoke(id);
  }

  claim(request: ClaimRequest): Promise<Claim[]> {
    return this.#leases.claim(request);
  }

  waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    return this.#handOver.waitForTasks(queues, seconds, signal);
  }

  renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    return this.#leases.renew(leases, leaseSeconds);
  }

  finish(outcomes: readonly Finish[]): Promise<boolean[]> {
    return this.#leases.finish(outcomes);
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#leases.release(leases);
  }

  setProgress(lease: Lease, progress: TaskProgress): Promise<boolean> {
    return this.#leases.rewriteRecord(lease, (task) => ({ ...task, progress }));
  }

  saveStep(lease: Lease, step: TaskStep): Promise<boolean> {
    // A step of the same name is replaced: a record never holds a name twice.
    return this.#leases.rewriteRecord(lease, (task) => ({
      ...task,
      steps: withStep(task.steps, step),
    }));
  }

  reclaim(
    maxRedeliveries: number,
    queues: readonly string[] = [...this.#nextDue.keys()],
  ): Promise<ReclaimReport> {
    return this.#recovery.reclaim(maxRedeliveries, queues);
  }

  expireLeases(worker: string, queues: readonly string[]): Promise<number> {
    return this.#recovery.expireLeases(worker, queues);
  }

  settle(task: TaskRecord): Promise<boolean> {
    return this.#workflowState.settle(task);
  }

  joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined> {
    return this.#workflowState.joinGroup(group, index, total, value);
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.#search.get(id);
  }

  searchTasks(query: TaskQuery): Promise<TaskPage> {
    return this.#search.searchTasks(query);
  }

  queueStats(queues?: readonly string[]): Promise<QueueStats[]> {
    return this.#queues.queueStats(queues);
  }

  statusHistory(options?: StatusHistoryOptions): Promise<StatusHistory> {
    return redisStatusHistory(this.#ctx, this.#registry, options);
  }

  deleteTasks(ids: readonly string[]): Promise<number> {
    return redisDeleteTasks(this.#ctx, this.#registry, ids);
  }

  jobStats(options?: JobStatsOptions): Promise<Map<string, JobStats>> {
    return redisJobStats(this.#ctx, this.#registry, options);
  }

  pauseQueue(queue: string): Promise<boolean> {
    return this.#queues.pauseQueue(queue);
  }

  resumeQueue(queue: string): Promise<boolean> {
    return this.#queues.resumeQueue(queue);
  }

  queueGroups(queue: string): Promise<GroupInfo[]> {
    return queueGroups(this.#ctx, queue);
  }

  pauseGroup(queue: string, group: string): Promise<boolean> {
    return pauseGroup(this.#ctx, queue, group);
  }

  resumeGroup(queue: string, group: string): Promise<boolean> {
    return resumeGroup(this.#ctx, queue, group);
  }

  pausedQueues(): Promise<string[]> {
    return this.#queues.pausedQueues();
  }

  queueNames(): Promise<string[]> {
    return this.#queues.queueNames();
  }

  flush(queues: readonly string[]): Promise<number> {
    return this.#queues.flush(queues);
  }

  publish(message: ChannelMessage): Promise<void> {
    return this.#pubSub.publish(message);
  }

  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    return this.#pubSub.subscribe(channel, listener);
  }

  beat(status: WorkerStatus, options?: BeatOptions): Promise<BeatReport> {
    return this.#beats.beat(status, options);
  }

  liveWorkers(): Promise<WorkerStatus[]> {
    return this.#beats.liveWorkers();
  }

  leave(worker: string): Promise<void> {
    return this.#beats.leave(worker);
  }

  acquireLock(name: string, owner: string, seconds: number): Promise<boolean> {
    return this.#locks.acquireLock(name, owner, seconds);
  }

  releaseLock(name: string, owner: string): Promise<boolean> {
    return this.#locks.releaseLock(name, owner);
  }

  upsertSchedule(definition: ScheduleDefinition): Promise<boolean> {
    return this.#schedules.upsertSchedule(definition);
  }

  schedules(): Promise<StoredSchedule[]> {
    return this.#schedules.schedules();
  }

  schedule(id: string): Promise<StoredSchedule | undefined> {
    return this.#schedules.schedule(id);
  }

  removeSchedule(id: string): Promise<boolean> {
    return this.#schedules.removeSchedule(id);
  }

  setSchedulePaused(id: string, paused: boolean): Promise<boolean | undefined> {
    return this.#schedules.setSchedulePaused(id, paused);
  }

  takeScheduleRun(
    id: string,
    due: number,
    expected: { version: number; runs: number },
  ): Promise<boolean> {
    return this.#schedules.takeScheduleRun(id, due, expected);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Stops being handed tasks, and gives back those not taken.
    await this.#handOver.leave()
      .then((untaken) =>
        untaken.length > 0 ? this.#leases.release(untaken) : undefined
      )
      .catch(() => undefined);
    this.#closed = true;
    await this.#topology.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
