/**
 * The store contract: every store (embedded SQLite, Redis) implements it and
 * passes the one contract suite in `tests/store_contract.ts`.
 *
 * A task lives in one of three states in a store: queued (ready, or delayed
 * until `timeQueued + delay`), running (claimed under a lease) or finished
 * (kept for `resultTtl` seconds). Every transition is atomic, and the store
 * publishes the task event of the transition (channel `task`) with it.
 *
 * A worker process is alive until its last beat's `until`; a beat reports
 * each worker whose `until` passed to one beater only, save those whose
 * `until` came at or after the time its beater says it was cut off from
 * the store since (`cutOffSince`): they are judged by a later beat.
 * @module
 */
import type { CodecName } from "../model/codec.ts";
import type { JobStats, JobStatsOptions } from "./job_stats.ts";
import type { ChannelMessage } from "../model/events.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import type { DedupeOptions } from "../model/queue_options.ts";
import type { ScheduleDefinition, StoredSchedule } from "../model/schedule.ts";
import type { TaskStatusCode } from "../model/status.ts";
import type { TaskProgress, TaskRecord } from "../model/task.ts";
import type { TaskStep } from "../model/task_step.ts";
import type { StatusHistoryOptions } from "./status_history.ts";

export type { ChannelMessage } from "../model/events.ts";
export type { StatusHistoryOptions } from "./status_history.ts";

/** A task taken from a queue under a lease. */
export interface Claim {
  /** The task id. */
  id: string;
  /** The lease token: only its holder can renew, finish or release it. */
  token: string;
  /** How many times the lease of this task expired before this claim. */
  redeliveries: number;
  /**
   * The task, already marked STARTED with `timeStarted` set; absent when the
   * stored record is malformed (then `malformed` says why).
   */
  task?: TaskRecord;
  /** Why the stored record could not be read, naming the field. */
  malformed?: string;
  /** The job name and queue of the stored record, as far as they are known. */
  name?: string;
  /** The queue the task was claimed from. */
  queue: string;
}

/** What a claim asks for. */
export interface ClaimRequest {
  /** Queues in priority order: all ready tasks of the first come first. */
  queues: readonly string[];
  /** The most tasks to take. */
  max: number;
  /** The worker that takes them (stored in the task's `worker`). */
  worker: string;
  /** The host of the worker (stored in the task's `node`). */
  node: string;
  /** Seconds before the lease expires unless renewed. */
  leaseSeconds: number;
  /**
   * Seconds the worker will wait in `waitForTasks` if this claim finds
   * nothing: a store may then claim tasks queued meanwhile for it, under
   * leases, and hand them over through `waitForTasks` (Redis does).
   */
  waitSeconds?: number;
}

/** A lease on a claimed task. */
export interface Lease {
  /** The task id. */
  id: string;
  /** The lease token from the claim. */
  token: string;
}

/** The outcome of a task, written by the holder of its lease. */
export interface Finish extends Lease {
  /** The final record (status SUCCESS, FAILURE, REVOKED or RETRY). */
  task: TaskRecord;
  /** A new attempt to queue in the same transition (with status RETRY). */
  retry?: TaskRecord;
}

/** What a revoke did. */
export type RevokeOutcome =
  /**
   * The task was queued; it is now REVOKED, its `result` says so, and it
   * will never run.
   */
  | "revoked"
  /** The task is running; its worker is asked to stop it. */
  | "requested"
  /** The task had already finished. */
  | "finished"
  /** No task has this id. */
  | "unknown";

/** What `enqueueUnique` did. */
export type UniqueOutcome =
  /** The task is queued. */
  | { queued: true }
  /**
   * Nothing is queued: a task of the same id is stored (`reason` "id"), or
   * the dedupe key is held (`reason` "dedupe"); `task` is its stored
   * record, as `get` would read it.
   */
  | { queued: false; reason: "id" | "dedupe"; task: TaskRecord };

/** What a beat found (see {@linkcode Store.beat}). */
export interface BeatReport {
  /**
   * The workers whose `until` had passed: each is reported to one beater
   * only, and forgotten (that beater ends their leases).
   */
  dead: WorkerStatus[];
  /**
   * Whether the store knew the beating worker before this beat. False on
   * its first beat, and when its `until` had passed and another beat
   * reported it dead: its leases were ended then, its tasks given back.
   */
  known: boolean;
  /**
   * The earliest `until` of the other live workers (Unix seconds), when
   * there is one: a beat after it finds that worker dead unless it beat.
   */
  next?: number;
}

