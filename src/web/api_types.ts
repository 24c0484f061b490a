/**
 * The shapes of what the dashboard's API answers, and of its live events:
 * declared once, for the handlers that build them (`routes/`, `live.ts`,
 * `task_view.ts`, `workflow_view.ts`) and for the page's modules that read
 * them (`assets/types.js`).
 *
 * Invariants: types only, importing types of the model and the store only:
 * the page's modules are checked as a program of their own, with the DOM's
 * types (`tests/browser_check.jsonc`), which this file and what it imports
 * must pass too.
 * @module
 */
import type { ScheduleInfo } from "../model/schedule.ts";
import type { TaskProgress, TaskRecord } from "../model/task.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import type { JobStats } from "../store/job_stats.ts";
import type {
  GroupInfo,
  QueueStats,
  RevokeOutcome,
  StatusHistory,
} from "../store/store.ts";

// ------------------------------------------------------------------ tasks

/** A task in a list. */
export interface TaskSummary {
  /** The id. */
  id: string;
  /** The job name. */
  name: string;
  /** The queue (null: run in its producer). */
  queue: string | null;
  /** The status code. */
  status: number;
  /** The status name. */
  statusString: string;
  /** When queued, Unix seconds. */
  timeQueued: number;
  /** When started, or null. */
  timeStarted: number | null;
  /** When ended, or null. */
  timeEnded: number | null;
  /** The attempt number. */
  retry: number;
  /** The worker that ran it, or null. */
  worker: string | null;
  /** Its progress, or null. */
  progress: TaskProgress | null;
  /** The kwargs as JSON, cut to `PREVIEW_CHARS` (`task_view.ts`) characters. */
  kwargs: string;
  /**
   * Why it did not succeed (FAILURE, RETRY, REVOKED): its exception, else
   * its result as JSON, cut to `ERROR_CHARS` (`task_view.ts`); else null.
   */
  error: string | null;
}

/** A task on its page: the whole record, its status name and its attempts. */
export interface TaskDetail {
  /** The record. */
  task: TaskRecord & { statusString: string };
  /** Every attempt of the task, first to last (this one included). */
  attempts: TaskSummary[];
}

/** The answer of a search. */
export interface SearchView {
  /** The tasks found, newest first. */
  tasks: TaskSummary[];
  /** The cursor of the next page, when there may be one. */
  next?: string;
}

/** The answer of a revoke. */
export interface RevokeView {
  /** The task's id. */
  id: string;
  /** What the revoke did. */
  outcome: RevokeOutcome;
}

/** The bulk actions on tasks (`POST /api/tasks/<action>`). */
export type BulkAction = "retry" | "delete" | "revoke";

/** A task a bulk action left alone, and why. */
export interface BulkSkip {
  /** The task's id. */
  id: string;
  /** Why it was left alone. */
  reason: string;
}

/** The answer of a bulk action. */
export interface BulkView {
  /** The action. */
  action: BulkAction;
  /** How many tasks it was asked for (the ids, or those the filter found). */
  matched: number;
  /** How many it acted on (retried, deleted, revoked). */
  done: number;
  /** Retry only: the new tasks' ids, by the failed task's id. */
  copies?: Record<string, string>;
  /** How many it left alone. */
  skipped: number;
  /** The first of those left alone, with why (at most 20). */
  skips: BulkSkip[];
  /** True when the filter found more tasks than one action takes: run it again. */
  more: boolean;
}

/** The answer of an action that queued a task. */
export interface QueuedView {
  /** The new task's id. */
  id: string;
  /** Its summary. */
  task: TaskSummary;
}

// -------------------------------------------------------------- workflows

/** A member of a workflow on its page. */
export interface WorkflowMemberDetail {
  /** The member's task id (`W.i` or `W.i.j`). */
  id: string;
  /** Its job's name. */
  job: string;
  /** The index of its step. */
  step: number;
  /** Its task, or null while its turn has not come. */
  task: TaskSummary | null;
  /** Its result as JSON (cut), once it ended. */
  result?: string;
}

/** A workflow on its page. */
export interface WorkflowDetail {
  /** The workflow's id. */
  id: string;
  /** Its members, in plan order. */
  members: WorkflowMemberDetail[];
}

/** The answer of a workflow's revoke. */
export interface WorkflowRevokeView {
  /** The workflow's id. */
  id: string;
  /** What the revoke did, by member id. */
  outcomes: Record<string, RevokeOutcome>;
}

// ------------------------------------------------------ queues and workers

/** A task running on a worker, as the Workers view shows it. */
export interface RunningTask {
  /** The id. */
  id: string;
  /** The job name. */
  name: string;
  /** When it started (Unix seconds), or null when not known. */
  timeStarted: number | null;
  /** Its progress, or null. */
  progress: TaskProgress | null;
}

/** A live worker, as the Workers view shows it. */
export interface WorkerView extends WorkerStatus {
  /** The tasks it runs now. */
  running: RunningTask[];
  /** When this dashboard first saw it (Unix seconds). */
  seenSince: number;
}

/** A queue, as the Queues view shows it. */
export interface QueueView extends QueueStats {
  /** Tasks of the queue done per second over the last minute. */
  throughput: number;
  /** Whether workers are kept from claiming its tasks (`pq pause`). */
  paused: boolean;
}

/**
 * The counters header: totals the store keeps since it began (they survive
 * a restart of the dashboard), and the queues' sizes now.
 */
