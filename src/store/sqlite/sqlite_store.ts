/**
 * The embedded store: one SQLite file (`node:sqlite`), shared safely by the
 * processes of one machine. WAL journal and a busy timeout let several
 * processes write; every state change is one `BEGIN IMMEDIATE` transaction,
 * so a process can die at any line without losing a task. Events go through
 * a table, pruned after a minute; a change loop per store tells a process
 * what the others committed, waking a few times a second while idle.
 *
 * This class holds what a store shares (the context: the database and its
 * statements, codec, clock, event log and task waiters; `context.ts`) and
 * delegates each method to the module of its role:
 *
 * - `enqueue.ts`: enqueue, enqueueUnique; `revoke.ts`: revoke;
 * - `claim.ts`: claim (with the concurrency and rate limits);
 *   `task_waiters.ts`: waitForTasks;
 * - `leases.ts`: renew, finish, release, setProgress and saveStep (a
 *   leased record rewritten);
 * - `recovery.ts`: reclaim, expireLeases;
 * - `workflow_state.ts`: settle, joinGroup;
 * - `search.ts`: get, searchTasks, queueStats; `job_stats.ts`: jobStats;
 *   `status_history.ts`: statusHistory; `delete_tasks.ts`: deleteTasks;
 * - `queues.ts`: pauseQueue, resumeQueue, pausedQueues, queueNames,
 *   flush;
 * - `events.ts`: publish, subscribe; `change_loop.ts` delivers;
 * - `beats_and_locks.ts`: beat, liveWorkers, leave, and the named locks.
 * - `schedules.ts`: the schedules managed at run time (upsertSchedule,
 *   schedules, schedule, removeSchedule, setSchedulePaused,
 *   takeScheduleRun).
 *
 * Opening the file (pragmas, schema, migrations) is `schema.ts`'s; the
 * statements are `statements.ts`'s.
 *
 * Invariants:
 * - Every method but `waitForTasks` and `close` rejects once the store is
 *   closed; database work runs synchronously, its errors as rejections.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type Codec, codecFor } from "../../model/codec.ts";
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
import {
  beatWorker,
  forgetWorker,
  freeLock,
  liveWorkerStatuses,
  takeLock,
} from "./beats_and_locks.ts";
import { ChangeLoop } from "./change_loop.ts";
import { deleteFinishedTasks } from "./delete_tasks.ts";
import { claimTasks } from "./claim.ts";
import { StoreContext } from "./context.ts";
import { enqueueTasks, enqueueUniqueTask } from "./enqueue.ts";
import { EventLog } from "./events.ts";
import { sqliteJobStats } from "./job_stats.ts";
import {
  finishTasks,
  releaseLeases,
  renewLeases,
  rewriteLeasedRecord,
} from "./leases.ts";
import type { ChangeLoopStats, LoopControl } from "./loop_control.ts";
import {
  activeQueueNames,
  flushQueues,
  pausedQueueNames,
  pauseQueueNamed,
  resumeQueueNamed,
} from "./queues.ts";
import { expireWorkerLeases, reclaimExpired } from "./recovery.ts";
import { pauseGroupNamed, queueGroupsOf, resumeGroupNamed } from "./groups.ts";
import { revokeTask } from "./revoke.ts";
import {
  deleteSchedule,
  readSchedule,
  readSchedules,
  setSchedulePausedRow,
  takeScheduleRunRow,
  upsertScheduleRow,
} from "./schedules.ts";
import type {
  ScheduleDefinition,
  StoredSchedule,
} from "../../model/schedule.ts";
import { openDatabase } from "./schema.ts";
import { readQueueStats, readTask, searchStoredTasks } from "./search.ts";
import { readStatusHistory } from "./status_history.ts";
import { TaskWaiters } from "./task_waiters.ts";
import { joinTaskGroup, settleTask } from "./workflow_state.ts";

/**
 * The embedded SQLite store. Open it with {@linkcode SqliteStore.open}.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "./sqlite_store.ts";
 * await using store = await SqliteStore.open(":memory:", {
 *   serializer: "json",
 *   resultTtl: 3600,
 * });
 * console.log(await store.queueStats(["default"])); // [{ queue: "default", ready: 0, ... }]
 * ```
 */