/** How a beat is to judge the others (see {@linkcode Store.beat}). */
export interface BeatOptions {
  /**
   * The beater was itself cut off from the store since this time (Unix
   * seconds): the time of its last beat that reached the store, given on
   * its beats just after a run of failed ones. A worker whose `until` is at
   * or after it beat until the beater lost the store, so it was likely cut
   * off the same way: this beat neither reports nor forgets it (it is
   * judged by a later beat, once it had time to beat again). A worker whose
   * `until` passed before it is reported dead as by any beat.
   */
  cutOffSince?: number;
}

/** Called for every message on a subscribed channel. */
export type MessageListener = (message: ChannelMessage) => void;

/** What reclaim did with expired leases. */
export interface ReclaimReport {
  /** Tasks put back in their queue to run again. */
  redelivered: number;
  /** Tasks that were redelivered too often and ended as FAILURE. */
  failed: number;
  /**
   * The ids of the tasks it queued again or ended (a task whose revoke was
   * asked for ends REVOKED), so a caller can tell their new state.
   */
  changed: string[];
}

/**
 * A search of the stored tasks (queued, running and finished ones kept for
 * `resultTtl`). Every given filter must match; the answer is newest first
 * (by `timeQueued`, then id), one page at a time.
 */
export interface TaskQuery {
  /** Tasks with one of these statuses. */
  status?: readonly TaskStatusCode[];
  /** Tasks of this job (its exact name). */
  job?: string;
  /** Tasks of this queue (its exact name). */
  queue?: string;
  /** Tasks queued at or after this time (Unix seconds). */
  since?: number;
  /** Tasks queued before this time (Unix seconds). */
  until?: number;
  /**
   * Tasks whose kwargs or result, as JSON, contain this text (ignoring
   * case). A store may look at a bounded number of tasks per page to keep a
   * page fast: a page may then hold fewer than `limit` tasks and still have
   * a `next` cursor.
   */
  text?: string;
  /** The most tasks in the page: 1 to {@linkcode SEARCH_LIMIT_MAX}, default 50. */
  limit?: number;
  /** Where to go on: the `next` of the page before. */
  cursor?: string;
}

/** The most tasks in one page of a search. */
export const SEARCH_LIMIT_MAX = 500;
/** The tasks in a page of a search when the query does not say. */
export const SEARCH_LIMIT_DEFAULT = 50;

/** A page of a search, newest first. */
export interface TaskPage {
  /** The tasks found. */
  tasks: TaskRecord[];
  /** The cursor of the next page; absent when there is none. */
  next?: string;
}

/** The sizes and latency of a queue. */
export interface QueueStats {
  /** The queue name. */
  queue: string;
  /** Tasks due now, waiting for a worker. */
  ready: number;
  /** Tasks waiting for their delay. */
  delayed: number;
  /** Tasks claimed under a lease. */
  running: number;
  /**
   * Seconds since the oldest ready task became due (0 when none is ready):
   * how long the queue makes a task wait.
   */
  latency: number;
}

/** The counts of tasks that ended, kept by the store. */
export interface StatusHistory {
  /**
   * Counts since the store began, by status name (SUCCESS, FAILURE,
   * REVOKED, RETRY; a status never counted is absent). Not dropped when a
   * queue empties, is flushed or forgotten, nor when tasks expire or are
   * deleted.
   */
  totals: Record<string, number>;
  /**
   * One entry per minute of the window asked for, oldest first,
   * zero-filled (every minute present): the minute's start in Unix seconds
   * (a multiple of 60) and its counts by status name. The last entry is
   * the current minute (of the store's clock).
   */
  minutes: { minute: number; counts: Record<string, number> }[];
}

/** Putting tasks in queues and taking them back out: what a producer does to tasks. */
export interface TaskQueue {
  /**
   * Queues tasks (status QUEUED), ready or delayed until
   * `timeQueued + delay`, and publishes `queued` for each. All or none.
   */
  enqueue(tasks: readonly TaskRecord[]): Promise<void>;

  /**
   * Queues one task as `enqueue` does, unless one is there already, in one
   * atomic step: a task of the same id is stored (queued, running, or
   * finished and within its retention), in any queue; or, with `dedupe`, a
   * task of the same queue holds `dedupe.key` (for `dedupe.ttl` seconds
   * from when it took it, and only while that task is stored). Then nothing
   * is written nor published, and the answer carries the stored record of
   * the task that is there. Else the task is queued (`queued` published)
   * and takes the key. Used for tasks queued with a caller's id or a dedupe
   * key only: `enqueue` stays the common path.
   */
  enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome>;

  /** Revokes a task by id (see {@linkcode RevokeOutcome}). */
  revoke(id: string): Promise<RevokeOutcome>;
}

