/**
 * Worker status: what each consuming process writes with its beats (see
 * `server/beat.ts`; `api.workers()` reads the live ones from the store) and
 * publishes on channel `consumer`, event `status`, when it starts and then
 * whenever it changes (at most once every {@linkcode HEARTBEAT_SECONDS}).
 * Plain data and its check: what a status is, whoever sends or reads it.
 * @module
 */
import { type RateLimit, rateLimitProblem } from "./rate_limit.ts";

/** The least seconds between two status events of a worker. */
export const HEARTBEAT_SECONDS = 1;

/**
 * A worker's heartbeat: the data of event `status` on channel `consumer`,
 * and what `api.workers()` lists.
 *
 * @example
 * ```ts
 * import { PulsarQueue, type WorkerStatus } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const workers: WorkerStatus[] = await api.workers();
 * for (const w of workers) console.log(w.worker, w.node, w.processed);
 * ```
 */
export interface WorkerStatus {
  /** The worker's name (stored in the `worker` of the tasks it runs). */
  worker: string;
  /** The host name (its local queue's name). */
  node: string;
  /** The worker's process id. */
  pid: number;
  /** The queues it consumes, in priority order. */
  queues: string[];
  /** The most tasks it runs at once. */
  maxConcurrentTasks: number;
  /** The ids of the tasks it runs now. */
  concurrentTasks: string[];
  /** Tasks it claimed since it started. */
  processed: number;
  /** CPU cores of its host. */
  cores: number;
  /** When this status was taken, Unix seconds. */
  time: number;
  /**
   * Until when it counts as alive, Unix seconds: a few beats ahead. A
   * worker that has not beaten by then is dead, and its tasks run again.
   */
  until: number;
  /** The jobs it can run: a producer without their code may queue them. */
  jobs: JobAdvert[];
  /** When the worker started, Unix seconds (absent from older workers). */
  started?: number;
  /**
   * Its process's resident memory in bytes when this status was taken
   * (absent from older workers). Not a change: it alone publishes nothing.
   */
  memory?: number;
}

/**
 * A job as workers advertise it in their heartbeats: what a producer that
 * has not loaded the job's code needs to queue a task of it. The worker
 * still checks the kwargs with the job's schema.
 */
export interface JobAdvert {
  /** The job name. */
  name: string;
  /** The job's `defaultQueue`, or null for the `defaultTaskQueue`. */
  defaultQueue: string | null;
  /** The job's default `timeout` in seconds, or null. */
  timeout: number | null;
  /** The job's `maxConcurrency`, or null. */
  maxConcurrency: number | null;
  /** The job's `priority`, or null (absent from older workers' adverts). */
  priority?: number | null;
  /** The job's `rateLimit`, or null (absent from older workers' adverts). */
  rateLimit?: RateLimit | null;
  /** True when the job has a `rateLimitKey` function. */
  rateLimitKeyed?: boolean;
  /**
   * True when the job has a `group` function (fair queues): a producer
   * without it must pass the `group` option. Absent for other jobs.
   */
  grouped?: boolean;
  /** The job's `groupConcurrency`, when it has one and a `group` function. */
  groupConcurrency?: number;
}

/** Checks one advert of a heartbeat; undefined when it is not one. */
function parseJobAdvert(data: unknown): JobAdvert | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const numberOrNull = (v: unknown) =>
    v === null || (typeof v === "number" && Number.isFinite(v) && v > 0);
  if (
    typeof d.name !== "string" || d.name === "" ||
    !(d.defaultQueue === null ||
      (typeof d.defaultQueue === "string" && d.defaultQueue !== "")) ||
    !numberOrNull(d.timeout) || !numberOrNull(d.maxConcurrency)
  ) return undefined;
  return {
    name: d.name,
    defaultQueue: d.defaultQueue as string | null,
    timeout: d.timeout as number | null,
    maxConcurrency: d.maxConcurrency as number | null,
    priority: typeof d.priority === "number" && Number.isInteger(d.priority)
      ? d.priority
      : null,
    rateLimit: rateLimitProblem(d.rateLimit) ? null : d.rateLimit as RateLimit,
    rateLimitKeyed: d.rateLimitKeyed === true,
    ...(d.grouped === true && { grouped: true }),
    ...(d.grouped === true && typeof d.groupConcurrency === "number" &&
      Number.isSafeInteger(d.groupConcurrency) && d.groupConcurrency >= 1 &&
      { groupConcurrency: d.groupConcurrency }),
  };
}

/** Checks the data of a heartbeat; undefined when it is not one. */
export function parseWorkerStatus(data: unknown): WorkerStatus | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const strings = (v: unknown) =>
    Array.isArray(v) && v.every((x) => typeof x === "string");
  if (
    typeof d.worker !== "string" || typeof d.node !== "string" ||
    typeof d.pid !== "number" || typeof d.time !== "number" ||
    typeof d.processed !== "number" || typeof d.cores !== "number" ||
    typeof d.maxConcurrentTasks !== "number" || !strings(d.queues) ||
    !strings(d.concurrentTasks)
  ) return undefined;
  // Workers of older versions advertise no jobs; a malformed advert is
  // skipped, not the whole heartbeat.
  const jobs = Array.isArray(d.jobs)
    ? d.jobs.flatMap((advert) => parseJobAdvert(advert) ?? [])
    : [];
  const amount = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
  const started = amount(d.started);
  const memory = amount(d.memory);
  return {
    worker: d.worker,
    node: d.node,
    pid: d.pid,
    queues: [...d.queues as string[]],
    maxConcurrentTasks: d.maxConcurrentTasks,
    concurrentTasks: [...d.concurrentTasks as string[]],
    processed: d.processed,
    cores: d.cores,
    time: d.time,
    until: typeof d.until === "number" ? d.until : d.time,
    jobs,
    ...(started !== undefined && { started }),
    ...(memory !== undefined && { memory }),
  };
}
