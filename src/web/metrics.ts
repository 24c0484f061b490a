/**
 * pq's Prometheus metrics, made with `prom-client` (which runs under Deno as
 * it is): the counters of finished tasks, the histogram of their run times,
 * and the gauges read from the store at scrape time. The dashboard's
 * `/metrics` (cluster-wide) and a server's `--metrics-port` (its own worker
 * processes) both use them.
 *
 * | metric                     | type      | labels                    |
 * | -------------------------- | --------- | ------------------------- |
 * | `pq_tasks_total`           | counter   | `name`, `queue`, `status` |
 * | `pq_task_run_seconds`      | histogram | `name`                    |
 * | `pq_queue_ready`           | gauge     | `queue`                   |
 * | `pq_queue_delayed`         | gauge     | `queue`                   |
 * | `pq_queue_running`         | gauge     | `queue`                   |
 * | `pq_queue_latency_seconds` | gauge     | `queue`                   |
 * | `pq_tasks_running`         | gauge     |                           |
 * | `pq_workers_live`          | gauge     |                           |
 *
 * The job's name is the label `name`, not `job`: Prometheus sets `job` on
 * every scraped series itself (the scrape job), and would rename ours.
 *
 * Invariants: counters only go up, and count each finished task once (the
 * caller feeds each outcome once); gauges are set from one store read per
 * scrape (`update()`), and a queue that is gone is dropped from them.
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { WorkerStatus } from "../model/worker_status.ts";
import { statusString, type TaskStatusCode } from "../model/status.ts";
import type { TaskReads, WorkerRegistry } from "../store/store.ts";
import type { TaskRecord } from "../model/task.ts";

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Buckets of `pq_task_run_seconds`: from 5 ms to an hour. */
export const RUN_SECONDS_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
];

/** What the metrics keep of a finished task. */
export interface FinishedTask {
  /** The job name. */
  name: string;
  /** The queue it ran from (`""` for a task run in its producer). */
  queue: string;
  /** Its final status code (SUCCESS, FAILURE, REVOKED or RETRY). */
  status: TaskStatusCode;
  /** How long it ran (`timeEnded - timeStarted`), or null if it never ran. */
  seconds: number | null;
}

/** The part of a finished task record the metrics keep. */
export function finishedTask(record: TaskRecord): FinishedTask {
  const { timeStarted, timeEnded } = record;
  return {
    name: record.name,
    queue: record.queue ?? "",
    status: record.status,
    seconds: typeof timeStarted === "number" && typeof timeEnded === "number"
      ? Math.max(0, timeEnded - timeStarted)
      : null,
  };
}

/**
 * `pq_tasks_total` and `pq_task_run_seconds` on a registry.
 *
 * @example
 * ```ts
 * import { TaskMetrics } from "./metrics.ts";
 * const metrics = new TaskMetrics();
 * metrics.observe({ name: "addition", queue: "q", status: 1, seconds: 0.01 });
 * console.log(await metrics.registry.metrics());
 * ```
 */
export class TaskMetrics {
  /** The registry the metrics are on. */
  readonly registry: Registry;
  readonly #total: Counter<"name" | "queue" | "status">;
  readonly #seconds: Histogram<"name">;

  /** @param registry Where to register (a new one by default). */
  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.#total = new Counter({
      name: "pq_tasks_total",
      help: "Tasks finished, by job name, queue and final status.",
      labelNames: ["name", "queue", "status"],
      registers: [registry],
    });
    this.#seconds = new Histogram({
      name: "pq_task_run_seconds",
      help:
        "How long finished tasks ran (timeEnded - timeStarted), by job name.",
      labelNames: ["name"],
      buckets: [...RUN_SECONDS_BUCKETS],
      registers: [registry],
    });
  }

  /** Counts one finished task. */
  observe(task: FinishedTask): void {
    this.#total.inc({
      name: task.name,
      queue: task.queue,
      status: statusString(task.status),
    });
    if (task.seconds !== null) {
      this.#seconds.observe({ name: task.name }, task.seconds);
    }
  }
}

/** What the gauges read of a store: its queues' stats and live workers. */
export type GaugedStore =
  & Pick<TaskReads, "queueStats">
  & Pick<WorkerRegistry, "liveWorkers">;

