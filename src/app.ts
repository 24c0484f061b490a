/**
 * The application: a server (`start()`) and producers (`api()`).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Producer } from "./producer/producer.ts";
import { continueEnded } from "./producer/workflow_continuation.ts";
import { type JobRegistry, loadRegistry } from "./runtime/registry.ts";
import {
  checkManagerClass,
  type Manager,
  type ManagerClass,
  ManagerHost,
} from "./runtime/manager.ts";
import { managedStore } from "./runtime/managed_store.ts";
import {
  runArbiter,
  stopWhenArbiterGone,
  WORKER_ENV,
} from "./server/arbiter.ts";
import { runScheduler } from "./server/scheduler.ts";
import { runWorker } from "./server/worker.ts";
import { openStoreWaiting } from "./server/store_wait.ts";
import type { Store } from "./store/store.ts";
import { helpText } from "./model/settings_table.ts";
import { resolveSettings, settingsEnv } from "./runtime/settings.ts";
import {
  METRICS_COLLECTOR_ENV,
  startServerMetrics,
  type WorkerMetricsMode,
} from "./web/server_metrics.ts";
import type { Settings } from "./model/settings_types.ts";

const logger = getLogger(["pq", "app"]);

/**
 * Constructor options of {@linkcode PulsarQueue}: any setting, and the
 * application's {@linkcode Manager} class.
 */
export type PulsarQueueOptions = Partial<Settings> & {
  /**
   * The Manager class, constructed once per process (default: the config
   * module's `manager` export, else `Manager`).
   */
  manager?: ManagerClass;
};

/** Options of {@linkcode PulsarQueue.api}. */
export interface ApiOptions {
  /**
   * Settings already resolved (as the command line does from its flags),
   * used as they are instead of resolving them again.
   */
  settings?: Settings;
  /**
   * False to open only a store that exists: a `sqlite:` path with no file
   * is then an error naming it (the `pq` commands use this, so that a typo
   * in a path does not make an empty store). Default true.
   */
  create?: boolean;
}

/** Options of {@linkcode PulsarQueue.start}. */
export interface StartOptions {
  /** Command-line arguments (default: `Deno.args`). */
  args?: string[];
  /** Aborts to stop the server gracefully (SIGINT and SIGTERM do too). */
  signal?: AbortSignal;
}

/**
 * A pq application: settings, jobs and a store. `start()` runs a server,
 * `api()` makes a producer.
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * const app = new PulsarQueue({ taskPaths: ["./examples/jobs/"], workers: 2 });
 * await using api = await app.api().start();
 * const task = await api.tasks.queue("addition", { a: 4, b: 6 });
 * console.log(task.result); // 10, once a server runs
 * ```
 */
export class PulsarQueue {
  readonly #options: Partial<Settings>;
  readonly #manager: ManagerHost;

