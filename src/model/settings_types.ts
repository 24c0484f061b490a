/**
 * The resolved settings of a pq application (see `settings_table.ts` for the table
 * that defines, parses and documents each one). The doc comment of each
 * field is written from the table's help by `deno task readme`.
 * @module
 */
import type { CodecName } from "./codec.ts";

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
  /** Worker processes; 0 runs tasks in the server process itself. */
  workers: number;
  /** Tasks each worker process runs at once. */
  concurrentTasks: number;
  /** Web Workers each worker process keeps for THREAD_IO jobs. */
  threadWorkers: number;
  /**
   * Store URL: sqlite:<path>, sqlite::memory: or
   * redis://host:port/db?namespace=pq.
   */
  dataStore: string;
  /** Store URL of the queues when they live apart from dataStore. */
  messageBroker: string;
  /**
   * Seconds a server (its arbiter and worker processes) waits at start-up for a
   * store it cannot reach (connection refused or timed out, host name not
   * resolving), trying again every 0.5 s to 5 s; forever: no limit; 0: exit at
   * once. A bad URL or password exits at once; clients (pq commands, producers)
   * never wait.
   */
  storeWait: number;
  /** How tasks and messages are encoded in the store. */
  messageSerializer: CodecName;
  /** Tasks a worker process runs before it is replaced (0: no limit). */
  maxRequests: number;
  /**
   * Longest an idle worker waits before it looks for tasks again (half of
   * leaseTimeout at most: then it reclaims expired leases); a queued task wakes
   * it at once (it blocks on Redis; on SQLite it wakes when another process
   * writes the file on Linux, and looks every 20 ms elsewhere).
   */
  taskPoolTimeout: number;
  /** Schedule periodic jobs on this server. */
  schedulePeriodic: boolean;
  /**
   * Modules, folders and packages that define jobs (comma-separated or
   * repeated).
   */
  taskPaths: string[];
  /**
   * Queues this server consumes, after the host's local queue (comma-separated
   * or repeated).
   */
  taskQueues: string[];
  /** The queue of tasks whose job names none. */
  defaultTaskQueue: string;
  /**
   * A config module, `export default { workers: 2, ... }`, read before the
   * environment and flags.
   */
  config: string;
  /** The lowest level the command line logs. */
  logLevel: LogLevel;
  /**
   * Seconds a running task's lease lasts unless its worker renews it; a task
   * whose worker died runs again after it.
   */
  leaseTimeout: number;
  /**
   * Lease expiries after which a task ends as FAILURE instead of running again.
   */
  maxRedeliveries: number;
  /** Seconds a finished task and its result are kept. */
  resultTtl: number;
  /**
   * MiB of resident memory after which a worker process stops claiming, lets
   * its tasks finish and is replaced (0: no limit).
   */
  maxMemory: number;
  /**
   * Seconds running tasks get to finish on shutdown before they are released to
   * run elsewhere.
   */
  gracePeriod: number;
  /**
   * Port on 127.0.0.1 where the server serves its Prometheus metrics at
   * /metrics, for all its worker processes (0: off).
   */
  metricsPort: number;
}
