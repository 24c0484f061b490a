/**
 * The resolved settings of a pq application (see `settings.ts` for the table
 * that defines, parses and documents each one).
 * @module
 */

/** Log levels, as LogTape names them. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];

/** A log level. */
export type LogLevel =
  | "trace"
  | "debug"
  | "info"
  | "warning"
  | "error"
  | "fatal";

/**
 * Every setting of pq. Durations are seconds.
 */
export interface Settings {
  /** Worker processes; 0 consumes in the arbiter. */
  workers: number;
  /** Tasks each worker process runs at once. */
  concurrentTasks: number;
  /** Web Workers each worker process keeps for THREAD_IO jobs. */
  threadWorkers: number;
  /** Store URL: `sqlite:<path>`, `sqlite::memory:` or `redis://...`. */
  dataStore: string;
  /** Queue store URL when it differs from `dataStore` (empty: the same). */
  messageBroker: string;
  /** How records are encoded in the store. */
  messageSerializer: "json" | "msgpack";
  /** Tasks a worker process runs before it is replaced (0: no limit). */
  maxRequests: number;
  /** Longest an idle worker waits before it looks for tasks again. */
  taskPoolTimeout: number;
  /** Whether this server schedules periodic jobs. */
  schedulePeriodic: boolean;
  /** Modules, folders and packages that define jobs. */
  taskPaths: string[];
  /** Queues this server consumes, after the host's local queue. */
  taskQueues: string[];
  /** The queue of tasks whose job names none. */
  defaultTaskQueue: string;
  /** A config module (`export default { ... }`) read before other sources. */
  config: string;
  /** The lowest level logged by the CLI. */
  logLevel: LogLevel;
  /** Seconds a claimed task's lease lasts unless its worker renews it. */
  leaseTimeout: number;
  /** Lease expiries after which a task ends as FAILURE instead of rerunning. */
  maxRedeliveries: number;
  /** Seconds a finished task's record and result are kept. */
  resultTtl: number;
  /** MiB of memory after which a worker process is replaced (0: no limit). */
  maxMemory: number;
  /** Seconds running tasks get to finish on shutdown before they are released. */
  gracePeriod: number;
}
