/**
 * pq's harness for the side-by-side benchmark (the workload of
 * docs/benchmarks.md): the same driver as the peers'
 * (`bench/peers/common.mjs`), with a pq adapter, run by Deno. Prints one
 * JSON line; reads REDIS_HOST, REDIS_PORT and N. It needs nothing from
 * bench/peers/node_modules: the driver talks to Redis with node built-ins,
 * and queue sizes and task states are read through pq's own API.
 *
 *   deno task bench:pq
 *   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 N=2000 deno task bench:pq
 */
import { queueSizes } from "../src/store/store.ts";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import {
  EXCEPTION_STATES,
  PulsarQueue,
  type Task,
  TaskStatus,
} from "../mod.ts";
import { Consumer } from "../src/consumer/consumer.ts";
import { loadRegistry } from "../src/runtime/registry.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { openStore } from "../src/store/open_store.ts";
import { main } from "./peers/common.mjs";

const QUEUE = "bench";
/**
 * The ids of the tasks this driver process queued and has not yet seen
 * dropped (the driver flushes Redis between scenarios): `counts()` reads
 * their records through pq to tell how many ran.
 */
const queuedIds: string[] = [];
const JOBS = fileURLToPath(new URL("./jobs/", import.meta.url));

/** The data store URL of the harness: REDIS_HOST, REDIS_PORT, namespace pq. */
export function dataStore(): string {
  const host = Deno.env.get("REDIS_HOST") ?? "127.0.0.1";
  return `redis://${host}:${Deno.env.get("REDIS_PORT")}/0?namespace=pq`;
}

/** pq's adapter for the driver (also used by bench/commands_per_task.ts). */
export const adapter = {
  lib: "pq",
  version: denoJson.version,
  runtime: `deno ${Deno.version.deno}`,

  async openProducer({ events }: { events: boolean }) {
    const api = await new PulsarQueue({
      dataStore: dataStore(),
      taskPaths: [JOBS],
    }).api().start();
    const listeners: Array<(i: number) => void> = [];
    if (events) {
      await api.onEvents("task", "done", (_channel, _event, data) => {
        const i = ((data as Task).result as { i: number }).i;
        for (const listener of listeners) listener(i);
      });
    }
    return {
      add: (data: { i: number }) => {
        const future = api.tasks.queue("noop", data, {
          callback: false,
          queue: QUEUE,
        });
        queuedIds.push(future.id);
        return future;
      },
      async addBulk(datas: Array<{ i: number }>) {
        const tasks = await api.tasks.queueMany("noop", datas, {
          queue: QUEUE,
        });
        for (const task of tasks) queuedIds.push(task.id);
        return tasks;
      },
      onCompleted: (cb: (i: number) => void) => listeners.push(cb),
      /**
       * Read through pq itself (no second Redis client): the queue size from
       * the store, and the state of every task this process queued from its
       * stored record. Tasks the driver's FLUSHDB dropped are forgotten.
       */
      async counts() {
        const [waiting] = await queueSizes(api.store, [QUEUE]);
        let active = 0, completed = 0, failed = 0;
        const known: string[] = [];
        for (let at = 0; at < queuedIds.length; at += 1000) {
          const ids = queuedIds.slice(at, at + 1000);
          const tasks = await Promise.all(ids.map((id) => api.tasks.get(id)));
          tasks.forEach((task, k) => {
            if (!task) return;
            known.push(ids[k]);
            if (task.status === TaskStatus.STARTED) active++;
            else if (task.status === TaskStatus.SUCCESS) completed++;
            else if (EXCEPTION_STATES.has(task.status)) failed++;
          });
        }
        queuedIds.length = 0;
        queuedIds.push(...known);
        return { waiting, active, completed, failed };
      },
      async close() {
        await api.close();
      },
    };
  },

  async openWorker(
    { concurrency, onCompleted }: {
      concurrency: number;
      onCompleted: () => void;
    },
  ) {
    const settings = { ...defaultSettings(), dataStore: dataStore() };
    const registry = await loadRegistry([JOBS]);
    const store = await openStore(settings.dataStore, {
      serializer: settings.messageSerializer,
      resultTtl: settings.resultTtl,
    });
    const api = await new PulsarQueue({
      dataStore: settings.dataStore,
      taskPaths: [JOBS],
    }).api().start();
    const consumer = new Consumer({
      store,
      registry,
      backend: api,
      queues: [QUEUE],
      worker: `worker-${Deno.pid}`,
      node: api.nodeName,
      concurrentTasks: concurrency,
      maxRequests: 0,
      leaseTimeout: settings.leaseTimeout,
      maxRedeliveries: settings.maxRedeliveries,
      taskPoolTimeout: settings.taskPoolTimeout,
      onRecorded: (finishes) => finishes.forEach(() => onCompleted()),
    });
    let running: Promise<void> | undefined;
    return {
      go() {
        running = consumer.start();
      },
      async close() {
        await consumer.stop(5);
        await running;
        await api.close();
        await store.close();
      },
    };
  },
};

if (import.meta.main) await main(adapter, fileURLToPath(import.meta.url));