export class SqliteStore implements Store {
  /** `sqlite:<path>`. */
  readonly url: string;
  readonly #db: DatabaseSync;
  readonly #codec: Codec;
  readonly #ctx: StoreContext;
  readonly #events: EventLog;
  readonly #waiters: TaskWaiters;
  readonly #loop: ChangeLoop;
  readonly #stats: ChangeLoopStats = { looks: 0, reads: 0, fileChanges: 0 };
  #closed = false;

  private constructor(path: string, options: StoreOptions) {
    this.url = `sqlite:${path}`;
    this.#codec = codecFor(options.serializer);
    const now = options.now ?? (() => Date.now() / 1000);
    const { db, sql, walPath } = openDatabase(path, this.#codec);
    this.#db = db;
    // The event log and the waiters keep the loop running while they need
    // it; the loop, made last, reads them.
    const loop: LoopControl = {
      start: () => this.#loop.start(),
      stopIfIdle: () => this.#loop.stopIfIdle(),
      lookSoon: () => this.#loop.lookSoon(),
    };
    const reads = { sql, now, stats: this.#stats, loop };
    this.#events = new EventLog({ ...reads, codec: this.#codec });
    this.#waiters = new TaskWaiters(reads);
    this.#ctx = new StoreContext({
      db,
      walPath,
      sql,
      codec: this.#codec,
      now,
      resultTtl: options.resultTtl,
      events: this.#events,
      waiters: this.#waiters,
    });
    this.#loop = new ChangeLoop({
      url: this.url,
      ctx: this.#ctx,
      stats: this.#stats,
    });
  }

  /**
   * Opens (and creates) the store in a file, or in memory with `:memory:`
   * (one process only).
   */
  static open(path: string, options: StoreOptions): Promise<SqliteStore> {
    return Promise.resolve().then(() => new SqliteStore(path, options));
  }

  /**
   * What the change loop of this store did, counted: a snapshot, for tests
   * and diagnostics.
   */
  get changeLoopStats(): Readonly<ChangeLoopStats> {
    return { ...this.#stats };
  }

  enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    return this.#async(() => enqueueTasks(this.#ctx, tasks));
  }

  enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome> {
    return this.#async(() => enqueueUniqueTask(this.#ctx, task, dedupe));
  }

  async revoke(id: string): Promise<RevokeOutcome> {
    const outcome = await this.#async(() => revokeTask(this.#ctx, id));
    // The worker running it stops it now; the revoke flag written is the
    // fallback its worker reads when it renews the lease.
    if (outcome === "requested") {
      await this.publish({ channel: "control", event: "revoke", data: id });
    }
    return outcome;
  }

  claim(request: ClaimRequest): Promise<Claim[]> {
    return this.#async(() => claimTasks(this.#ctx, request));
  }

  waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    return this.#waiters.wait(queues, seconds, signal);
  }

  renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    return this.#async(() => renewLeases(this.#ctx, leases, leaseSeconds));
  }

  finish(outcomes: readonly Finish[]): Promise<boolean[]> {
    return this.#async(() => finishTasks(this.#ctx, outcomes));
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#async(() => releaseLeases(this.#ctx, leases));
  }

  setProgress(lease: Lease, progress: TaskProgress): Promise<boolean> {
    return this.#async(() =>
      rewriteLeasedRecord(this.#ctx, lease, (task) => ({ ...task, progress }))
    );
  }

  saveStep(lease: Lease, step: TaskStep): Promise<boolean> {
    // A step of the same name is replaced: a record never holds a name twice.
    return this.#async(() =>
      rewriteLeasedRecord(this.#ctx, lease, (task) => ({
        ...task,
        steps: withStep(task.steps, step),
      }))
    );
  }

  reclaim(
    maxRedeliveries: number,
    queues?: readonly string[],
  ): Promise<ReclaimReport> {
    return this.#async(() =>
      reclaimExpired(this.#ctx, maxRedeliveries, queues)
    );
  }

  expireLeases(worker: string, queues: readonly string[]): Promise<number> {
    return this.#async(() => expireWorkerLeases(this.#ctx, worker, queues));
  }

  settle(task: TaskRecord): Promise<boolean> {
    return this.#async(() => settleTask(this.#ctx, task));
  }

  joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined> {
    return this.#async(() =>
      joinTaskGroup(this.#ctx, group, index, total, value)
    );
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.#async(() => readTask(this.#ctx, id));
  }

  searchTasks(query: TaskQuery): Promise<TaskPage> {
    return this.#async(() => searchStoredTasks(this.#ctx, query));
  }

  jobStats(options?: JobStatsOptions): Promise<Map<string, JobStats>> {
    return this.#async(() =>
      sqliteJobStats(this.#ctx.db, this.#ctx.codec, this.#ctx.now(), options)
    );
  }

  statusHistory(options?: StatusHistoryOptions): Promise<StatusHistory> {
    return this.#async(() => readStatusHistory(this.#ctx, options));
  }

  deleteTasks(ids: readonly string[]): Promise<number> {
    return this.#async(() => deleteFinishedTasks(this.#ctx, ids));
  }

  async queueStats(queues?: readonly string[]): Promise<QueueStats[]> {
    const names = queues ?? await this.queueNames();
    return this.#async(() => readQueueStats(this.#ctx, names));
  }

  pauseQueue(queue: string): Promise<boolean> {
    return this.#async(() => pauseQueueNamed(this.#ctx, queue));
  }

  resumeQueue(queue: string): Promise<boolean> {
    return this.#async(() => resumeQueueNamed(this.#ctx, queue));
  }

  queueGroups(queue: string): Promise<GroupInfo[]> {
    return this.#async(() => queueGroupsOf(this.#ctx, queue));
  }

  pauseGroup(queue: string, group: string): Promise<boolean> {
    return this.#async(() => pauseGroupNamed(this.#ctx, queue, group));
  }

  resumeGroup(queue: string, group: string): Promise<boolean> {
    return this.#async(() => resumeGroupNamed(this.#ctx, queue, group));
  }

  pausedQueues(): Promise<string[]> {
    return this.#async(() => pausedQueueNames(this.#ctx));
  }

  queueNames(): Promise<string[]> {
    return this.#async(() => activeQueueNames(this.#ctx));
  }

  flush(queues: readonly string[]): Promise<number> {
    return this.#async(() => flushQueues(this.#ctx, queues));
  }

  publish(message: ChannelMessage): Promise<void> {
    return this.#async(() => {
      const payload = this.#codec.encode({ data: message.data });
      this.#ctx.transaction(() =>
        this.#events.insert(message.channel, message.event, payload)
      );
    });
  }

  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    return this.#async(() => this.#events.subscribe(channel, listener));
  }

  beat(status: WorkerStatus, options?: BeatOptions): Promise<BeatReport> {
    return this.#async(() => beatWorker(this.#ctx, status, options));
  }

  liveWorkers(): Promise<WorkerStatus[]> {
    return this.#async(() => liveWorkerStatuses(this.#ctx));
  }

  leave(worker: string): Promise<void> {
    return this.#async(() => forgetWorker(this.#ctx, worker));
  }

  acquireLock(name: string, owner: string, seconds: number): Promise<boolean> {
    return this.#async(() => takeLock(this.#ctx, name, owner, seconds));
  }

  releaseLock(name: string, owner: string): Promise<boolean> {
    return this.#async(() => freeLock(this.#ctx, name, owner));
  }

  upsertSchedule(definition: ScheduleDefinition): Promise<boolean> {
    return this.#async(() => upsertScheduleRow(this.#ctx, definition));
  }

  schedules(): Promise<StoredSchedule[]> {
    return this.#async(() => readSchedules(this.#ctx));
  }

  schedule(id: string): Promise<StoredSchedule | undefined> {
    return this.#async(() => readSchedule(this.#ctx, id));
  }

  removeSchedule(id: string): Promise<boolean> {
    return this.#async(() => deleteSchedule(this.#ctx, id));
  }

  setSchedulePaused(id: string, paused: boolean): Promise<boolean | undefined> {
    return this.#async(() => setSchedulePausedRow(this.#ctx, id, paused));
  }

  takeScheduleRun(
    id: string,
    due: number,
    expected: { version: number; runs: number },
  ): Promise<boolean> {
    return this.#async(() => takeScheduleRunRow(this.#ctx, id, due, expected));
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#events.close();
    this.#waiters.close();
    const stopped = this.#loop.close();
    this.#db.close();
    return stopped;
  }

  /** Closes the store (see {@linkcode SqliteStore.close}). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Runs synchronous database work as a promise (errors become rejections). */
  #async<T>(work: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new Error(`Store ${this.url} is closed`));
    }
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
