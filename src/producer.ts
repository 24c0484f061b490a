/**
 * The producer API: queue tasks, wait for them, follow events.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { runTask } from "./consumer/run_task.ts";
import { ThreadPool } from "./consumer/thread_pool.ts";
import { checkKnownKeys, didYouMean } from "./_did_you_mean.ts";
import { describeValue, NO_JOB_CODE_HINT, TaskNotAvailable } from "./errors.ts";
import { type EventCallback, EventHub } from "./events.ts";
import type { JobAdvert, WorkerStatus } from "./heartbeat.ts";
import {
  checkKwargs,
  type JobBackend,
  type JobLock,
  type LockOptions,
} from "./job.ts";
import { acquireJobLock } from "./lock.ts";
import { managedStore, type ManagerHost } from "./manager.ts";
import { soonest } from "./periodic.ts";
import { type JobInfo, type JobRegistry, loadRegistry } from "./registry.ts";
import type { Settings } from "./settings_types.ts";
import { READY_STATES, TaskStatus } from "./status.ts";
import { openSettingsStore } from "./store/open_store.ts";
import type { ChannelMessage, RevokeOutcome, Store } from "./store/store.ts";
import {
  type Dict,
  newTaskId,
  parseTaskRecord,
  Task,
  type TaskRecord,
} from "./task.ts";

const logger = getLogger(["pq", "producer"]);

/** Options of `tasks.queue`. Durations are seconds. */
export interface QueueOptions {
  /**
   * True (default): the future resolves when the task is done. False: it
   * resolves once the task is queued, and `task.doneCallback` when done.
   */
  callback?: boolean;
  /** Seconds to wait before the task may run. */
  delay?: number;
  /**
   * The queue: a name; true (default) for the job's `defaultQueue` or the
   * `defaultTaskQueue` setting; false to run it in this process.
   */
  queue?: string | boolean;
  /** Seconds, counted from when the task is due, after which it is revoked. */
  timeout?: number;
  /** `maxRetries`, `retryDelay`, `maxConcurrency`, and free keys. */
  metaParams?: Dict;
}

/** Every key of {@linkcode QueueOptions}: `tasks.queue` refuses any other. */
const QUEUE_OPTION_KEYS = [
  "callback",
  "delay",
  "queue",
  "timeout",
  "metaParams",
] as const satisfies readonly (keyof QueueOptions)[];

/** What a task takes from its job (its class, or a worker's advert). */
interface JobDefaults {
  defaultQueue?: string | null;
  timeout?: number | null;
  maxConcurrency?: number | null;
}

/**
 * A task on its way: `.id` at once, and a promise of the task (done, or
 * queued with `callback: false`).
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
 *   .api().start();
 * const future = api.tasks.queue("addition", { a: 1, b: 2 });
 * console.log(future.id);
 * const task = await future;
 * ```
 */
export class TaskFuture implements PromiseLike<Task> {
  /** The id of the task. */
  readonly id: string;
  readonly #promise: Promise<Task>;

  /** Wraps the promise of a task of a known id. */
  constructor(id: string, promise: Promise<Task>) {
    this.id = id;
    this.#promise = promise;
  }

  /** Waits for the task. */
  then<A = Task, B = never>(
    onfulfilled?: ((value: Task) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onfulfilled, onrejected);
  }

  /** Handles a rejection. */
  catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<Task | B> {
    return this.#promise.catch(onrejected);
  }

  /** `TaskFuture<id>`. */
  toString(): string {
    return `TaskFuture<ID=${this.id}>`;
  }
}

interface Waiter {
  resolve: (task: Task) => void;
  reject: (error: unknown) => void;
}

/** How a producer is made (by `PulsarQueue.api()` or by a server). */
export interface ProducerInit {
  /** Resolves the settings when the producer starts. */
  settings: () => Promise<Settings>;
  /** The registry, when the caller loaded it already. */
  registry?: JobRegistry;
  /** The store, when the caller opened it already (not closed by us). */
  store?: Store;
  /** What a consumer in this process reports as `info()`. */
  info?: () => Dict;
  /** The worker name of tasks this producer runs in-process. */
  worker?: string;
  /** The Web Workers of THREAD_IO jobs (made when needed, when absent). */
  threads?: ThreadPool;
  /** The application's manager, used while the producer is open. */
  manager?: ManagerHost;
  /** False to open only a store that exists (see `ApiOptions.create`). */
  create?: boolean;
}

