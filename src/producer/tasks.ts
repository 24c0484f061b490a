/**
 * `api.tasks`: queue, execute, get, search and revoke tasks; the job
 * registry, the jobs' statistics and the periodic schedule. A facade over
 * its producer: every argument is checked here or in `prepareTasks`, before
 * anything is queued.
 * @module
 */
import { describeValue } from "../model/errors.ts";
import { soonest } from "../model/periodic.ts";
import {
  checkQueueOptionKeys,
  type DedupeOptions,
  type NewTaskOptions,
  type QueueOptions,
} from "../model/queue_options.ts";
import type { JobInfo, JobRegistry } from "../runtime/registry.ts";
import type { Settings } from "../model/settings_types.ts";
import type { JobStats, JobStatsOptions } from "../store/job_stats.ts";
import type {
  QueueAdmin,
  RevokeOutcome,
  StatusHistory,
  StatusHistoryOptions,
  TaskAdmin,
  TaskPage,
  TaskQuery,
  TaskQueue,
  TaskReads,
  WorkflowState,
} from "../store/store.ts";
import { type Dict, newTaskId, Task, type TaskRecord } from "../model/task.ts";
import { startQueueSpan } from "../runtime/tracing.ts";
import { noteQueued, type QueueReceipt, TaskFuture } from "./task_future.ts";
import { continueEnded } from "./workflow_continuation.ts";

/** How a producer queues a prepared task (`Producer.queue`). */
export interface QueueTaskOptions {
  /** As `QueueOptions.callback` (default true). */
  callback?: boolean;
  /**
   * Called once the task is queued (or, when its queue is null, before it
   * runs here); with the task that was there when `unique` found one.
   */
  onQueued?: (duplicate?: QueueReceipt) => void;
  /**
   * Queue it only when no task is there (`Store.enqueueUnique`): for a
   * caller's id, or a dedupe key. Absent: the common path, `Store.enqueue`.
   */
  unique?: { dedupe?: DedupeOptions };
}

/** What `api.tasks` uses of its producer. */
export interface TasksHost {
  /** This host's name, lower-case: its local queue. */
  readonly nodeName: string;
  /** The settings (after `start()`). */
  readonly settings: Settings;
  /** The job registry (after `start()`). */
  readonly registry: JobRegistry;
  /** The store (after `start()`). */
  readonly store:
    & TaskQueue
    & TaskReads
    & TaskAdmin
    & QueueAdmin
    & WorkflowState;
  /** Opens the producer; idempotent. */
  start(): Promise<unknown>;
  /** True once the producer is closing. */
  closing(): boolean;
  /** The checked record of a new task. */
  prepareTask(
    jobName: string,
    kwargs?: Dict,
    options?: NewTaskOptions,
  ): Promise<TaskRecord>;
  /** The checked records of new tasks of one job. */
  prepareTasks(
    jobName: string,
    kwargsList: readonly Dict[],
    options?: NewTaskOptions,
  ): Promise<TaskRecord[]>;
  /**
   * Queues (or runs, when its queue is null) a prepared task; `onQueued`
   * is called once it is queued, or found there (`unique`).
   */
  queue(task: Task, options?: QueueTaskOptions): TaskFuture;
  /** Queues prepared records in one store call. */
  enqueueMany(records: TaskRecord[]): Promise<Task[]>;
}

/**
 * The tasks part of the producer API (`api.tasks`).
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
 *   .api().start();
 * const queued = await api.tasks.queue("addition", { a: 1 }, {
 *   callback: false,
 *   delay: 2,
 * });
 * console.log(queued.statusString); // "QUEUED"
 * ```
 */
export class Tasks {
  /** Its name in the API (pulsar-queue's consumer name). */
  readonly name = "tasks";
  readonly #producer: TasksHost;

  /** Made by the producer. */
  constructor(producer: TasksHost) {
    this.#producer = producer;
  }