/** The lease lifecycle of a consuming worker: take tasks, keep them, finish or give them back. */
export interface TaskLeases {
  /**
   * Takes up to `max` due tasks from the queues in priority order, marks
   * them STARTED under a lease and publishes `started` for each. Within a
   * queue, tasks of a higher `meta.priority` (an integer, 0 when absent)
   * come first, and tasks of one priority first in, first out; a task put
   * back (released, redelivered, retried) keeps its priority. A task whose
   * `meta.maxConcurrency` is reached (counting running tasks of the same job
   * name with live leases) is skipped and stays queued. A task with a
   * `meta.rateLimit` starts only while its bucket (see `rate_limit.ts`) had
   * fewer than `tasks` starts in the last `per` seconds; else it is parked:
   * it stays queued, due at the time its slot opens. Resolves with an
   * empty list when nothing is due.
   */
  claim(request: ClaimRequest): Promise<Claim[]>;

  /**
   * Resolves when a task may be due on one of the queues, or after
   * `seconds`, or when `signal` aborts; whichever comes first. Resolves
   * with the tasks a store claimed for this worker meanwhile (see
   * `ClaimRequest.waitSeconds`; none on stores that do not): they are the
   * caller's, under lease, as if it had claimed them; none are lost when
   * the caller stops waiting first, as the next claim returns them.
   */
  waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]>;

  /**
   * Extends leases by `leaseSeconds`. Resolves with the ids whose lease was
   * lost (expired and reclaimed, or finished elsewhere) and the ids whose
   * revoke was requested.
   */
  renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }>;

  /**
   * Writes outcomes, each only if its lease is still held, and publishes
   * `done` for each; a `retry` record is queued in the same transition.
   * Resolves with one boolean per outcome: false when the lease was lost.
   */
  finish(outcomes: readonly Finish[]): Promise<boolean[]>;

  /**
   * Gives leased tasks back to their queue unchanged (a worker shutting
   * down), without counting a redelivery. A task whose revoke was asked for
   * ends REVOKED instead, its `result` saying why, and never runs again.
   */
  release(leases: readonly Lease[]): Promise<void>;

  /**
   * Stores how far a running task is, only while `lease` is held, and
   * publishes `progress` (channel `task`) with the updated record. Resolves
   * false when the lease was lost (nothing is written then).
   */
  setProgress(lease: Lease, progress: TaskProgress): Promise<boolean>;
}

/** Giving back the tasks of workers that died or froze. */
export interface TaskRecovery {
  /**
   * Puts tasks whose lease expired back in their queue with one more
   * redelivery; a task over `maxRedeliveries` ends as FAILURE instead, and
   * a task whose revoke was asked for ends REVOKED (both with a `result`
   * that says why). Also drops finished tasks past their retention.
   * `queues` names the queues to look at (a store that can see all of them
   * at once may look at all).
   */
  reclaim(
    maxRedeliveries: number,
    queues?: readonly string[],
  ): Promise<ReclaimReport>;

  /**
   * Ends now the leases of the running tasks of `worker` (a dead one) in
   * `queues`, so that the next `reclaim` gives them back; resolves with how
   * many it ended.
   */
  expireLeases(worker: string, queues: readonly string[]): Promise<number>;
}

/** What workflows keep between their members: settled members and group results. */
export interface WorkflowState {
  /**
   * Stores the final record of a task that never ran (a workflow member
   * revoked or failed before it was queued), unless a task of its id is
   * stored (queued, running, or finished within its retention, in any
   * queue), in one atomic step; then publishes `done` (channel `task`) with
   * it. The record is kept `resultTtl` seconds, found by `get` and
   * `searchTasks`, and never claimed. Resolves true when it was written,
   * false when a task of that id was there (nothing is written then).
   */
  settle(task: TaskRecord): Promise<boolean>;

  /**
   * Records `value` as member `index` (0 <= index < total) of the group
   * named `group`, in one atomic step, and resolves with the values of all
   * members in index order once all `total` are recorded, else undefined.
   * Recording an index again keeps the first value (a member that ran
   * twice) and answers the same way, so every call after the last new
   * member gets the whole list. The group is kept `resultTtl` seconds after
   * its last record. Throws a `TypeError` on a bad index or total.
   */
  joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined>;
}

/** Reading tasks and queues, for producers, the command line and the dashboard. */
export interface TaskReads {
  /** The stored task, or undefined (unknown id, or dropped after retention). */
  get(id: string): Promise<TaskRecord | undefined>;

