/**
 * A worker: one consumer loop with its producer API, in a worker process
 * (or in the arbiter when `workers` is 0).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Consumer } from "../consumer/consumer.ts";
import { ThreadPool } from "../run/thread_pool.ts";
import { jobAdverts, startHeartbeat } from "../runtime/heartbeat.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import { loggedBeatEvents, startBeats } from "./beat.ts";
import type { Manager } from "../runtime/manager.ts";
import { managedStore } from "../runtime/managed_store.ts";
import { Producer } from "../producer/producer.ts";
import {
  continueEnded,
  workflowContinuation,
} from "../producer/workflow_continuation.ts";
import { dieNow, faultArmed } from "./fault_points.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import type { Settings } from "../model/settings_types.ts";
import { openStoreWaiting } from "./store_wait.ts";
import {
  startWorkerMetrics,
  type WorkerMetricsMode,
} from "../web/server_metrics.ts";

const logger = getLogger(["pq", "worker"]);

/** Milliseconds a process idle again waits before telling its beat. */
const TELL_IDLE_MS = 250;

/** What a worker needs. */
export interface WorkerOptions {
  /** The resolved settings. */
  settings: Settings;
  /** The loaded jobs. */
  registry: JobRegistry;
  /** The worker's name, stored in each task's `worker`. */
  name: string;
  /** Aborts to stop the worker gracefully. */
  signal: AbortSignal;
  /** The application's started manager (its `queues()` are consumed too). */
  manager?: Manager;
  /**
   * `--metrics-port`: serve this process's metrics (`workers: 0`), or push
   * them to the arbiter's endpoint (a worker process); none when absent.
   */
  metrics?: WorkerMetricsMode;
}

/**
 * Consumes tasks until `signal` aborts (then drains within `gracePeriod`) or
 * until `maxRequests` tasks were claimed. Resolves when everything is closed.
 *
 * A worker that learns from its beat that it was found dead (it did not
 * beat in time: frozen, swapped out, cut off from the store) has lost its
 * leases, and its tasks run elsewhere: it stops its consumer at once (its
 * running tasks are stopped, their outcomes dropped) and goes on with a
 * new one, under the same name.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { settings, registry, name, signal, manager } = options;
  // A store that cannot be reached yet is waited for (storeWait).
  const opened = await openStoreWaiting(settings, { signal });
  if (!opened) return; // Stopped while waiting.
  const store = manager ? managedStore(opened, manager) : opened;
  let consumer: Consumer | undefined;
  // A Web Worker that terminate() cannot stop ends with its process: the
  // other tasks go back to their queues at once and the arbiter replaces
  // this process (with workers 0, the server stops).
  await using threads = new ThreadPool(settings.threadWorkers, {
    onStuck: () => {
      logger.error("Worker {name} stops to end a stuck Web Worker", { name });
      consumer?.stop(0);
    },
  });
  const producer = new Producer({
    settings: () => Promise.resolve(settings),
    registry,
    store,
    info: () => ({ tasks: consumer?.info() ?? {} }),
    threads,
  });
  try {
    await producer.start();
    const queues = [
      ...new Set([
        ...producer.tasks.queues(),
        ...(await manager?.queues() ?? []),
      ]),
    ];
    await using metrics = startWorkerMetrics(options.metrics, {
      store,
      worker: name,
      queues,
    });
    // Set once the heartbeat runs: the consumer says when its tasks change.
    let statusChanged = () => {};
    const newConsumer = (maxRequests: number) =>
      new Consumer({
        onChange: () => statusChanged(),
        onRecorded: (finishes) => metrics.record(finishes.map((f) => f.task)),
        // Workflow members go on with their workflow before their outcome is
        // written; `PQ_FAULT=after-join` is a test's fault point.
        afterRun: workflowContinuation(producer, {
          afterJoin: faultArmed("after-join")
            ? (complete) => complete && dieNow()
            : undefined,
        }),
        afterReclaim: (changed) => continueEnded(producer, changed),
        store,
        registry,
        backend: producer,
        queues,
        worker: name,
        node: producer.nodeName,
        concurrentTasks: settings.concurrentTasks,
        maxRequests,
        maxMemory: settings.maxMemory,
        leaseTimeout: settings.leaseTimeout,
        maxRedeliveries: settings.maxRedeliveries,
        taskPoolTimeout: settings.taskPoolTimeout,
        threads,
        settings,
      });
    let running = newConsumer(settings.maxRequests);
    consumer = running;
    // Tasks claimed by the consumers this one replaced.
    let claimedBefore = 0;
    // Set when a beat found this worker dead: its consumer is replaced.
    let forgotten = false;
    const stop = () => running.stop(settings.gracePeriod);
    signal.addEventListener("abort", stop, { once: true });
    logger.info("Worker {name} consuming {queues}", {
      name,
      queues: queues.join(", "),
    });
    if (signal.aborted) await stop();
    const jobs = jobAdverts(registry);
    const started = Date.now() / 1000;
    const status = (): WorkerStatus => {
      const time = Date.now() / 1000;
      return {
        started,
        memory: Deno.memoryUsage().rss,
        worker: name,
        node: producer.nodeName,
        pid: Deno.pid,
        cores: navigator.hardwareConcurrency || 1,
        time,
        until: time,
        jobs,
        ...running.info() as {
          queues: string[];
          maxConcurrentTasks: number;
          concurrentTasks: string[];
        },
        processed: claimedBefore + running.processed,
      };
    };
    {
      await using beats = startBeats(
        settings,
        opened,
        status,
        loggedBeatEvents(
          (queues) => running.reclaimNow(queues),
          () => {
            forgotten = true;
            running.stop(0);
          },
        ),
      );
      // A process that takes tasks while idle tells its beat at once, not
      // with the next status heartbeat (up to a second later): killed in
      // between, its tasks would wait out an idle process's margin. Idle
      // again, it tells it a little later (a worker at C=1 is idle between
      // two tasks), if the heartbeat has not by then.
      let toldBusy = false;
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      const tellBeat = () => {
        const busy = running.runningTasks > 0;
        if (busy && !toldBusy) {
          toldBusy = true;
          beats.changed();
        } else if (!busy && toldBusy) {
          idleTimer ??= setTimeout(() => {
            idleTimer = undefined;
            if (toldBusy && running.runningTasks === 0) {
              toldBusy = false;
              beats.changed();
            }
          }, TELL_IDLE_MS);
        }
      };
      await using heartbeat = startHeartbeat(
        (now) =>
          store.publish({ channel: "consumer", event: "status", data: now }),
        status,
        () => {
          toldBusy = running.runningTasks > 0;
          beats.changed();
        },
      );
      statusChanged = () => {
        heartbeat.changed();
        tellBeat();
      };
      for (;;) {
        await running.start();
        await running.stop(settings.gracePeriod);
        claimedBefore += running.processed;
        const left = settings.maxRequests - claimedBefore;
        if (!forgotten || signal.aborted) break;
        if (settings.maxRequests > 0 && left <= 0) break;
        forgotten = false;
        logger.warn("Worker {name} goes on with a new consumer", { name });
        running = newConsumer(settings.maxRequests > 0 ? left : 0);
        consumer = running;
        statusChanged();
      }
      clearTimeout(idleTimer);
    }
    signal.removeEventListener("abort", stop);
    // The noun is in the message: a LogTape property would be quoted.
    logger.info(
      `Worker {name} stopped after {n} ${
        claimedBefore === 1 ? "task" : "tasks"
      }`,
      { name, n: claimedBefore },
    );
  } finally {
    await producer.close();
    await opened.close();
  }
}
