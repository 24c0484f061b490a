/**
 * pq: a distributed task queue for Deno, a re-creation of Python's
 * pulsar-queue. Producers queue tasks by job name; servers run them; every
 * step is published as an event. The embedded SQLite store is the default.
 *
 * @example
 * ```ts
 * import { job, PulsarQueue } from "@pq/queue";
 *
 * export const addition = job(
 *   function addition(_ctx, { a = 0, b = 0 }: { a?: number; b?: number }) {
 *     return a + b;
 *   },
 * );
 *
 * const app = new PulsarQueue({ taskPaths: ["./jobs/"] });
 * await using api = await app.api().start();
 * const task = await api.tasks.queue("addition", { a: 4, b: 6 });
 * console.log(task.result, task.statusString); // 10 "SUCCESS"
 * ```
 * @module
 */
export {
  type ApiOptions,
  PulsarQueue,
  type PulsarQueueOptions,
  type StartOptions,
} from "./src/app.ts";
export {
  Manager,
  type ManagerClass,
  type ManagerContext,
  type ManagerRole,
} from "./src/runtime/manager.ts";
export {
  HEARTBEAT_SECONDS,
  type JobAdvert,
  type WorkerStatus,
} from "./src/model/worker_status.ts";
export { Producer } from "./src/producer/producer.ts";
export { Tasks } from "./src/producer/tasks.ts";
export { Queues } from "./src/producer/queues.ts";
export {
  type ScheduleReadOptions,
  Schedules,
} from "./src/producer/schedules.ts";
export type {
  ScheduleDefinition,
  ScheduleInfo,
  ScheduleInput,
  ScheduleQueueOptions,
} from "./src/model/schedule.ts";
export {
  Workflow,
  type WorkflowMember,
  type WorkflowQueueOptions,
  Workflows,
} from "./src/producer/workflows.ts";
export {
  type Chain,
  chain,
  type Chord,
  chord,
  type Group,
  group,
  sig,
  type Signature,
  type SignatureOptions,
  WorkflowError,
  type WorkflowPlan,
} from "./src/model/workflow.ts";
export { type QueueReceipt, TaskFuture } from "./src/producer/task_future.ts";
export type {
  DedupeOptions,
  NewTaskOptions,
  QueueOptions,
} from "./src/model/queue_options.ts";
export type { CodecName } from "./src/model/codec.ts";
export {
  type Dict,
  Task,
  type TaskProgress,
  type TaskRecord,
} from "./src/model/task.ts";
export {
  EXCEPTION_STATES,
  FINISHED_STATES,
  FULL_RUN_STATES,
  READY_STATES,
  statusString,
  TaskStatus,
  type TaskStatusCode,
  UNFINISHED_STATES,
  UNREADY_STATES,
} from "./src/model/status.ts";
export {
  Concurrency,
  type ConcurrencyCode,
  type ModeName,
} from "./src/model/execution_mode.ts";
export {
  Job,
  type JobBackend,
  type JobClass,
  type JobLock,
  type JobLogger,
  type JobRuntime,
  type LockOptions,
} from "./src/runtime/job.ts";
export { job, type JobFunction } from "./src/runtime/job_function.ts";
export {
  type JobOptionFields,
  type JobOptionName,
  type JobOptions,
  type KwargsSchema,
  type StandardResult,
} from "./src/model/job_options.ts";
export type {
  JobPermissions,
  PermissionName,
} from "./src/model/job_permissions.ts";
export type { ShellOptions } from "./src/runtime/shell.ts";
export { type JobInfo, JobRegistry } from "./src/runtime/registry.ts";
// The store contract itself (`Store` and its roles) is internal: it changes
// between versions. What users read of a store comes through the producer
// API, in these types.
export type {
  GroupInfo,
  QueueStats,
  RevokeOutcome,
  StatusHistory,
  StatusHistoryOptions,
  TaskPage,
  TaskQuery,
} from "./src/store/store.ts";
export type { JobStats, JobStatsOptions } from "./src/store/job_stats.ts";
export type {
  ChannelMessage,
  EventCallback,
  EventData,
  EventMap,
  TaskEventName,
} from "./src/model/events.ts";
export {
  LockError,
  SettingsError,
  ShellError,
  StoreConnectionError,
  TaskError,
  TaskNotAvailable,
  TaskRevoked,
  TaskTimeout,
} from "./src/model/errors.ts";
export { StepNotStored, type TaskStep } from "./src/model/task_step.ts";
export type { LogLevel, Settings } from "./src/model/settings_types.ts";
export type { Backoff, RetryDelay } from "./src/model/retry_delay.ts";
export type { RateLimit } from "./src/model/rate_limit.ts";
export {
  type Dashboard,
  type DashboardOptions,
  startDashboard,
} from "./src/web/dashboard.ts";
