/**
 * Worker status: what each consuming process writes with its beats (see
 * `server/beat.ts`; `api.workers()` reads the live ones from the store) and
 * publishes on channel `consumer`, event `status`, when it starts and then
 * whenever it changes (at most once every {@linkcode HEARTBEAT_SECONDS}).
 * @module
 */
import { type RateLimit, rateLimitProblem } from "./rate_limit.ts";
import { getLogger } from "@logtape/logtape";
import type { JobRegistry } from "./registry.ts";

const logger = getLogger(["pq", "heartbeat"]);

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
}

/** The adverts of every job of a registry, sorted by name. */
export function jobAdverts(registry: JobRegistry): JobAdvert[] {
  return registry.names().map((name) => {
    const job = registry.get(name)!;
    return {
      name,
      defaultQueue: job.defaultQueue ?? null,
      timeout: job.timeout ?? null,
      maxConcurrency: job.maxConcurrency ?? null,
      priority: job.priority ?? null,
      rateLimit: job.rateLimit ?? null,
      rateLimitKeyed: job.rateLimitKey !== undefined,
    };
  });
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

/** A status as compared for a change: without its times and memory. */
function statusKey(status: WorkerStatus): string {
  const { time: _time, until: _until, memory: _memory, ...rest } = status;
  return JSON.stringify(rest);
}

/** A running heartbeat: tell it of changes; dispose it to stop. */
export interface Heartbeat extends AsyncDisposable {
  /** The status may have changed: published within `seconds`, if it did. */
  changed(): void;
}

/**
 * Publishes `status()` now, then after each `changed()` whose status
 * differs from the last one published (at most once every `seconds`),
 * calling `onChange` too, until disposed. No timer runs while nothing
 * changes. A failed publish is logged (once per run of failures) and tried
 * again `seconds` later.
 */
export function startHeartbeat(
  publish: (status: WorkerStatus) => Promise<void>,
  status: () => WorkerStatus,
  onChange: () => void = () => {},
  seconds: number = HEARTBEAT_SECONDS,
): Heartbeat {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let stopped = false;
  let failing = false;
  let published: string | undefined;
  let last = 0;
  const check = () => {
    timer = undefined;
    if (stopped || sending) return;
    const now = status();
    const key = statusKey(now);
    if (key === published) return;
    onChange();
    last = Date.now();
    sending = publish(now).then(
      () => {
        if (failing) logger.info("Heartbeats are published again");
        failing = false;
        published = key;
      },
      (error) => {
        if (!failing) {
          logger.error("Cannot publish a heartbeat: {error}", { error });
        }
        failing = true;
      },
    ).finally(() => {
      sending = undefined;
      // What changed meanwhile (or a failed publish) goes out next.
      schedule();
    });
  };
  const schedule = () => {
    if (stopped || timer !== undefined) return;
    const wait = Math.max(0, last + seconds * 1000 - Date.now());
    timer = setTimeout(check, wait);
  };
  check();
  return {
    changed: schedule,
    async [Symbol.asyncDispose]() {
      stopped = true;
      clearTimeout(timer);
      await sending;
      clearTimeout(timer);
    },
  };
}