  /**
   * Makes an application; settings not given come from config, env, CLI.
   *
   * @param options Settings (any of the table's), and the `manager` class.
   * @throws {TypeError} when `manager` is not a class extending Manager.
   */
  constructor(options: PulsarQueueOptions = {}) {
    const { manager, ...settings } = options;
    this.#options = settings;
    this.#manager = new ManagerHost(
      checkManagerClass(manager, "PulsarQueue options"),
    );
  }

  /**
   * A new producer API on this application's store. Call `start()` on it
   * (or just queue: it starts itself).
   *
   * @param options `settings` already resolved, or `create: false` to open
   * only a store that exists.
   * @returns A producer, not yet started.
   */
  api(options: ApiOptions = {}): Producer {
    const given = options.settings;
    return new Producer({
      settings: async () =>
        given ?? (await resolveSettings({
          options: this.#options,
          env: settingsEnv(),
        })).settings,
      manager: this.#manager,
      create: options.create,
    });
  }

  /**
   * Runs the server: the arbiter and its worker processes (or, in a worker
   * process, the worker). Resolves when it has stopped, after SIGINT or
   * SIGTERM or `signal`. With `--help` it prints the help and resolves.
   *
   * @param options The command-line arguments and a stop signal.
   * @returns A promise that resolves once the server has stopped.
   * @throws {SettingsError} for a bad setting, naming it and its source.
   */
  async start(options: StartOptions = {}): Promise<void> {
    const { settings, help } = await resolveSettings({
      options: this.#options,
      args: options.args ?? Deno.args,
      env: settingsEnv(),
    });
    if (help) {
      await Deno.stdout.write(new TextEncoder().encode(helpText() + "\n"));
      return;
    }
    const registry = await loadRegistry(settings.taskPaths);
    const index = Deno.env.get(WORKER_ENV);
    const consumes = index !== undefined || settings.workers === 0;
    const manager: Manager = await this.#manager.acquire(
      settings,
      consumes ? "worker" : "arbiter",
    );
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    const signals = ["SIGINT", "SIGTERM"] as const;
    for (const name of signals) Deno.addSignalListener(name, onSignal);
    const unwatch = index === undefined
      ? undefined
      : stopWhenArbiterGone(stop, settings.gracePeriod);
    const abortFromCaller = () => stop.abort();
    options.signal?.addEventListener("abort", abortFromCaller, { once: true });
    let scheduling: Promise<void> | undefined;
    try {
      // The arbiter schedules periodic jobs, with or without worker processes.
      if (index === undefined && settings.schedulePeriodic) {
        scheduling = runScheduler({ settings, registry, signal: stop.signal })
          .catch((error) => {
            stop.abort();
            throw error;
          });
      }
      if (consumes) {
        const role = index === undefined ? "arbiter" : "worker";
        // --metrics-port: served here without worker processes; a worker
        // process pushes its counts to its arbiter's endpoint.
        const collector = Deno.env.get(METRICS_COLLECTOR_ENV);
        const metrics: WorkerMetricsMode | undefined = !settings.metricsPort
          ? undefined
          : index === undefined
          ? { serve: settings.metricsPort }
          : collector
          ? { push: collector }
          : undefined;
        await runWorker({
          settings,
          registry,
          name: `${role}-${Deno.pid}`,
          signal: stop.signal,
          manager,
          metrics,
        });
      } else {
        // Fail fast on a store that cannot be opened, before any worker;
        // wait for one that cannot be reached yet (storeWait).
        const opened = await openStoreWaiting(settings, {
          signal: stop.signal,
        });
        // Undefined when stopped while waiting: no worker was started.
        if (opened) {
          await serveArbiter(opened, settings, registry, manager, stop.signal);
        }
      }
      stop.abort();
      await scheduling;
    } finally {
      stop.abort();
      await scheduling?.catch(() => undefined);
      for (const name of signals) Deno.removeSignalListener(name, onSignal);
      unwatch?.();
      options.signal?.removeEventListener("abort", abortFromCaller);
      await this.#manager.release();
    }
  }
}

/**
 * Runs the arbiter on its opened store until `signal` aborts: its worker
 * processes, and the metrics endpoint with `--metrics-port`. Closes the
 * store when done.
 */
async function serveArbiter(
  opened: Store,
  settings: Settings,
  registry: JobRegistry,
  manager: Manager,
  signal: AbortSignal,
): Promise<void> {
  await using _store = opened;
  const store = managedStore(opened, manager);
  logger.info(
    "pq server: {workers} workers, store {store}, jobs {jobs}",
    {
      workers: settings.workers,
      store: opened.url,
      jobs: registry.names().join(", "),
    },
  );
  // --metrics-port: one endpoint for the server; its worker processes
  // push their counts to it.
  await using metrics = settings.metricsPort
    ? startServerMetrics({
      store: opened,
      port: settings.metricsPort,
      queues: [Deno.hostname().toLowerCase(), ...settings.taskQueues],
    })
    : undefined;
  await runArbiter(
    settings,
    signal,
    (pid) => {
      metrics?.forget(pid);
      return giveBackTasks(store, `worker-${pid}`, settings, registry);
    },
    metrics ? { [METRICS_COLLECTOR_ENV]: metrics.collectorUrl } : {},
  );
}

/**
 * Gives back at once the tasks of a worker process that exited (the arbiter
 * saw it): its leases end, its queues are reclaimed, its beat is forgotten.
 * Its queues are those of its last status, else the ones it would consume.
 * A workflow member the reclaim ended (too many expired leases) goes on
 * with its workflow, through a producer made for it.
 */
async function giveBackTasks(
  store: Store,
  worker: string,
  settings: Settings,
  registry: JobRegistry,
): Promise<void> {
  const status = (await store.liveWorkers()).find((w) => w.worker === worker);
  const queues = status?.queues ??
    [Deno.hostname().toLowerCase(), ...settings.taskQueues];
  const ended = await store.expireLeases(worker, queues);
  if (ended > 0) {
    logger.warn(
      "Worker process {worker} exited: {n} of its tasks go back to their queues",
      { worker, n: ended },
    );
    const report = await store.reclaim(settings.maxRedeliveries, queues);
    if (report.changed.length > report.redelivered) {
      await using producer = new Producer({
        settings: () => Promise.resolve(settings),
        registry,
        store,
      });
      await producer.start();
      await continueEnded(producer, report.changed);
    }
  }
  await store.leave(worker);
}