export interface CountersView {
  /** Tasks that ended SUCCESS or FAILURE (Sidekiq's "Processed"). */
  processed: number;
  /** Tasks that ended FAILURE (their retries spent). */
  failed: number;
  /** Attempts that failed and were queued again (ended RETRY). */
  retried: number;
  /** Tasks revoked. */
  revoked: number;
  /** Tasks running now (claimed under a lease), in every known queue. */
  running: number;
  /** Tasks waiting for their delay (a retry's too), in every known queue. */
  scheduled: number;
  /** Tasks due, waiting for a worker, in every known queue. */
  queued: number;
}

/** A minute of the chart: its start (Unix seconds) and counts by status. */
export type MinuteCounts = StatusHistory["minutes"][number];

/** The data of a `cluster` event. */
export interface ClusterView {
  /** Every known queue. */
  queues: QueueView[];
  /** The live workers. */
  workers: WorkerView[];
  /** When it was read (Unix seconds). */
  time: number;
  /** The counters header (null: the store's totals could not be read). */
  counters: CountersView | null;
  /** The last two minutes' counts, for the chart (empty: not read). */
  recent: MinuteCounts[];
}

/** The answer of a purge. */
export interface PurgeView {
  /** The queue. */
  queue: string;
  /** How many tasks were dropped. */
  purged: number;
}

/** The groups of a queue (`GET /api/groups?queue=`; fair queues). */
export interface GroupsView {
  /** The queue. */
  queue: string;
  /** Its groups with work, and the paused ones, sorted by name. */
  groups: GroupInfo[];
}

/** The answer of a group's pause or resume. */
export interface GroupPauseView {
  /** The queue. */
  queue: string;
  /** The group. */
  group: string;
  /** Whether it is paused now. */
  paused: boolean;
  /** Whether this action changed it. */
  changed: boolean;
}

/** The answer of a pause or resume. */
export interface PauseView {
  /** The queue. */
  queue: string;
  /** Whether it is paused now. */
  paused: boolean;
  /** Whether this action changed it. */
  changed: boolean;
}

// ------------------------------------------------------------------- jobs

/**
 * A job as the page shows it: what its code says here (`local`), or what
 * live workers advertise of it; with the rest of its info or advert.
 */
export interface JobView {
  /** Its name. */
  name: string;
  /** What it does (null: not known here). */
  doc: string | null;
  /** Its execution mode (null: not known here). */
  mode: string | null;
  /** `regular` or `periodic` (null: not known here). */
  type: string | null;
  /** Its queue, or null for the default. */
  defaultQueue: string | null;
  /** Its default timeout, or null. */
  timeout: number | null;
  /** Its most tasks at once, or null. */
  maxConcurrency: number | null;
  /** Whether its kwargs are checked here (by its schema). */
  schema: boolean;
  /** Whether its code is loaded here. */
  local: boolean;
  /**
   * The live workers that advertise it and consume its default queue
   * (`defaultQueue`, else the `defaultTaskQueue`).
   */
  workers: string[];
  /** Its queue: `defaultQueue`, else the cluster's `defaultTaskQueue`. */
  queue: string;
  /** Its runs in all for a task that does not succeed, or null (not known here, or 1). */
  maxRetries: number | null;
  /** Its retry delay as text (`5 s`, `exponential from 1 s to 300 s, jitter`), or null. */
  retryDelay: string | null;
  /** Its schedule as text (`every 60 s`, `cron 0 6 * * 1`), or null. */
  schedule: string | null;
  /** When its next periodic run is due (Unix seconds), or null. */
  nextRun: number | null;
  /** The rest of its info or advert. */
  [more: string]: unknown;
}

/** The answer of `GET /api/jobs`. */
export interface JobListView {
  /** Every job, by name, each with its stats. */
  jobs: Array<JobView & { stats: JobStats }>;
}

/** The answer of `GET /api/jobs/:name`. */
export interface JobPageView {
  /** The job. */
  job: JobView;
  /** Its stats. */
  stats: JobStats;
}

// -------------------------------------------------------------- schedules

/** The answer of `GET /api/schedules`: each with its next 3 run times. */
export interface ScheduleListView {
  /** The schedules, sorted by id. */
  schedules: ScheduleInfo[];
}

/** The answer of a schedule's pause or resume. */
export interface SchedulePauseView {
  /** The schedule's id. */
  id: string;
  /** Whether it is paused now. */
  paused: boolean;
  /** Whether this action changed it. */
  changed: boolean;
}

/** The answer of a schedule's removal. */
export interface ScheduleRemoveView {
  /** The schedule's id. */
  id: string;
  /** True: it was there and is gone. */
  removed: boolean;
}

// ------------------------------------------------------- the page itself

/** The answer of `GET /api/session`. */
export interface SessionView {
  /** The CSRF token of the session's actions (null: no session). */
  csrf: string | null;
  /** The store's URL, its password masked. */
  store: string;
  /** Whether requests must carry the token. */
  needsToken: boolean;
}

/** The answer of `GET /api/overview`. */
export interface OverviewView {
  /** The tasks ended per minute, from the store (`?minutes=`, default 60). */
  history: StatusHistory;
  /** The queues, the live workers and the counters. */
  cluster: ClusterView;
}

/** The status names the page knows, by what they mean. */
export interface StatusLists {
  /** Every status. */
  all: string[];
  /** The final statuses: SUCCESS, FAILURE, REVOKED. */
  finished: string[];
  /** The statuses of an attempt that ended: the final ones and RETRY. */
  ended: string[];
}