  /**
   * Searches the stored tasks (see {@linkcode TaskQuery}). Throws a
   * `TypeError` naming the field on a malformed query or cursor.
   */
  searchTasks(query: TaskQuery): Promise<TaskPage>;

  /**
   * The sizes and latency of each queue, in the order given; of every queue
   * of `queueNames()` when `queues` is absent.
   */
  queueStats(queues?: readonly string[]): Promise<QueueStats[]>;

  /**
   * The counts by status and the run-time percentiles of each job, computed
   * by the store in one request (see `job_stats.ts`). Throws a `TypeError`
   * naming the option on bad options.
   */
  jobStats(options?: JobStatsOptions): Promise<Map<string, JobStats>>;

  /**
   * How many tasks ended, by status: totals since the store began, and per
   * minute of the last `minutes` (1 to 1440, default 60; 24 h are kept).
   * A task is counted once, in the atomic step that makes its status
   * SUCCESS, FAILURE, REVOKED or RETRY, in the minute of the store's clock
   * then. Throws a `TypeError` or `RangeError` naming the option on bad
   * options.
   */
  statusHistory(options?: StatusHistoryOptions): Promise<StatusHistory>;
}

/** Task administration: deleting finished tasks. */
export interface TaskAdmin {
  /**
   * Deletes finished tasks (SUCCESS, FAILURE, REVOKED, RETRY) by id, each
   * in one atomic step, with every trace of them (search index, expiry; a
   * dedupe key they held is free). An id that is queued, running or
   * unknown is left alone and not counted, and so is a workflow member
   * (its workflow reads it: it goes with its retention). The status
   * history keeps counting them. Resolves with how many were deleted;
   * throws a `TypeError` on an id that is not a non-empty string and a
   * `RangeError` past 10,000 ids.
   */
  deleteTasks(ids: readonly string[]): Promise<number>;
}

/** A group of a queue with work (fair queues; see `QueueGroups`). */
export interface GroupInfo {
  /** The group's name. */
  group: string;
  /** Its tasks due now, waiting for their turn. */
  ready: number;
  /** Its tasks running. */
  running: number;
  /** True while the group is paused (`pauseGroup`). */
  paused: boolean;
}

/**
 * The groups of a queue (fair queues, docs/fair_queues.md): claims take
 * the due tasks of a queue's groups in turn, one a group a turn, the tasks
 * without a group taking one more turn.
 */
export interface QueueGroups {
  /**
   * The groups of `queue` with tasks ready or running, and the paused ones,
   * sorted by name.
   */
  queueGroups(queue: string): Promise<GroupInfo[]>;

  /**
   * Pauses one group of a queue: no claim takes its tasks until it is
   * resumed; the other groups flow. Resolves true when it changed.
   */
  pauseGroup(queue: string, group: string): Promise<boolean>;

  /** Resumes a paused group; resolves true when it was paused. */
  resumeGroup(queue: string, group: string): Promise<boolean>;
}

/** Queue administration: pausing, resuming, listing and flushing queues. */
export interface QueueAdmin {
  /**
   * Pauses a queue: from now on no claim takes its tasks, and no waiting
   * worker is woken or handed tasks for it; running tasks go on, and tasks
   * can still be queued in it (they wait, in order). Publishes `paused`
   * (channel `queue`, the queue's name as data) when it changed the state.
   * Resolves true when the queue was running and is now paused, false when
   * it was paused already.
   */
  pauseQueue(queue: string): Promise<boolean>;

  /**
   * Resumes a paused queue: its tasks are claimed again, and workers
   * waiting on it are woken at once. Publishes `resumed` (channel `queue`)
   * when it changed the state. Resolves true when the queue was paused,
   * false when it was not.
   */
  resumeQueue(queue: string): Promise<boolean>;

  /** The names of the paused queues, sorted (as `queueNames`). */
  pausedQueues(): Promise<string[]>;

  /**
   * The names of the queues that hold tasks, queued (ready or delayed) or
   * running, sorted (by UTF-16 code units, as `Array.prototype.sort`). A
   * queue whose tasks have all finished, or were flushed, is not listed;
   * nor is one that was only ever configured.
   */
  queueNames(): Promise<string[]>;

  /** Drops every queued task of the queues; resolves with how many. */
  flush(queues: readonly string[]): Promise<number>;
}

/** Messages to every process of the cluster. */
export interface PubSub {
  /** Publishes a message to every subscriber of its channel, in any process. */
  publish(message: ChannelMessage): Promise<void>;

  /**
   * Calls `listener` for every message published on `channel` from now on.
   * Resolves with a function that unsubscribes.
   */
  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>>;
}

