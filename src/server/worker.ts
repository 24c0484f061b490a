/**
 * A worker: one consumer loop with its producer API, in a worker process
 * (or in the arbiter when `workers` is 0).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Consumer } from "../consumer/consumer.ts";
import { ThreadPool } from "../consumer/thread_pool.ts";
import { Producer } from "../producer.ts";
import type { JobRegistry } from "../registry.ts";
import type { Settings } from "../settings_types.ts";
import { openSettingsStore } from "../store/open_store.ts";

const logger = getLogger(["pq", "worker"]);

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
}

/**
 * Consumes tasks until `signal` aborts (then drains within `gracePeriod`) or
 * until `maxRequests` tasks were claimed. Resolves when everything is closed.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { settings, registry, name, signal } = options;
  const store = await openSettingsStore(settings);
  await using threads = new ThreadPool(settings.threadWorkers);
  let consumer: Consumer | undefined;
  const producer = new Producer({
    settings: () => Promise.resolve(settings),
    registry,
    store,
    worker: name,
    info: () => ({ tasks: consumer?.info() ?? {} }),
    threads,
  });
  try {
    await producer.start();
    consumer = new Consumer({
      store,
      registry,
      backend: producer,
      queues: producer.tasks.queues(),
      worker: name,
      node: producer.nodeName,
      concurrentTasks: settings.concurrentTasks,
      maxRequests: settings.maxRequests,
      leaseTimeout: settings.leaseTimeout,
      maxRedeliveries: settings.maxRedeliveries,
      taskPoolTimeout: settings.taskPoolTimeout,
      threads,
    });
    const stop = () => consumer?.stop(settings.gracePeriod);
    signal.addEventListener("abort", stop, { once: true });
    logger.info("Worker {name} consuming {queues}", {
      name,
      queues: producer.tasks.queues().join(", "),
    });
    if (signal.aborted) await stop();
    await consumer.start();
    await consumer.stop(settings.gracePeriod);
    signal.removeEventListener("abort", stop);
    logger.info("Worker {name} stopped after {n} tasks", {
      name,
      n: consumer.processed,
    });
  } finally {
    await producer.close();
    await store.close();
  }
}
