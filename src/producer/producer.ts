/**
 * The producer API of a pq application (`PulsarQueue.api()`): its lifecycle,
 * its events, queueing and running tasks, waiting for them. `api.tasks`
 * ({@linkcode Tasks}) is its facade; waiting is in `task_waiters.ts`.
 *
 * Invariants: nothing is queued before every option is checked
 * (`prepareTasks`); a closed producer queues nothing and rejects its
 * waiters; a store it opened, it closes.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { EventCallback } from "../model/events.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import type { JobBackend, JobLock, LockOptions } from "../runtime/job.ts";
import type { ManagerHost } from "../runtime/manager.ts";
import type {
  DedupeOptions,
  NewTaskOptions,
  QueueOptions,
} from "../model/queue_options.ts";
import { type JobRegistry, loadRegistry } from "../runtime/registry.ts";
import { ThreadPool } from "../run/thread_pool.ts";
import type { Settings } from "../model/settings_types.ts";
import { managedStore } from "../runtime/managed_store.ts";
import { openSettingsStore } from "../store/open_store.ts";
import type { Store, UniqueOutcome } from "../store/store.ts";
import { statusString } from "../model/status.ts";
import { type Dict, Task, type TaskRecord } from "../model/task.ts";
import { EventHub, type HubCallback } from "./event_hub.ts";
import { runHere } from "./local_run.ts";
import { routeMessage } from "./message_routing.ts";
import { prepareTaskRecords } from "./task_preparation.ts";
import { acquireJobLock } from "./job_lock.ts";
import { Queues } from "./queues.ts";
import {
  noteQueued,
  QueuedTask,
  type QueueReceipt,
  TaskFuture,
} from "./task_future.ts";
import { queueOne, Tasks } from "./tasks.ts";
import { TaskWaiters } from "./task_waiters.ts";
import { UnadvertisedJobs } from "./unadvertised_jobs.ts";
import { UnconsumedQueues } from "./unconsumed_queues.ts";
import { Workflows } from "./workflows.ts";
import { Schedules } from "./schedules.ts";

const logger = getLogger(["pq", "producer"]);

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
  /** The Web Workers of THREAD_IO jobs (made when needed, when absent). */
  threads?: ThreadPool;
  /** The application's manager, used while the producer is open. */
  manager?: ManagerHost;
  /** False to open only a store that exists (see `ApiOptions.create`). */
  create?: boolean;
}

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
  /** The tasks: queue, execute, get, revoke, search, jobList... */
  readonly tasks: Tasks;
  /** The queues: stats, pause, resume, paused, purge. */
  readonly queues: Queues;
  /** The workflows: chains, groups and chords of tasks. */
  readonly workflows: Workflows;
  /** The schedules managed at run time: upsert, list, get, pause, remove. */
  readonly schedules: Schedules;
  readonly #init: ProducerInit;
  readonly #hub = new EventHub((error, channel, event) =>
    logger.error("Event callback on {channel}/{event} failed: {error}", {
      channel,
      event,
      error,
    })
  );
  readonly #waiters = new TaskWaiters((id) => this.store.get(id));
  readonly #unconsumed = new UnconsumedQueues({
    awaited: (id) => this.#waiters.has(id),
    workers: () => this.workers(),
    storeUrl: () => this.store.url,
  });
  readonly #unadvertised = new UnadvertisedJobs(() => this.workers());
  readonly #unsubscribe = new Map<string, Promise<() => Promise<void>>>();
  #starting?: Promise<this>;
  #closing?: Promise<void>;
  #settings?: Settings;
  #registry?: JobRegistry;
  #store?: Store;
  #ownsStore = false;
  /** Web Workers made here for `execute` of THREAD_IO jobs. */
  #ownThreads?: ThreadPool;
  #managed = false;
  readonly #nodeName = Deno.hostname().toLowerCase();

  /** Use `PulsarQueue.api()`. */
  constructor(init: ProducerInit) {
    this.#init = init;
    this.tasks = new Tasks(this);
    this.queues = new Queues(this);
    this.workflows = new Workflows(this);
    this.schedules = new Schedules(this);
  }

  /**
   * pulsar-queue's list of the API's "consumers": `[api.tasks]`. In pq a
   * consumer is a worker's loop that runs tasks (`src/consumer/`).
   *
   * @deprecated Use {@linkcode Producer.tasks}.
   */
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

  /**
   * The store (after `start()`). Internal: the store contract changes
   * between versions; read through `api.tasks`, `api.queues` and
   * `api.workers()` instead.
   * @internal
   */
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
   * @param channel `task`, `consumer`, `control` or a channel of your own:
   * the data is typed for the known ones (`EventMap`).
   * @param pattern A glob over event names, or a task's id.
   * @param callback Called with the channel, the event and the data; one
   * that throws is removed (and the error logged).
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
  async onEvents<C extends string>(
    channel: C,
    pattern: string,
    callback: EventCallback<C>,
  ): Promise<void> {
    await this.start();
    // The hub holds callbacks untyped; #onMessage checks each channel's data.
    this.#hub.add(channel, pattern, callback as HubCallback);
    await this.#subscribe(channel);
  }

  /** Removes a callback added by `onEvents` (no error when absent). */
  async removeEventCallback<C extends string>(
    channel: C,
    pattern: string,
    callback: EventCallback<C>,
  ): Promise<void> {
    const last = this.#hub.remove(channel, pattern, callback as HubCallback);
    const key = channel.toLowerCase();
    if (last && key !== "task") {
      const unsubscribe = this.#unsubscribe.get(key);
      this.#unsubscribe.delete(key);
      if (unsubscribe) await (await unsubscribe)();
    }
  }

  /**
   * Queues a task made elsewhere (its `queue` must be set). `onQueued` is
   * called once it is in the store (for a `queue` of null: before it runs
   * here), or found there (`unique`: with the duplicate), before the future
   * waits for its end.
   */
  queue(
    task: Task,
    options: {
      callback?: boolean;
      onQueued?: (duplicate?: QueueReceipt) => void;
      unique?: { dedupe?: DedupeOptions };
    } = {},
  ): TaskFuture {
    const future: TaskFuture = new TaskFuture(
      task.id,
      this.#enqueue(
        task.toJSON(),
        options.callback ?? true,
        (duplicate) => {
          noteQueued(future, duplicate);
          options.onQueued?.(duplicate);
        },
        options.unique,
      ),
    );
    return future;
  }

  /** Runs a task in this process (no queue) and resolves with it done. */
  execute(task: Task): TaskFuture {
    const future = new TaskFuture(task.id, this.#execute(task.toJSON()));
    noteQueued(future); // Nothing to queue: it runs now.
    return future;
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
    options: QueueOptions & { fromTask: string },
  ): TaskFuture {
    const { fromTask, ...rest } = options;
    return queueOne(this, jobName, kwargs, rest, fromTask);
  }

  /**
   * Waits until the task of `id` is done (following retries to the last
   * attempt). The store is checked too, so a missed event does not hang.
   */
  waitFor(id: string): Promise<Task> {
    const done = this.#waiters.wait(id);
    // Subscribed first, then the store: no done event falls in between.
    const check = () => this.#waiters.check([id]);
    this.#subscribe("task").then(check, check);
    return done;
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
    this.#unconsumed.close();
    this.#waiters.close();
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
    options: NewTaskOptions = {},
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
    options: NewTaskOptions = {},
  ): Promise<TaskRecord[]> {
    await this.start();
    return await prepareTaskRecords(
      {
        registry: this.registry,
        settings: this.settings,
        workers: () => this.workers(),
        unadvertised: this.#unadvertised,
      },
      jobName,
      kwargsList,
      options,
    );
  }

  async #enqueue(
    record: TaskRecord,
    callback: boolean,
    onQueued: (duplicate?: QueueReceipt) => void,
    unique?: { dedupe?: DedupeOptions },
  ): Promise<Task> {
    if (this.#closing) {
      throw new Error("Cannot queue task as the producer is closing");
    }
    await this.start();
    if (record.queue === null) {
      onQueued();
      return this.#execute(record);
    }
    // Task events are listened to only once something waits for them.
    if (callback) await this.#subscribe("task");
    const done = callback ? this.#waiters.wait(record.id) : undefined;
    if (callback) this.#unconsumed.add(record);
    let unqueued: UniqueOutcome | undefined;
    try {
      if (unique) {
        unqueued = await this.store.enqueueUnique(record, unique.dedupe);
      } else await this.store.enqueue([record]);
    } catch (error) {
      // The caller gets the error from this promise; the waiter goes.
      done?.catch(() => undefined);
      this.#waiters.drop(record.id, error);
      throw error;
    }
    if (unqueued && !unqueued.queued) {
      if (unqueued.reason === "id" && unqueued.task.name !== record.name) {
        // Following a task of another job would answer for the wrong job.
        const error = idHeldError(record, unqueued.task);
        done?.catch(() => undefined);
        this.#waiters.drop(record.id, error);
        throw error;
      }
      return await this.#duplicate(record.id, unqueued, done, onQueued);
    }
    onQueued();
    return done ? await done : this.#queuedTask(record);
  }

  /**
   * A queue call that found a task there (`enqueueUnique`): the future
   * follows that task. Its record was read after this producer subscribed
   * to task events: a `done` before it is in the record, one after it
   * reaches the waiter (moved first when the ids differ, then the store
   * read once more for a `done` in between).
   */
  async #duplicate(
    id: string,
    there: Extract<UniqueOutcome, { queued: false }>,
    done: Promise<Task> | undefined,
    onQueued: (duplicate?: QueueReceipt) => void,
  ): Promise<Task> {
    const record = there.task;
    onQueued({ id: record.id, duplicate: true, reason: there.reason });
    if (!done) return this.#queuedTask(record);
    this.#waiters.follow(id, record.id);
    this.#waiters.settle(new Task(record));
    if (record.id !== id && this.#waiters.has(record.id)) {
      this.#unconsumed.add(record);
      void this.#waiters.check([record.id]);
    }
    return await done;
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
      this.#unconsumed.add(record);
      return done;
    });
  }

  async #execute(record: TaskRecord): Promise<Task> {
    await this.start();
    return await runHere({
      backend: this,
      store: this.store,
      registry: this.registry,
      settings: this.settings,
      threads: () =>
        this.#init.threads ??
          (this.#ownThreads ??= new ThreadPool(this.settings.threadWorkers)),
      node: this.#nodeName,
    }, record);
  }

  async #subscribe(channel: string): Promise<void> {
    const key = channel.toLowerCase();
    if (this.#unsubscribe.has(key)) {
      await this.#unsubscribe.get(key);
      return;
    }
    const subscribing = this.store.subscribe(
      key,
      (message) => routeMessage(message, this.#hub, this.#waiters),
    );
    this.#unsubscribe.set(key, subscribing);
    await subscribing;
  }

  #need<T>(value: T | undefined, what: string): T {
    if (value === undefined) {
      throw new Error(`The producer has no ${what} before start()`);
    }
    return value;
  }
}

/**
 * The error of a caller's id held by a task of another job: nothing was
 * queued, and the task there is not followed.
 */
function idHeldError(record: TaskRecord, there: TaskRecord): TypeError {
  return new TypeError(
    `Cannot queue task of job '${record.name}' with id '${record.id}': a task of job '${there.name}' holds that id (${
      statusString(there.status)
    }); give this task another id, or queue job '${there.name}' to follow that task`,
  );
}