/** Which worker processes are alive: their beats. */
export interface WorkerRegistry {
  /**
   * Records that a worker process is alive until `status.until` (Unix
   * seconds), with its status, in one atomic step with what it reports
   * (see {@linkcode BeatReport}): the workers whose `until` has passed
   * (each dead worker is reported to one caller only and forgotten),
   * whether this worker was known before, and the next `until` of another.
   * With `options.cutOffSince`, a worker whose `until` is at or after it
   * is neither reported nor forgotten by this beat (see
   * {@linkcode BeatOptions}).
   */
  beat(status: WorkerStatus, options?: BeatOptions): Promise<BeatReport>;

  /** The workers whose beat has not expired, sorted by name. */
  liveWorkers(): Promise<WorkerStatus[]>;

  /** Forgets the beat of a worker that stopped cleanly. */
  leave(worker: string): Promise<void>;
}

/**
 * Schedules managed at run time (`api.schedules`): definitions and their
 * run state, each change one atomic step.
 */
export interface ScheduleStore {
  /**
   * Stores a schedule's definition, by its id: a new one starts with no
   * run; an existing one keeps its runs, last due time and pause. Either
   * way its version is bumped and `since` set to the store's clock.
   * Resolves true when it was created, false when it replaced one.
   */
  upsertSchedule(definition: ScheduleDefinition): Promise<boolean>;

  /** Every schedule, sorted by id. */
  schedules(): Promise<StoredSchedule[]>;

  /** The schedule of `id`, or undefined. */
  schedule(id: string): Promise<StoredSchedule | undefined>;

  /** Deletes a schedule; resolves true when there was one. */
  removeSchedule(id: string): Promise<boolean>;

  /**
   * Pauses (`paused` true) or resumes a schedule, bumping its version; a
   * resume sets `since` to the store's clock (runs due while paused are
   * skipped). Resolves true when the state changed, false when it was so
   * already, undefined when there is no such schedule.
   */
  setSchedulePaused(id: string, paused: boolean): Promise<boolean | undefined>;

  /**
   * Takes the run of due time `due`, as one compare-and-set: only while the
   * schedule's version and run count are still `expected`'s, it is not
   * paused and `due` is after its last due time; then its run count goes
   * up by one and its last due time is `due`. Resolves true when taken:
   * the same run is taken once across every caller.
   */
  takeScheduleRun(
    id: string,
    due: number,
    expected: { version: number; runs: number },
  ): Promise<boolean>;
}

/** Named locks with an owner and a time limit. */
export interface Locks {
  /**
   * Takes the named lock for `owner` for `seconds`, if it is free or its
   * holder's time ran out. Resolves true when taken.
   */
  acquireLock(name: string, owner: string, seconds: number): Promise<boolean>;

  /** Frees the named lock if `owner` holds it; resolves true if it did. */
  releaseLock(name: string, owner: string): Promise<boolean>;
}

/** Durable steps: a running task's finished `ctx.step`s, in its record. */
export interface TaskSteps {
  /**
   * Adds `step` to the steps of a running task's stored record (replacing
   * one of the same name), only while `lease` is held, in one atomic step,
   * and publishes `progress` (channel `task`) with the updated record.
   * Resolves false when the lease was lost (nothing is written then).
   */
  saveStep(lease: Lease, step: TaskStep): Promise<boolean>;
}

/**
 * A task store and message broker: every role at once. Each part of pq takes
 * only the roles it uses (see the module's header).
 */
export interface Store
  extends
    TaskQueue,
    TaskLeases,
    TaskRecovery,
    WorkflowState,
    TaskReads,
    TaskAdmin,
    QueueAdmin,
    QueueGroups,
    PubSub,
    WorkerRegistry,
    ScheduleStore,
    Locks,
    TaskSteps,
    AsyncDisposable {
  /** The store URL, without secrets. */
  readonly url: string;

  /** Closes connections and stops background work. Idempotent. */
  close(): Promise<void>;
}

/** The number of queued tasks of a queue, ready or delayed. */
export function queuedCount(stats: QueueStats): number {
  return stats.ready + stats.delayed;
}

/** The number of queued tasks of each queue, in the order given. */
export async function queueSizes(
  store: Pick<TaskReads, "queueStats">,
  queues: readonly string[],
): Promise<number[]> {
  return (await store.queueStats(queues)).map(queuedCount);
}

/** Settings every store is opened with. */
export interface StoreOptions {
  /** The serializer of records and messages. */
  serializer: CodecName;
  /** Seconds a finished task is kept. */
  resultTtl: number;
  /** The clock (Unix seconds); tests inject their own. */
  now?: () => number;
}
