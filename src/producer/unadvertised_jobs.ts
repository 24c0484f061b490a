/**
 * A warning when the live workers of a task's queue do not have its job:
 * servers load their jobs when they start, so a job added to the jobs
 * folder since would be queued in silence, and fail on the worker that
 * takes it (`<job> not in registry`).
 *
 * Invariants: the task is queued all the same (workers may be restarted, or
 * start later); one warning per job name for the life of the producer; the
 * live workers are read at most once per job and queue every
 * {@linkcode RECHECK_SECONDS}, and a store that cannot answer skips the
 * check, never the queueing. A queue that no live worker consumes is not
 * warned of here (see `unconsumed_queues.ts`).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { WorkerStatus } from "../model/worker_status.ts";

const logger = getLogger(["pq", "producer"]);

/** Seconds before a job and queue found served are checked again. */
const RECHECK_SECONDS = 60;

/** The most worker names a warning lists. */
const NAMES_SHOWN = 5;

/** Warns once per job name of live workers that lack the job. */
export class UnadvertisedJobs {
  readonly #workers: () => Promise<WorkerStatus[]>;
  readonly #warned = new Set<string>();
  /** `job\nqueue` → when it may be checked again (ms), and the check. */
  readonly #checks = new Map<string, { until: number; done: Promise<void> }>();

  /** `workers` reads the live workers (`api.workers()`). */
  constructor(workers: () => Promise<WorkerStatus[]>) {
    this.#workers = workers;
  }

  /**
   * Checks that the live workers of `queue` have `jobName`, warning once
   * when some do not; resolves when checked (at once when checked lately).
   */
  check(jobName: string, queue: string): Promise<void> {
    if (this.#warned.has(jobName)) return Promise.resolve();
    const key = `${jobName}\n${queue}`;
    const now = Date.now();
    const last = this.#checks.get(key);
    if (last && last.until > now) return last.done;
    const done = this.#check(jobName, queue);
    this.#checks.set(key, { until: now + RECHECK_SECONDS * 1000, done });
    return done;
  }

  async #check(jobName: string, queue: string): Promise<void> {
    let live: WorkerStatus[];
    try {
      live = await this.#workers();
    } catch {
      return; // The queueing itself says what is wrong with the store.
    }
    const consumers = live.filter((worker) => worker.queues.includes(queue));
    const lacking = consumers.filter((worker) =>
      !worker.jobs.some((job) => job.name === jobName)
    );
    if (lacking.length === 0 || this.#warned.has(jobName)) return;
    this.#warned.add(jobName);
    const names = lacking.slice(0, NAMES_SHOWN).map((worker) => worker.worker);
    if (lacking.length > NAMES_SHOWN) {
      names.push(`${lacking.length - NAMES_SHOWN} more`);
    }
    logger.warn(
      "Job {job} is not loaded by {lacking} of the {consumers} live workers of queue {queue} ({workers}): servers load their jobs when they start, so restart them to load a job added since; a worker without it fails the task ({job} not in registry)",
      {
        job: jobName,
        lacking: lacking.length,
        consumers: consumers.length,
        queue,
        workers: names.join(", "),
      },
    );
  }
}
