/**
 * The record of a new task, made before it is queued: every option checked,
 * and the kwargs too when this process has the job's code and the job a
 * schema. A job only live workers have (from their heartbeats' adverts) may
 * be queued as well; an unknown one is refused with the names that are
 * close. When the live workers of a task's queue lack its job (added since
 * they started), a warning says so, once per job (`unadvertised_jobs.ts`).
 * Nothing is written anywhere here.
 * @module
 */
import { didYouMean } from "../model/_did_you_mean.ts";
import { NO_JOB_CODE_HINT, TaskNotAvailable } from "../model/errors.ts";
import {
  checkQueueOptions,
  type JobDefaults,
  type NewTaskOptions,
  newTaskRecord,
} from "../model/queue_options.ts";
import type { Settings } from "../model/settings_types.ts";
import type { Dict, TaskRecord } from "../model/task.ts";
import type { JobAdvert, WorkerStatus } from "../model/worker_status.ts";
import { checkKwargs } from "../runtime/kwargs_schema.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import type { UnadvertisedJobs } from "./unadvertised_jobs.ts";

/** What preparing a task reads of its producer. */
export interface PreparationHost {
  /** The jobs whose code this process has. */
  readonly registry: JobRegistry;
  /** The settings (for `defaultTaskQueue`). */
  readonly settings: Settings;
  /** The live workers, whose adverts name the jobs they have. */
  workers(): Promise<WorkerStatus[]>;
  /** Warns of a job the live workers of a queue lack, when given. */
  readonly unadvertised?: UnadvertisedJobs;
}

/**
 * The records of new tasks of one job, one per kwargs: the job is looked up
 * once, and kwargs are checked (asynchronously) only when the job has a
 * schema. Throws a `TypeError` on a bad option or kwargs, and
 * `TaskNotAvailable` for an unknown job.
 */
export async function prepareTaskRecords(
  host: PreparationHost,
  jobName: string,
  kwargsList: readonly Dict[],
  options: NewTaskOptions,
): Promise<TaskRecord[]> {
  const many = kwargsList.length > 1;
  kwargsList.forEach((kwargs, i) =>
    checkQueueOptions(kwargs, options, {
      job: jobName,
      kwargs: many ? `kwargsList[${i}]` : "kwargs",
    })
  );
  const local = host.registry.get(jobName);
  const remote = options.queue !== false;
  const job: JobDefaults = local ??
    (remote ? await advertised(host, jobName) : undefined) ??
    await unavailable(host, jobName, remote);
  if (local?.schema) {
    for (const kwargs of kwargsList) {
      const checked = await checkKwargs(local, jobName, kwargs);
      if ("invalid" in checked) {
        throw new TypeError(`Cannot queue task: ${checked.invalid}`);
      }
    }
  }
  const fallback = host.settings.defaultTaskQueue;
  const records = kwargsList.map((kwargs) =>
    newTaskRecord(jobName, kwargs, options, job, fallback)
  );
  // Every record of one call has the same queue.
  const queue = records[0]?.queue;
  if (queue) await host.unadvertised?.check(jobName, queue);
  return records;
}

/** The advert of a job that a live worker has, or undefined. */
async function advertised(
  host: PreparationHost,
  jobName: string,
): Promise<JobAdvert | undefined> {
  for (const worker of await host.workers()) {
    const advert = worker.jobs.find((job) => job.name === jobName);
    if (advert) return advert;
  }
  return undefined;
}

/**
 * Throws `TaskNotAvailable` with the names that are close, if any: of this
 * process's jobs, and of the live workers' when `remote`.
 */
async function unavailable(
  host: PreparationHost,
  jobName: string,
  remote: boolean,
): Promise<never> {
  const names = new Set(host.registry.names());
  for (const worker of remote ? await host.workers() : []) {
    for (const job of worker.jobs) names.add(job.name);
  }
  const hint = didYouMean(jobName, names) ||
    (host.registry.names().length ? "" : NO_JOB_CODE_HINT);
  throw new TaskNotAvailable(jobName, { hint });
}
