/**
 * The dashboard's live feed: one subscription to the store's events
 * (channels `task` and `consumer`), fanned out to every open page as
 * server-sent events, and the state the pages are drawn from (each queue's
 * throughput, the live workers and what they run, the counters header and
 * the chart's last minutes, read from the store).
 *
 * Server-sent events (`event:` name, `data:` JSON):
 * - `tasks`: `{ tasks: TaskSummary[], dropped }`, the tasks that changed
 *   (`queued`, `started`, `done`, `progress`) since the last one, newest
 *   state of each, every {@linkcode BATCH_MS} ms at most;
 * - `cluster`: `{ queues, workers, counters, recent }` (`ClusterView`),
 *   every {@linkcode CLUSTER_SECONDS} s while a page is open, and when a
 *   worker's status changes; `counters` and `recent` (the last two
 *   minutes' counts) come from the store's history (`api.tasks.history`),
 *   so every page and every dashboard shows the same totals.
 *
 * Invariants: the store is read (through the producer API) by this process
 * only, on a timer, and only while a page is open: pages never make the
 * store work per page; memory is bounded (at most {@linkcode MAX_QUEUES}
 * queues have a throughput, at most {@linkcode BATCH_MAX} tasks wait in a
 * batch, at most {@linkcode MAX_LEARNED} running tasks are read a time); a
 * worker's running task is shown with its job once read, never as unknown
 * longer than one read.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { WorkerStatus } from "../model/worker_status.ts";
import type {
  ClusterView,
  CountersView,
  RunningTask,
  TaskSummary,
  WorkerView,
} from "./api_types.ts";
import type { QueueStats, StatusHistory } from "../store/store.ts";
import type { Producer } from "../producer/producer.ts";
import { TaskStatus } from "../model/status.ts";
import type { Task } from "../model/task.ts";
import { finishedTask, type TaskMetrics } from "./metrics.ts";
import { RateWindow } from "./rate_window.ts";
import { taskSummary } from "./task_view.ts";

const logger = getLogger(["pq", "dashboard"]);

/** Seconds over which a queue's throughput is averaged. */
export const THROUGHPUT_SECONDS = 60;
/** Seconds between two reads of the queues and workers while a page is open. */
export const CLUSTER_SECONDS = 2;
/** The most ms between a task's change and its `tasks` event. */
export const BATCH_MS = 250;
/** The most tasks in one `tasks` event; older changes are dropped. */
export const BATCH_MAX = 500;
/** The most queues whose throughput is kept. */
export const MAX_QUEUES = 1000;
/** The most running tasks read at once to learn their job. */
export const MAX_LEARNED = 100;
/** The most events a page may leave unread before its stream is closed. */
const MAX_UNREAD = 1000;
/** Seconds between two keep-alive comments on an idle stream. */
const KEEPALIVE_SECONDS = 15;

/** What a {@linkcode LiveFeed} is made with. */
export interface LiveFeedOptions {
  /** The producer whose events are followed (started). */
  api: Producer;
  /** Counts every done task (the dashboard's `/metrics`). */
  metrics?: TaskMetrics;
  /** The clock, Unix seconds. */
  now?: () => number;
}

/**
 * The live feed of the dashboard.
 *
 * @example
 * ```ts ignore
 * await using feed = new LiveFeed({ api });
 * await feed.start();
 * const stream = feed.stream(); // text/event-stream for one page
 * ```
 */
export class LiveFeed implements AsyncDisposable {
  readonly #options: LiveFeedOptions;
  readonly #now: () => number;
  readonly #throughput = new Map<string, RateWindow>();
  readonly #workers = new Map<string, WorkerStatus>();
  readonly #seen = new Map<string, number>();
  readonly #running = new Map<string, RunningTask>();
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #batch = new Map<string, TaskSummary>();
  #dropped = 0;
  #batchTimer?: ReturnType<typeof setTimeout>;
  #tick?: ReturnType<typeof setInterval>;
  #ticks = 0;
  #cluster?: ClusterView;
  #reading?: Promise<void>;
  #learning?: Promise<void>;
  #closed = false;
  readonly #encoder = new TextEncoder();
  readonly #onTask = (_channel: string, event: string, task: Task) =>
    this.#taskEvent(event, task);
  readonly #onStatus = (_c: string, _e: string, status: WorkerStatus) =>
    this.#statusEvent(status);
  /** A queue paused or resumed: every page sees it at once. */
  readonly #onQueue = () => {
    if (!this.#closed) this.#readCluster();
  };