  /**
   * Queues a task of `jobName`. An unknown name rejects with
   * `TaskNotAvailable`; a bad option rejects with a `TypeError` or
   * `RangeError` naming it, and so does a kwarg JSON would change or
   * cannot encode (a Date, a Map, NaN...), with its key path.
   *
   * @param jobName The job's name.
   * @param kwargs The job's arguments: JSON values (checked by its schema,
   * if any).
   * @param options When, where and how long it may run; see {@linkcode QueueOptions}.
   * @returns A future with the task's id at once, resolving with the task done
   * (or queued, with `callback: false`). With an `id` already stored, or a
   * `dedupe` key held, nothing is queued: the future follows the task that
   * is there, and `future.queued` says so.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
   *   .api().start();
   * // At most one task of this id: a second call follows the first task.
   * const future = api.tasks.queue("addition", { a: 1 }, {
   *   id: "daily-sum:2024-07-01",
   *   callback: false,
   * });
   * const { duplicate } = await future.queued;
   * console.log(duplicate ? "already there" : "queued");
   * ```
   */
  queue(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): TaskFuture {
    return queueOne(this.#producer, jobName, kwargs, options);
  }

  /**
   * Queues many tasks of one job in one store call (all or none) and
   * resolves with them QUEUED; `task.doneCallback` of each resolves when it
   * is done.
   *
   * @param jobName The job's name.
   * @param kwargsList The arguments of each task.
   * @param options The options every task gets (no `callback`).
   * @returns The tasks, QUEUED, in the order of `kwargsList`.
   */
  async queueMany(
    jobName: string,
    kwargsList: readonly Dict[],
    options: Omit<QueueOptions, "callback"> = {},
  ): Promise<Task[]> {
    const producer = this.#producer;
    await producer.start();
    checkQueueOptionKeys(options, "tasks.queueMany", false);
    for (const key of ["id", "dedupe"] as const) {
      if (options[key] !== undefined) {
        throw new TypeError(
          `Cannot queue many tasks with '${key}': it is one task's; queue each with tasks.queue`,
        );
      }
    }
    if (options.queue === false) {
      throw new TypeError(
        "Cannot queue many tasks with 'queue' false: use execute",
      );
    }
    if (!Array.isArray(kwargsList)) {
      throw new TypeError(
        `Cannot queue many tasks as 'kwargsList' must be an array: got ${
          describeValue(kwargsList)
        }`,
      );
    }
    // One span for the call: every task's run is its child.
    const span = startQueueSpan(jobName, {
      "pq.task.count": kwargsList.length,
    });
    try {
      const records = await producer.prepareTasks(jobName, kwargsList, {
        ...options,
        traceparent: span.traceparent,
      });
      span.set({ "pq.queue": records[0]?.queue ?? "" });
      const tasks = await producer.enqueueMany(records);
      span.end();
      return tasks;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  /** Queues a task on this host's local queue (served first by its servers). */
  queueLocal(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): TaskFuture {
    return this.queue(jobName, kwargs, {
      ...options,
      queue: this.#producer.nodeName,
    });
  }

  /**
   * Runs a task in this process, without a queue; resolves when done.
   *
   * @param jobName The job's name: its code must be loaded in this process.
   * @param kwargs The job's arguments.
   * @param options As `queue`'s (the queue is ignored).
   * @returns A future of the task done.
   */
  execute(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): TaskFuture {
    return this.queue(jobName, kwargs, {
      ...options,
      queue: false,
      callback: true,
    });
  }

  /**
   * The stored task of an id.
   *
   * @param id The task's id.
   * @returns The task, or undefined (unknown, or past `resultTtl`).
   */
  async get(id: string): Promise<Task | undefined> {
    await this.#producer.start();
    const record = await this.#producer.store.get(id);
    return record && new Task(record);
  }

  /**
   * Searches the stored tasks: queued, running, and finished ones kept for
   * `resultTtl`. Every filter given must match; tasks come newest first
   * (by `timeQueued`), one page at a time. A malformed query (an unknown
   * field, a bad status code, a cursor of another search) rejects with a
   * `TypeError` naming the field.
   *
   * @param query The filters, the page size (`limit`, 1 to 500, default
   * 50) and where to go on (`cursor`: the `next` of the page before).
   * @returns The page: its task records, and `next` when more may follow.
   *
   * @example
   * ```ts
   * import { PulsarQueue, TaskStatus } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const page = await api.tasks.search({
   *   job: "addition",
   *   status: [TaskStatus.FAILURE],
   *   limit: 20,
   * });
   * for (const record of page.tasks) console.log(record.id, record.result);
   * if (page.next) await api.tasks.search({ job: "addition", cursor: page.next });
   * ```
   */
  async search(query: TaskQuery = {}): Promise<TaskPage> {
    await this.#producer.start();
    return await this.#producer.store.searchTasks(query);
  }

  /**
   * Statistics of jobs, computed by the store for all of them at once:
   * each job's retained tasks counted by status, and the run-time
   * percentiles (p50, p95, p99) of its newest ended tasks. A bad option
   * rejects with a `TypeError` or `RangeError` naming it.
   *
   * @param options The jobs (every job with a retained task when absent)
   * and how many of the newest ended tasks of each give the run times.
   * @returns The stats by job name, sorted by name; `sampled` says when
   * only a job's newest tasks were counted.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * for (const [job, stats] of await api.tasks.jobStats({ runs: 500 })) {
   *   console.log(job, stats.counts.FAILURE ?? 0, stats.p95);
   * }
   * ```
   */
  async jobStats(
    options: JobStatsOptions = {},
  ): Promise<Map<string, JobStats>> {
    await this.#producer.start();
    return await this.#producer.store.jobStats(options);
  }

  /**
   * Revokes a task: a queued one never runs (REVOKED); a running one is
   * stopped at once in every mode (its worker is told on channel
   * `control`; a lease renewal carries the revoke too).
   *
   * @param id The task's id.
   * @returns What happened: `revoked`, `finished` (too late) or `unknown`.
   */
  async revoke(id: string): Promise<RevokeOutcome> {
    await this.#producer.start();
    const outcome = await this.#producer.store.revoke(id);
    // A workflow member revoked while queued never reaches a worker: its
    // workflow goes on (fails) here.
    if (outcome === "revoked") await continueEnded(this.#producer, [id]);
    return outcome;
  }

  /** The queues a server consumes, in priority order: local queue first. */
  queues(): string[] {
    return [this.#producer.nodeName, ...this.#producer.settings.taskQueues];
  }

  /**
   * Every queue an operator wants to see: the configured ones first (this
   * host's, `taskQueues`, `defaultTaskQueue`, the jobs' own queues), even
   * when empty, then every other queue that holds tasks (a `--queue` of
   * `pq queue`, another host's), as `Store.queueNames` sorts them, then
   * every paused queue.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const stats = await api.queues.stats(await api.tasks.knownQueues());
   * ```
   */
  async knownQueues(): Promise<string[]> {
    const { settings, registry, store } = this.#producer;
    return [
      ...new Set([
        ...this.queues(),
        settings.defaultTaskQueue,
        ...registry.names().flatMap((name) =>
          registry.get(name)?.defaultQueue ?? []
        ),
        ...await store.queueNames(),
        ...await store.pausedQueues(),
      ]),
    ];
  }

  /** `[name, info]` of the named jobs, or of all. */
  jobList(names?: readonly string[]): Array<[string, JobInfo]> {
    return this.#producer.registry.jobList(names);
  }

  /**
   * The periodic job, among `names` (all jobs when absent), whose next run
   * comes soonest: `[name, seconds until that run]`, as pulsar-queue's
   * `next_scheduled`. Resolves with undefined when none of the names is a
   * periodic job (unknown and regular names are skipped). Run times are a
   * fixed grid (see docs/periodic_jobs.md), so any process can tell
   * when the next run is due; it is queued then by a server started with
   * `--schedule-periodic`.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
   *   .api().start();
   * const next = await api.tasks.nextScheduled();
   * if (next) console.log(`${next[0]} runs in ${next[1]} s`);
   * ```
   */
  async nextScheduled(
    names?: readonly string[],
  ): Promise<[string, number] | undefined> {
    await this.#producer.start();
    const registry = this.#producer.registry;
    const jobs = (names ?? registry.names()).flatMap((name) => {
      const cls = registry.get(name);
      return cls ? [[name, cls] as const] : [];
    });
    return soonest(jobs, Date.now() / 1000);
  }

  /**
   * How many tasks ended, by status, as the store counts them: totals since
   * the store began (they survive a flush, a forgotten queue, the expiry
   * or deletion of tasks and a restart of any process), and the counts of
   * each minute of the last `minutes` (1 to 1440, default 60), oldest
   * first, every minute present (zero-filled). A task is counted once, when
   * it ends SUCCESS, FAILURE, REVOKED or RETRY. A bad option rejects with a
   * `TypeError` or `RangeError` naming it.
   *
   * @param options The minutes of the window (24 h are kept).
   * @returns The totals and the minutes, by status name.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const history = await api.tasks.history({ minutes: 15 });
   * console.log(history.totals.SUCCESS ?? 0, history.minutes.length); // 15 minutes
   * for (const { minute, counts } of history.minutes) {
   *   console.log(new Date(minute * 1000).toISOString(), counts.FAILURE ?? 0);
   * }
   * ```
   */
  async history(options?: StatusHistoryOptions): Promise<StatusHistory> {
    await this.#producer.start();
    return await this.#producer.store.statusHistory(options);
  }

  /**
   * Deletes finished tasks (SUCCESS, FAILURE, REVOKED, RETRY) by id, each
   * atomically, with their search entries; a dedupe key one held is free.
   * An id that is queued, running or unknown is left alone and not
   * counted, and so is a workflow member (its workflow reads it; it goes
   * with its retention). The status history still counts them. At most
   * 10,000 ids a call (a `RangeError` past it); an id that is not a
   * non-empty string rejects with a `TypeError`.
   *
   * @param ids The ids of the tasks to delete.
   * @returns How many tasks were deleted.
   *
   * @example
   * ```ts
   * import { PulsarQueue, TaskStatus } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const failed = await api.tasks.search({ status: [TaskStatus.FAILURE] });
   * const deleted = await api.tasks.delete(failed.tasks.map((task) => task.id));
   * console.log(`Deleted ${deleted} failed tasks`);
   * ```
   */
  async delete(ids: readonly string[]): Promise<number> {
    await this.#producer.start();
    return await this.#producer.store.deleteTasks(ids);
  }
}

/**
 * Queues one task: `tasks.queue`, and jobs' `queue()` with `fromTask`. The
 * future has its id at once; bad arguments reject it before anything is
 * queued.
 */
export function queueOne(
  producer: TasksHost,
  jobName: string,
  kwargs: Dict | undefined,
  options: QueueOptions,
  fromTask?: string,
): TaskFuture {
  // A caller's id is checked with the other options (a bad one rejects
  // the future, whose id is then a new one).
  const given = typeof options === "object" && options !== null
    ? options.id
    : undefined;
  const id = typeof given === "string" ? given : newTaskId();
  // A child of the active span: a job's run, when a job queues.
  const span = startQueueSpan(jobName, { "pq.task.id": id });
  const promise = (async () => {
    if (producer.closing()) {
      throw new Error("Cannot queue task as the producer is closing");
    }
    checkQueueOptionKeys(options, "tasks.queue");
    const record = await producer.prepareTask(jobName, kwargs, {
      ...options,
      // A caller's id stays as given, to be checked.
      ...(given === undefined && { id }),
      ...(fromTask !== undefined && { fromTask }),
      traceparent: span.traceparent,
    });
    span.set({ "pq.queue": record.queue ?? "" });
    const unique = given !== undefined || options.dedupe !== undefined;
    return await producer.queue(new Task(record), {
      callback: options.callback,
      onQueued: (duplicate) => {
        noteQueued(future, duplicate);
        if (duplicate) {
          span.set({
            "pq.task.duplicate": duplicate.reason,
            "pq.task.id": duplicate.id,
          });
        }
        span.end();
      },
      ...(unique && { unique: { dedupe: options.dedupe } }),
    });
  })();
  // Ends the span with the error when the task was never queued.
  promise.catch((error) => span.end(error));
  const future = new TaskFuture(id, promise);
  return future;
}
