/**
 * What a consumer is given: its store roles, jobs, settings, and the hooks
 * of the process that runs it.
 * @module
 */
import type { Settings } from "../model/settings_types.ts";
import type { JobBackend } from "../runtime/job.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import type { ThreadPool } from "../run/thread_pool.ts";
import type {
  Finish,
  PubSub,
  TaskLeases,
  TaskRecovery,
  TaskSteps,
} from "../store/store.ts";

/** What a consumer needs. */
export interface ConsumerOptions {
  /** The store tasks are claimed from. */
  store: TaskLeases & TaskRecovery & PubSub & TaskSteps;
  /** The jobs this worker can run. */
  registry: JobRegistry;
  /** The producer API jobs see as `backend`. */
  backend: JobBackend;
  /** Queues in priority order. */
  queues: readonly string[];
  /** This worker's name (stored in `task.worker`). */
  worker: string;
  /** This host's name (stored in `task.node`). */
  node: string;
  /** Most tasks running at once. */
  concurrentTasks: number;
  /** Tasks to claim before stopping (0: no limit). */
  maxRequests: number;
  /**
   * Stop claiming once the process's resident memory passes this many
   * MiB (0: no limit); running tasks finish first.
   */
  maxMemory?: number;
  /** Seconds of a lease. */
  leaseTimeout: number;
  /** Lease expiries after which a task fails. */
  maxRedeliveries: number;
  /** Seconds an idle consumer waits for tasks between claims. */
  taskPoolTimeout: number;
  /** Unix seconds now. */
  now?: () => number;
  /** The Web Workers of THREAD_IO jobs. */
  threads?: ThreadPool;
  /** The worker's settings (CPUBOUND subprocesses make its Manager). */
  settings?: Settings;
  /** Called with each batch of outcomes once the store has recorded it. */
  onRecorded?: (finishes: readonly Finish[]) => void;
  /** Called when the tasks running here change (one began or ended). */
  onChange?: () => void;
  /**
   * Called with each outcome before it is written (a workflow member's
   * continuation), under the task's lease. It returns undefined when there
   * is nothing to do (no promise made: the hot path stays free), else a
   * promise that is awaited; when it rejects, the outcome is not written,
   * and the task runs again once its lease expires.
   */
  afterRun?: (finish: Finish) => Promise<void> | undefined;
  /**
   * Called with the ids a reclaim changed when it ended some (failed after
   * too many expired leases, or revoked): a workflow goes on for those,
   * which no worker finishes.
   */
  afterReclaim?: (changed: readonly string[]) => Promise<void>;
}