/** What {@linkcode StoreGauges} reads. */
export interface StoreGaugesOptions {
  /**
   * The store, or what reads it for the gauges (the dashboard's: the
   * producer API's `queues.stats` and `workers`).
   */
  store: GaugedStore;
  /**
   * The queues to report (every queue that holds tasks when absent or
   * undefined).
   */
  queues?: () =>
    | readonly string[]
    | undefined
    | Promise<readonly string[] | undefined>;
  /** Which live workers count (all when absent). */
  workers?: (worker: WorkerStatus) => boolean;
}

/**
 * The gauges read from the store: each queue's ready, delayed and running
 * tasks and its latency, the tasks running and the live workers.
 *
 * @example
 * ```ts ignore
 * import { Registry } from "prom-client";
 * import { StoreGauges } from "./metrics.ts";
 * const registry = new Registry();
 * const gauges = new StoreGauges(registry, { store });
 * await gauges.update();
 * ```
 */
export class StoreGauges {
  readonly #options: StoreGaugesOptions;
  readonly #ready: Gauge<"queue">;
  readonly #delayed: Gauge<"queue">;
  readonly #running: Gauge<"queue">;
  readonly #latency: Gauge<"queue">;
  readonly #tasksRunning: Gauge;
  readonly #workersLive: Gauge;

  /** Registers the gauges on `registry`. */
  constructor(registry: Registry, options: StoreGaugesOptions) {
    this.#options = options;
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
    ) => new Gauge<L>({ name, help, labelNames, registers: [registry] });
    this.#ready = gauge("pq_queue_ready", "Tasks due in the queue.", [
      "queue",
    ]);
    this.#delayed = gauge(
      "pq_queue_delayed",
      "Tasks of the queue waiting for their delay.",
      ["queue"],
    );
    this.#running = gauge("pq_queue_running", "Running tasks of the queue.", [
      "queue",
    ]);
    this.#latency = gauge(
      "pq_queue_latency_seconds",
      "Seconds since the oldest ready task of the queue was due (0 when none).",
      ["queue"],
    );
    this.#tasksRunning = gauge(
      "pq_tasks_running",
      "Tasks running on the live workers.",
      [],
    );
    this.#workersLive = gauge(
      "pq_workers_live",
      "Live worker processes (whose beat has not expired).",
      [],
    );
  }

  /** Reads the store once and sets every gauge. */
  async update(): Promise<void> {
    const { store, queues, workers } = this.#options;
    const [stats, live] = await Promise.all([
      (async () => store.queueStats(await queues?.()))(),
      store.liveWorkers(),
    ]);
    for (
      const g of [this.#ready, this.#delayed, this.#running, this.#latency]
    ) {
      g.reset();
    }
    for (const s of stats) {
      this.#ready.set({ queue: s.queue }, s.ready);
      this.#delayed.set({ queue: s.queue }, s.delayed);
      this.#running.set({ queue: s.queue }, s.running);
      this.#latency.set({ queue: s.queue }, s.latency);
    }
    const counted = workers ? live.filter(workers) : live;
    this.#workersLive.set(counted.length);
    this.#tasksRunning.set(
      counted.reduce((n, w) => n + w.concurrentTasks.length, 0),
    );
  }
}

/** A `/metrics` endpoint: the registry's text, after `before()` ran. */
export interface MetricsEndpoint {
  /** The registry to expose. */
  registry: Registry;
  /** Runs before each scrape (the store gauges' `update`). */
  before?: () => Promise<void>;
}

/**
 * Answers a scrape: the exposition text, or 503 with the reason when the
 * store cannot be read.
 */
export async function metricsResponse(
  endpoint: MetricsEndpoint,
): Promise<Response> {
  try {
    await endpoint.before?.();
  } catch (error) {
    return new Response(
      `pq: cannot read the store for the metrics: ${
        error instanceof Error ? error.message : error
      }\n`,
      { status: 503, headers: { "content-type": "text/plain" } },
    );
  }
  return new Response(await endpoint.registry.metrics(), {
    headers: { "content-type": METRICS_CONTENT_TYPE },
  });
}

/** Checks a port number of a setting or flag; throws a RangeError. */
export function checkPort(port: unknown, what: string): number {
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < 0 ||
    port > 65535
  ) {
    throw new RangeError(
      `${what} must be a port number from 0 to 65535: got ${String(port)}`,
    );
  }
  return port;
}