  /** Made idle; `start()` subscribes. */
  constructor(options: LiveFeedOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  /** Subscribes to the store's events and starts the one-second tick. */
  async start(): Promise<void> {
    const { api } = this.#options;
    await api.onEvents("task", "*", this.#onTask);
    await api.onEvents("consumer", "status", this.#onStatus);
    await api.onEvents("queue", "*", this.#onQueue);
    this.#tick = setInterval(() => this.#everySecond(), 1000);
  }

  /** How many pages listen now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** The last `cluster` view, reading the store if there is none yet. */
  async cluster(): Promise<ClusterView> {
    if (!this.#cluster) await this.#readCluster();
    return this.#cluster ?? {
      queues: [],
      workers: [],
      time: this.#now(),
      counters: null,
      recent: [],
    };
  }

  /** The live workers as last seen, with what they run. */
  workers(): WorkerView[] {
    const now = this.#now();
    return [...this.#workers.values()]
      .filter((w) => w.until >= now || w.until === w.time)
      .sort((a, b) => a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0)
      .map((w) => ({
        ...w,
        seenSince: this.#seen.get(w.worker) ?? w.time,
        running: w.concurrentTasks.map((id) =>
          this.#running.get(id) ??
            // Not read yet (a page says so): `#learnRunning` reads it.
            { id, name: "", timeStarted: null, progress: null }
        ),
      }));
  }

  /** Tasks of `queue` done per second over the last minute. */
  throughput(queue: string): number {
    const window = this.#throughput.get(queue);
    if (!window) return 0;
    return window.sum("done", this.#now(), THROUGHPUT_SECONDS) /
      THROUGHPUT_SECONDS;
  }

  /**
   * A stream of server-sent events for one page: a first `cluster`, then
   * every change, until the page goes.
   */
  stream(): ReadableStream<Uint8Array> {
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        this.#clients.add(controller);
        controller.enqueue(this.#encoder.encode(": pq dashboard\n\n"));
        if (this.#cluster) {
          controller.enqueue(this.#message("cluster", this.#cluster));
        } else this.#readCluster();
      },
      cancel: () => {
        if (self) this.#clients.delete(self);
      },
    });
  }

  /** Ends every stream and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tick);
    clearTimeout(this.#batchTimer);
    for (const client of this.#clients) {
      try {
        client.close();
      } catch {
        // The page went already.
      }
    }
    this.#clients.clear();
    const { api } = this.#options;
    await api.removeEventCallback("task", "*", this.#onTask);
    await api.removeEventCallback("consumer", "status", this.#onStatus);
    await api.removeEventCallback("queue", "*", this.#onQueue);
    await this.#reading;
    await this.#learning;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #taskEvent(event: string, task: Task): void {
    if (this.#closed) return;
    const record = task.toJSON();
    if (event === "done") {
      const time = record.timeEnded ?? this.#now();
      if (record.queue !== null) this.#countQueue(record.queue, time);
      this.#options.metrics?.observe(finishedTask(record));
      this.#running.delete(task.id);
    } else if (event === "started") {
      this.#running.set(task.id, {
        id: task.id,
        name: task.name,
        timeStarted: task.timeStarted,
        progress: task.progress,
      });
    } else if (event === "progress") {
      const running = this.#running.get(task.id);
      if (running) running.progress = task.progress;
    } else if (event === "queued" && task.status === TaskStatus.QUEUED) {
      this.#running.delete(task.id);
    }
    if (this.#clients.size === 0) return;
    this.#batch.delete(task.id);
    this.#batch.set(task.id, taskSummary(record));
    if (this.#batch.size > BATCH_MAX) {
      const oldest = this.#batch.keys().next().value!;
      this.#batch.delete(oldest);
      this.#dropped++;
    }
    this.#batchTimer ??= setTimeout(() => this.#sendBatch(), BATCH_MS);
  }

  #countQueue(queue: string, time: number): void {
    let window = this.#throughput.get(queue);
    if (!window) {
      if (this.#throughput.size >= MAX_QUEUES) return;
      window = new RateWindow(THROUGHPUT_SECONDS + 1, ["done"]);
      this.#throughput.set(queue, window);
    }
    window.count("done", time);
  }

  #statusEvent(status: WorkerStatus): void {
    if (this.#closed) return;
    const known = this.#workers.get(status.worker);
    // A status event's `until` is not its beat's: keep the one read last.
    this.#workers.set(status.worker, {
      ...status,
      until: known?.until ?? status.until,
    });
    if (!this.#seen.has(status.worker)) {
      this.#seen.set(status.worker, status.time);
    }
    if (this.#cluster && this.#clients.size > 0) {
      this.#sendWorkers();
      // Tasks it runs that this feed has not seen start: read them, then
      // send the workers again with their jobs and run times.
      if (status.concurrentTasks.some((id) => !this.#running.has(id))) {
        this.#learning ??= this.#learnRunning(status.concurrentTasks)
          .then(() => this.#sendWorkers())
          .catch((error) =>
            logger.warn("Cannot read a worker's tasks: {error}", { error })
          )
          .finally(() => this.#learning = undefined);
      }
    }
  }

  /** Sends the workers as known now with the last `cluster` read. */
  #sendWorkers(): void {
    if (!this.#cluster || this.#closed) return;
    this.#cluster = { ...this.#cluster, workers: this.workers() };
    this.#broadcast("cluster", this.#cluster);
  }

  #sendBatch(): void {
    this.#batchTimer = undefined;
    if (this.#batch.size === 0) return;
    const tasks = [...this.#batch.values()];
    this.#batch.clear();
    this.#broadcast("tasks", { tasks, dropped: this.#dropped });
    this.#dropped = 0;
  }

  #everySecond(): void {
    this.#ticks++;
    if (this.#clients.size === 0) return;
    if (this.#ticks % CLUSTER_SECONDS === 0) this.#readCluster();
    if (this.#ticks % KEEPALIVE_SECONDS === 0) {
      this.#send(this.#encoder.encode(": keep-alive\n\n"));
    }
  }

  /** Reads the queues and the live workers (one read at a time). */
  #readCluster(): Promise<void> {
    this.#reading ??= (async () => {
      const { api } = this.#options;
      try {
        const [stats, live, paused, history] = await Promise.all([
          api.tasks.knownQueues().then((queues) => api.queues.stats(queues)),
          api.workers(),
          api.queues.paused().then((names) => new Set(names)),
          api.tasks.history({ minutes: 2 }).catch((error) => {
            logger.warn("Cannot read the store's history: {error}", {
              error,
            });
            return undefined;
          }),
        ]);
        this.#workers.clear();
        for (const worker of live) {
          this.#workers.set(worker.worker, worker);
          if (!this.#seen.has(worker.worker)) {
            this.#seen.set(worker.worker, worker.time);
          }
        }
        for (const name of this.#seen.keys()) {
          if (!this.#workers.has(name)) this.#seen.delete(name);
        }
        await this.#learnRunning(live.flatMap((w) => w.concurrentTasks), true);
        this.#cluster = {
          queues: stats.map((s) => ({
            ...s,
            throughput: this.throughput(s.queue),
            paused: paused.has(s.queue),
          })),
          workers: this.workers(),
          time: this.#now(),
          counters: history ? countersOf(history, stats) : null,
          recent: history?.minutes ?? [],
        };
        if (!this.#closed) this.#broadcast("cluster", this.#cluster);
      } catch (error) {
        logger.warn("Cannot read the queues and workers: {error}", { error });
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  /**
   * Reads the running tasks of `ids` this feed has not seen start (at most
   * {@linkcode MAX_LEARNED}); with `all`, `ids` are every running task, and
   * the others are forgotten.
   */
  async #learnRunning(ids: readonly string[], all = false): Promise<void> {
    if (all) {
      const running = new Set(ids);
      for (const id of this.#running.keys()) {
        if (!running.has(id)) this.#running.delete(id);
      }
    }
    const unknown = [...new Set(ids)].filter((id) => !this.#running.has(id))
      .slice(0, MAX_LEARNED);
    const tasks = await Promise.all(
      unknown.map((id) => this.#options.api.tasks.get(id)),
    );
    for (const task of tasks) {
      // Claimed but not yet marked STARTED is running too (its job known);
      // an ended one is not, and its worker's next beat says so.
      if (!task || task.done() || this.#running.has(task.id)) continue;
      this.#running.set(task.id, {
        id: task.id,
        name: task.name,
        timeStarted: task.timeStarted,
        progress: task.progress,
      });
    }
  }

  #message(event: string, data: unknown): Uint8Array {
    return this.#encoder.encode(
      `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
    );
  }

  #broadcast(event: string, data: unknown): void {
    if (this.#clients.size > 0) this.#send(this.#message(event, data));
  }

  #send(bytes: Uint8Array): void {
    for (const client of this.#clients) {
      try {
        // A page that reads nothing (a stalled tab) is dropped, not buffered.
        if ((client.desiredSize ?? 0) < -MAX_UNREAD) {
          this.#clients.delete(client);
          client.close();
          continue;
        }
        client.enqueue(bytes);
      } catch {
        this.#clients.delete(client);
      }
    }
  }
}

/** The counters header from the store's totals and the queues' sizes. */
export function countersOf(
  history: StatusHistory,
  stats: readonly QueueStats[],
): CountersView {
  const total = (status: string) => history.totals[status] ?? 0;
  const sum = (key: "ready" | "delayed" | "running") =>
    stats.reduce((n, s) => n + s[key], 0);
  return {
    processed: total("SUCCESS") + total("FAILURE"),
    failed: total("FAILURE"),
    retried: total("RETRY"),
    revoked: total("REVOKED"),
    running: sum("running"),
    scheduled: sum("delayed"),
    queued: sum("ready"),
  };
}