/** Seconds after a wait begins before its queue is checked for consumers. */
const UNCONSUMED_CHECK_SECONDS = 2;

/** Seconds between checks of the store for tasks whose `done` event was missed. */
const WAIT_CHECK_SECONDS = 1;

/**
 * The producer API of a pq application: `api.tasks` queues tasks; events,
 * start and close. Made by `PulsarQueue.api()`.
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * const app = new PulsarQueue({ taskPaths: ["./examples/jobs/"] });
 * await using api = await app.api().start();
 * const task = await api.tasks.queue("addition", { a: 4, b: 6 });
 * console.log(task.result); // 10
 * ```
 */
export class Producer implements AsyncDisposable, JobBackend {
  /** The tasks consumer: queue, execute, jobList... */
  readonly tasks: Tasks;
  readonly #init: ProducerInit;
  readonly #hub = new EventHub((error, channel, event) =>
    logger.error("Event callback on {channel}/{event} failed: {error}", {
      channel,
      event,
      error,
    })
  );
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #unsubscribe = new Map<string, Promise<() => Promise<void>>>();
  #starting?: Promise<this>;
  #closing?: Promise<void>;
  #settings?: Settings;
  #registry?: JobRegistry;
  #store?: Store;
  #ownsStore = false;
  #checkTimer?: ReturnType<typeof setTimeout>;
  /** Awaited tasks whose queue is to be checked for live consumers. */
  readonly #unconsumed: TaskRecord[] = [];
  #unconsumedTimer?: ReturnType<typeof setTimeout>;
  /** Web Workers made here for `execute` of THREAD_IO jobs. */
  #ownThreads?: ThreadPool;
  #managed = false;
  readonly #nodeName = Deno.hostname().toLowerCase();

  /** Use `PulsarQueue.api()`. */
  constructor(init: ProducerInit) {
    this.#init = init;
    this.tasks = new Tasks(this);
  }

  /** The consumers of this API (only `tasks`). */
  get consumers(): Tasks[] {
    return [this.tasks];
  }

  /** The host name, lower-case: the name of this host's local queue. */
  get nodeName(): string {
    return this.#nodeName;
  }

  /** The resolved settings (after `start()`). */
  get settings(): Settings {
    return this.#need(this.#settings, "settings");
  }

  /** The job registry (after `start()`). */
  get registry(): JobRegistry {
    return this.#need(this.#registry, "registry");
  }

  /** The store (after `start()`). */
  get store(): Store {
    return this.#need(this.#store, "store");
  }

  /**
   * Resolves settings, loads the jobs, opens the store and subscribes to task
   * events. Idempotent; `tasks.queue` calls it when needed.
   */
  start(): Promise<this> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<this> {
    if (this.#closing) throw new Error("Cannot start a closed producer");
    const settings = await this.#init.settings();
    this.#settings = settings;
    this.#registry = this.#init.registry ??
      await loadRegistry(settings.taskPaths);
    const manager = await this.#init.manager?.acquire(settings, "producer");
    this.#managed = manager !== undefined;
    if (this.#init.store) this.#store = this.#init.store;
    else {
      const store = await openSettingsStore(settings, {
        create: this.#init.create,
      });
      this.#store = manager ? managedStore(store, manager) : store;
      this.#ownsStore = true;
    }
    return this;
  }

  /** True once `close()` was called. */
  closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Calls `callback(channel, event, data)` for events of `channel` whose
   * name matches `pattern` (`*`, `?`, `[...]`). On channel `task` the data
   * is a `Task`, and a task's id is an event name too.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.onEvents("task", "done", (_channel, _event, task) => {
   *   console.log(String(task));
   * });
   * ```
   */
  async onEvents(
    channel: string,
    pattern: string,
    callback: EventCallback,
  ): Promise<void> {
    await this.start();
    this.#hub.add(channel, pattern, callback);
    await this.#subscribe(channel);
  }

  /** Removes a callback added by `onEvents` (no error when absent). */
  async removeEventCallback(
    channel: string,
    pattern: string,
    callback: EventCallback,
  ): Promise<void> {
    const last = this.#hub.remove(channel, pattern, callback);
    const key = channel.toLowerCase();
    if (last && key !== "task") {
      const unsubscribe = this.#unsubscribe.get(key);
      this.#unsubscribe.delete(key);
      if (unsubscribe) await (await unsubscribe)();
    }
  }

  /** Queues a task made elsewhere (its `queue` must be set). */
  queue(task: Task, options: { callback?: boolean } = {}): TaskFuture {
    return new TaskFuture(
      task.id,
      this.#enqueue(task.toJSON(), options.callback ?? true),
    );
  }

  /** Runs a task in this process (no queue) and resolves with it done. */
  execute(task: Task): TaskFuture {
    return new TaskFuture(task.id, this.#execute(task.toJSON()));
  }

  /** Publishes a message on a channel, to every process that listens. */
  async publish(channel: string, event: string, data: unknown): Promise<void> {
    await this.start();
    await this.store.publish({ channel, event, data });
  }

  /** What this process is doing (a server's consumer adds its `tasks` info). */
  info(): Dict {
    return this.#init.info?.() ?? {};
  }

  /**
   * Takes a named lock in the store; jobs use `ctx.lock()` (see `Job.lock`).
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await using _lock = await api.lock("nightly-report", { wait: 5 });
   * ```
   */
  async lock(name: string, options: LockOptions = {}): Promise<JobLock> {
    await this.start();
    return await acquireJobLock(this.store, name, options);
  }

  /** Used by jobs' `queue()`: queues with `fromTask` set. */
  queueTask(
    jobName: string,
    kwargs: Dict | undefined,
    options: Dict & { fromTask: string },
  ): TaskFuture {
    const { fromTask, ...rest } = options;
    return queueOne(this, jobName, kwargs, rest as QueueOptions, fromTask);
  }

  /**
   * Waits until the task of `id` is done (following retries to the last
   * attempt). The store is checked too, so a missed event does not hang.
   */
  waitFor(id: string): Promise<Task> {
    return new Promise<Task>((resolve, reject) => {
      this.#addWaiter(id, { resolve, reject });
      // Subscribed first, then the store: no done event falls in between.
      this.#subscribe("task").then(
        () => this.#checkStore([id]),
        () => this.#checkStore([id]),
      );
    });
  }

  /**
   * The live workers, from the store: those whose last beat has not
   * expired (a worker beats every second while it runs tasks, every 3 s
   * while idle), sorted by name.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * for (const w of await api.workers()) console.log(w.worker, w.queues);
   * ```
   */
  async workers(): Promise<WorkerStatus[]> {
    await this.start();
    return await this.store.liveWorkers();
  }

  /** Stops event delivery, rejects waiting futures and closes the store. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    clearTimeout(this.#checkTimer);
    clearTimeout(this.#unconsumedTimer);
    for (const [id, waiters] of this.#waiters) {
      for (const waiter of waiters) {
        waiter.reject(
          new Error(`Producer closed while waiting for task ${id}`),
        );
      }
    }
    this.#waiters.clear();
    for (const unsubscribe of this.#unsubscribe.values()) {
      await (await unsubscribe.catch(() => async () => {}))();
    }
    this.#unsubscribe.clear();
    await this.#ownThreads?.close();
    if (this.#ownsStore) await this.#store?.close();
    if (this.#managed) await this.#init.manager?.release();
  }

  /**
   * Makes the record of a new task, checking every option and, when this
   * process has the job's code and the job a schema, the kwargs. A job
   * that only live workers have (from their heartbeats) may be queued too;
   * an unknown one rejects with `TaskNotAvailable` and the close names.
   */
  async prepareTask(
    jobName: string,
    kwargs: Dict = {},
    options: QueueOptions & { fromTask?: string; id?: string } = {},
  ): Promise<TaskRecord> {
    const [record] = await this.prepareTasks(jobName, [kwargs], options);
    return record;
  }

  /**
   * `prepareTask` for many kwargs of one job: the job is looked up once,
   * and kwargs are checked (asynchronously) only when the job has a schema.
   */
  async prepareTasks(
    jobName: string,
    kwargsList: readonly Dict[],
    options: QueueOptions & { fromTask?: string; id?: string } = {},
  ): Promise<TaskRecord[]> {
    await this.start();
    for (const kwargs of kwargsList) checkQueueOptions(kwargs, options);
    const local = this.registry.get(jobName);
    const remote = options.queue !== false;
    const job: JobDefaults = local ??
      (remote ? await this.#advertised(jobName) : undefined) ??
      await this.#unavailable(jobName, remote);
    if (local?.schema) {
      for (const kwargs of kwargsList) {
        const checked = await checkKwargs(local, jobName, kwargs);
        if ("invalid" in checked) {
          throw new TypeError(`Cannot queue task: ${checked.invalid}`);
        }
      }
    }
    return kwargsList.map((kwargs) =>
      this.#makeRecord(jobName, kwargs, options, job)
    );
  }

  /** The advert of a job that a live worker has, or undefined. */
  async #advertised(jobName: string): Promise<JobAdvert | undefined> {
    for (const worker of await this.workers()) {
      const advert = worker.jobs.find((job) => job.name === jobName);
      if (advert) return advert;
    }
    return undefined;
  }

  /**
   * Throws `TaskNotAvailable` with the names that are close, if any: of
   * this process's jobs, and of the live workers' when `remote`.
   */
  async #unavailable(jobName: string, remote: boolean): Promise<never> {
    const names = new Set(this.registry.names());
    for (const worker of remote ? await this.workers() : []) {
      for (const job of worker.jobs) names.add(job.name);
    }
    const hint = didYouMean(jobName, names) ||
      (this.registry.names().length ? "" : NO_JOB_CODE_HINT);
    throw new TaskNotAvailable(jobName, { hint });
  }

  #makeRecord(
    jobName: string,
    kwargs: Dict,
    options: QueueOptions & { fromTask?: string; id?: string },
    job: JobDefaults,
  ): TaskRecord {
    const meta: Dict = { ...options.metaParams };
    const retry = typeof meta.retry === "number" ? meta.retry : 1;
    delete meta.retry;
    if (meta.maxConcurrency === undefined && job.maxConcurrency) {
      meta.maxConcurrency = job.maxConcurrency;
    }
    const queue = options.queue === false
      ? null
      : typeof options.queue === "string"
      ? options.queue
      : job.defaultQueue ?? this.settings.defaultTaskQueue;
    return {
      id: options.id ?? newTaskId(),
      name: jobName,
      queue,
      status: TaskStatus.QUEUED,
      timeQueued: Date.now() / 1000,
      delay: options.delay ?? 0,
      timeout: options.timeout ?? job.timeout ?? null,
      retry,
      kwargs,
      meta,
      fromTask: options.fromTask ?? null,
      runInfo: {},
    };
  }

  async #enqueue(record: TaskRecord, callback: boolean): Promise<Task> {
    if (this.#closing) {
      throw new Error("Cannot queue task as the producer is closing");
    }
    await this.start();
    if (record.queue === null) return this.#execute(record);
    // Task events are listened to only once something waits for them.
    if (callback) await this.#subscribe("task");
    const done = callback ? this.#waitWithoutCheck(record.id) : undefined;
    if (callback) this.#warnIfUnconsumed(record);
    try {
      await this.store.enqueue([record]);
    } catch (error) {
      // The caller gets the error from this promise; the waiter goes.
      done?.catch(() => undefined);
      this.#dropWaiters(record.id, error);
      throw error;
    }
    return done ? await done : this.#queuedTask(record);
  }

  /** Queues records in one store call; resolves with them QUEUED. */
  async enqueueMany(records: TaskRecord[]): Promise<Task[]> {
    if (this.#closing) {
      throw new Error("Cannot queue task as the producer is closing");
    }
    await this.start();
    await this.store.enqueue(records);
    return records.map((record) => this.#queuedTask(record));
  }

  /** A QUEUED task whose `doneCallback` waits for it (made on first use). */
  #queuedTask(record: TaskRecord): Task {
    return new QueuedTask(record, () => {
      const done = this.waitFor(record.id);
      this.#warnIfUnconsumed(record);
      return done;
    });
  }

  async #execute(record: TaskRecord): Promise<Task> {
    await this.start();
    const now = () => Date.now() / 1000;
    const started: TaskRecord = {
      ...record,
      queue: null,
      status: TaskStatus.STARTED,
      timeStarted: now(),
      node: this.#nodeName,
      worker: null,
    };
    await this.#publishTask("started", started);
    const outcome = await runTask(started, this.registry.get(record.name), {
      backend: this,
      now,
      threads: this.#init.threads ??
        (this.#ownThreads ??= new ThreadPool(this.settings.threadWorkers)),
      settings: this.settings,
    });
    await this.#publishTask("done", outcome.task);
    return new Task(outcome.task);
  }

  async #publishTask(event: string, record: TaskRecord): Promise<void> {
    try {
      await this.store.publish({ channel: "task", event, data: record });
    } catch (error) {
      // As pulsar-queue: a failed publish is logged, the task goes on.
      logger.error("Cannot publish {event} of task {id}: {error}", {
        event,
        id: record.id,
        error,
      });
    }
  }

  async #subscribe(channel: string): Promise<void> {
    const key = channel.toLowerCase();
    if (this.#unsubscribe.has(key)) {
      await this.#unsubscribe.get(key);
      return;
    }
    const subscribing = this.store.subscribe(
      key,
      (message) => this.#onMessage(message),
    );
    this.#unsubscribe.set(key, subscribing);
    await subscribing;
  }

  #onMessage(message: ChannelMessage): void {
    if (message.channel !== "task") {
      this.#hub.dispatch(message, message.data);
      return;
    }
    // Most task events are of no interest here: skip them before the
    // (costly) validation.
    const id = (message.data as { id?: unknown } | null)?.id;
    const awaited = typeof id === "string" && this.#waiters.has(id);
    if (!awaited && !this.#hub.has("task")) return;
    const parsed = parseTaskRecord(message.data);
    if (!parsed.ok) {
      logger.warn("Ignored a malformed task event: {reason}", {
        reason: parsed.reason,
      });
      return;
    }
    const task = new Task(parsed.record);
    if (message.event === "done") this.#settle(task);
    this.#hub.dispatch(message, task, task.id);
  }

  /** Resolves the waiters of a finished task, or moves them to its retry. */
  #settle(task: Task): void {
    const waiters = this.#waiters.get(task.id);
    if (!waiters) return;
    if (task.status === TaskStatus.RETRY) {
      const next = task.meta.nextTask;
      if (typeof next !== "string") return;
      this.#waiters.delete(task.id);
      for (const waiter of waiters) this.#addWaiter(next, waiter);
      this.#checkStore([next]);
    } else if (READY_STATES.has(task.status)) {
      this.#waiters.delete(task.id);
      for (const waiter of waiters) waiter.resolve(task);
    }
  }

  /**
   * Logs a warning when no live worker consumes the queue of an awaited
   * task (a typo in a queue or store name would otherwise wait for ever).
   * Checked {@linkcode UNCONSUMED_CHECK_SECONDS} after the wait began (a
   * server starting at the same time has beaten by then), for the tasks
   * still awaited, all at once.
   */
  #warnIfUnconsumed(record: TaskRecord): void {
    if (record.queue === null || this.#closing) return;
    this.#unconsumed.push(record);
    this.#unconsumedTimer ??= setTimeout(async () => {
      const records = this.#unconsumed.splice(0);
      try {
        const awaited = records.filter((r) => this.#waiters.has(r.id));
        if (awaited.length === 0 || this.#closing) return;
        const live = await this.workers();
        const consumed = [...new Set(live.flatMap((worker) => worker.queues))];
        for (const record of awaited) {
          if (consumed.includes(record.queue!)) continue;
          logger.warn(
            "No live worker consumes queue {queue}: task {task} waits until one does ({consumed})",
            {
              queue: record.queue,
              task: `${record.name}<${record.id}>`,
              consumed: consumed.length
                ? `queues consumed now: ${consumed.join(", ")}`
                : `no live worker on store ${this.store.url}`,
            },
          );
        }
      } catch {
        // A store that cannot answer now: the wait itself goes on.
      } finally {
        this.#unconsumedTimer = undefined;
        if (this.#unconsumed.length > 0) {
          this.#warnIfUnconsumed(this.#unconsumed.pop()!);
        }
      }
    }, UNCONSUMED_CHECK_SECONDS * 1000);
  }

  #waitWithoutCheck(id: string): Promise<Task> {
    return new Promise<Task>((resolve, reject) =>
      this.#addWaiter(id, { resolve, reject })
    );
  }

  #addWaiter(id: string, waiter: Waiter): void {
    const waiters = this.#waiters.get(id);
    if (waiters) waiters.push(waiter);
    else this.#waiters.set(id, [waiter]);
    this.#scheduleCheck();
  }

  #dropWaiters(id: string, error: unknown): void {
    for (const waiter of this.#waiters.get(id) ?? []) waiter.reject(error);
    this.#waiters.delete(id);
  }

  /**
   * While tasks are awaited, checks the store now and then for the ones
   * whose `done` event was missed. The next pass starts a second after the
   * last one ended, so a slow store is never asked twice at once.
   */
  #scheduleCheck(): void {
    if (this.#checkTimer !== undefined || this.#closing) return;
    this.#checkTimer = setTimeout(async () => {
      if (this.#waiters.size > 0) {
        await this.#checkStore([...this.#waiters.keys()]);
      }
      this.#checkTimer = undefined;
      if (this.#waiters.size > 0) this.#scheduleCheck();
    }, WAIT_CHECK_SECONDS * 1000);
  }

  /** Settles the awaited tasks of `ids` that the store has finished. */
  async #checkStore(ids: string[]): Promise<void> {
    try {
      await this.start();
      // Reads go in parallel (pipelined on Redis), a hundred at a time.
      for (let i = 0; i < ids.length && !this.#closing; i += 100) {
        const batch = ids.slice(i, i + 100).filter((id) =>
          this.#waiters.has(id)
        );
        const records = await Promise.all(
          batch.map((id) => this.store.get(id).catch(() => undefined)),
        );
        for (const record of records) {
          if (record) this.#settle(new Task(record));
        }
      }
    } catch (error) {
      logger.warn("Cannot check awaited tasks in the store: {error}", {
        error,
      });
    }
  }

  #need<T>(value: T | undefined, what: string): T {
    if (value === undefined) {
      throw new Error(`The producer has no ${what} before start()`);
    }
    return value;
  }
}

