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
import type { TaskProgress, TaskRecord } from "../model/task.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import type { JobStats } from "../store/job_stats.ts";
import type { QueueStats, RevokeOutcome } from "../store/store.ts";

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
 * Tasks done per second by status (`SUCCESS: [...]`), from second `start`
 * on: the data of a `rate` event, and the chart's in `/api/overview`.
 */
export type RateSeries = { start: number } & Record<string, number[]>;

/** The data of a `cluster` event. */
export interface ClusterView {
  /** Every known queue. */
  queues: QueueView[];
  /** The live workers. */
  workers: WorkerView[];
  /** When it was read (Unix seconds). */
  time: number;
}

/** The answer of a purge. */
export interface PurgeView {
  /** The queue. */
  queue: string;
  /** How many tasks were dropped. */
  purged: number;
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
  /** The live workers that advertise it. */
  workers: string[];
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
  /** Tasks done per second by status, over the chart's seconds. */
  rate: RateSeries;
  /** Seconds of the chart. */
  rateSeconds: number;
  /** The queues and the live workers. */
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