/**
 * A task returned QUEUED: its `doneCallback` waits for it, made on first
 * use (a getter on the prototype: a property defined on each of thousands
 * of tasks queued at once was a seventh of the bulk queueing time).
 */
class QueuedTask extends Task {
  readonly #wait: () => Promise<Task>;
  #done?: Promise<Task>;

  constructor(record: TaskRecord, wait: () => Promise<Task>) {
    super(record);
    this.#wait = wait;
  }

  override get doneCallback(): Promise<Task> {
    return this.#done ??= this.#wait();
  }
}

/**
 * The tasks consumer of the producer API (`api.tasks`).
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
 *   .api().start();
 * const queued = await api.tasks.queue("addition", { a: 1 }, {
 *   callback: false,
 *   delay: 2,
 * });
 * console.log(queued.statusString); // "QUEUED"
 * ```
 */
export class Tasks {
  /** The consumer name. */
  readonly name = "tasks";
  readonly #producer: Producer;

  /** Made by the producer. */
  constructor(producer: Producer) {
    this.#producer = producer;
  }

  /**
   * Queues a task of `jobName`. An unknown name rejects with
   * `TaskNotAvailable`; a bad option rejects with a `TypeError` or
   * `RangeError` naming it.
   */
  queue(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): TaskFuture {
    return queueOne(this.#producer, jobName, kwargs, options);
  }

  /**
   * Queues many tasks of one job in one store call (all or none) and
   * resolves with them QUEUED; `task.doneCallback` of each resolves when it
   * is done.
   */
  async queueMany(
    jobName: string,
    kwargsList: readonly Dict[],
    options: Omit<QueueOptions, "callback"> = {},
  ): Promise<Task[]> {
    const producer = this.#producer;
    await producer.start();
    if (typeof options === "object" && options !== null) {
      checkKnownKeys(
        options,
        QUEUE_OPTION_KEYS.filter((key) => key !== "callback"),
        "tasks.queueMany",
      );
    }
    if (options.queue === false) {
      throw new TypeError(
        "Cannot queue many tasks with 'queue' false: use execute",
      );
    }
    if (!Array.isArray(kwargsList)) {
      throw new TypeError(
        `Cannot queue many tasks as 'kwargsList' must be an array: got ${
          describeValue(kwargsList)
        }`,
      );
    }
    const records = await producer.prepareTasks(jobName, kwargsList, options);
    return await producer.enqueueMany(records);
  }

  /** Queues a task on this host's local queue (served first by its servers). */
  queueLocal(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): TaskFuture {
    return this.queue(jobName, kwargs, {
      ...options,
      queue: this.#producer.nodeName,
    });
  }

  /** Runs a task in this process, without a queue; resolves when done. */
  execute(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): TaskFuture {
    return this.queue(jobName, kwargs, {
      ...options,
      queue: false,
      callback: true,
    });
  }

  /** The stored task of an id, or undefined (unknown, or past retention). */
  async get(id: string): Promise<Task | undefined> {
    await this.#producer.start();
    const record = await this.#producer.store.get(id);
    return record && new Task(record);
  }

  /**
   * Revokes a task: a queued one never runs (REVOKED); a running one is
   * stopped at once in every mode (its worker is told on channel
   * `control`; a lease renewal carries the revoke too).
   */
  async revoke(id: string): Promise<RevokeOutcome> {
    await this.#producer.start();
    return await this.#producer.store.revoke(id);
  }

  /** The queues a server consumes, in priority order: local queue first. */
  queues(): string[] {
    return [this.#producer.nodeName, ...this.#producer.settings.taskQueues];
  }

  /** `[name, info]` of the named jobs, or of all. */
  jobList(names?: readonly string[]): Array<[string, JobInfo]> {
    return this.#producer.registry.jobList(names);
  }

  /**
   * The periodic job, among `names` (all jobs when absent), whose next run
   * comes soonest: `[name, seconds until that run]`, as pulsar-queue's
   * `next_scheduled`. Resolves with undefined when none of the names is a
   * periodic job (unknown and regular names are skipped). Run times are a
   * fixed grid (see the README's "Periodic jobs"), so any process can tell
   * when the next run is due; it is queued then by a server started with
   * `--schedule-periodic`.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue({ taskPaths: ["./examples/jobs/"] })
   *   .api().start();
   * const next = await api.tasks.nextScheduled();
   * if (next) console.log(`${next[0]} runs in ${next[1]} s`);
   * ```
   */
  async nextScheduled(
    names?: readonly string[],
  ): Promise<[string, number] | undefined> {
    await this.#producer.start();
    const registry = this.#producer.registry;
    const jobs = (names ?? registry.names()).flatMap((name) => {
      const cls = registry.get(name);
      return cls ? [[name, cls] as const] : [];
    });
    return soonest(jobs, Date.now() / 1000);
  }
}

/**
 * Queues one task: `tasks.queue`, and jobs' `queue()` with `fromTask`. The
 * future has its id at once; bad arguments reject it before anything is
 * queued.
 */
function queueOne(
  producer: Producer,
  jobName: string,
  kwargs: Dict | undefined,
  options: QueueOptions,
  fromTask?: string,
): TaskFuture {
  const id = newTaskId();
  const promise = (async () => {
    if (producer.closing()) {
      throw new Error("Cannot queue task as the producer is closing");
    }
    if (typeof options === "object" && options !== null) {
      checkKnownKeys(options, QUEUE_OPTION_KEYS, "tasks.queue");
    }
    const record = await producer.prepareTask(jobName, kwargs, {
      ...options,
      id,
      ...(fromTask !== undefined && { fromTask }),
    });
    return await producer.queue(new Task(record), options);
  })();
  return new TaskFuture(id, promise);
}

/** Checks the arguments of `tasks.queue` at the boundary. */
function checkQueueOptions(kwargs: unknown, options: QueueOptions): void {
  const fail = (what: string, expected: string, value: unknown) => {
    throw new TypeError(
      `Cannot queue task as '${what}' must be ${expected}: got ${
        describeValue(value)
      }`,
    );
  };
  if (typeof options !== "object" || options === null) {
    fail("options", "an object", options);
  }
  if (
    typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)
  ) fail("kwargs", "an object", kwargs);
  const { delay, timeout, callback, queue, metaParams } = options;
  if (
    delay !== undefined &&
    !(typeof delay === "number" && Number.isFinite(delay) && delay >= 0)
  ) fail("delay", "a non-negative number", delay);
  if (
    timeout !== undefined && timeout !== null &&
    !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)
  ) fail("timeout", "a positive number", timeout);
  if (callback !== undefined && typeof callback !== "boolean") {
    fail("callback", "a boolean", callback);
  }
  if (
    queue !== undefined && typeof queue !== "boolean" &&
    !(typeof queue === "string" && queue.length > 0)
  ) fail("queue", "a queue name or a boolean", queue);
  if (
    metaParams !== undefined &&
    (typeof metaParams !== "object" || metaParams === null ||
      Array.isArray(metaParams))
  ) fail("metaParams", "an object", metaParams);
}
