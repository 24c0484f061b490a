/**
 * pq's harness for the side-by-side benchmark (the workload of
 * shared/bench-workload.md): the same driver as the peers'
 * (`bench/peers/common.mjs`), with a pq adapter, run by Deno. Prints one
 * JSON line; reads REDIS_HOST, REDIS_PORT and N.
 *
 *   deno task bench:pq
 *   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 N=2000 deno task bench:pq
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { PulsarQueue, type Task } from "../mod.ts";
import { Consumer } from "../src/consumer/consumer.ts";
import { loadRegistry } from "../src/registry.ts";
import { defaultSettings } from "../src/settings.ts";
import { openStore } from "../src/store/open_store.ts";
import { main } from "./peers/common.mjs";

const require = createRequire(new URL("./peers/", import.meta.url));
const QUEUE = "bench";
const JOBS = fileURLToPath(new URL("./jobs/", import.meta.url));

function dataStore(): string {
  const host = Deno.env.get("REDIS_HOST") ?? "127.0.0.1";
  return `redis://${host}:${Deno.env.get("REDIS_PORT")}/0?namespace=pq`;
}

const adapter = {
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
    const IORedis = require("ioredis");
    const port = Number(Deno.env.get("REDIS_PORT"));
    const redis = new IORedis({ host: Deno.env.get("REDIS_HOST"), port });
    return {
      add: (data: { i: number }) =>
        api.tasks.queue("noop", data, { callback: false, queue: QUEUE }),
      addBulk: (datas: Array<{ i: number }>) =>
        api.tasks.queueMany("noop", datas, { queue: QUEUE }),
      onCompleted: (cb: (i: number) => void) => listeners.push(cb),
      async counts() {
        const key = (suffix: string) => `pq:{${QUEUE}}:${suffix}`;
        const [ready, delayed, running, done] = await Promise.all([
          redis.llen(key("ready")),
          redis.zcard(key("delayed")),
          redis.zcard(key("running")),
          redis.hlen(key("done")),
        ]);
        return {
          waiting: ready + delayed,
          active: running,
          completed: done,
          failed: 0,
          delayed,
        };
      },
      async close() {
        redis.disconnect();
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

await main(adapter, fileURLToPath(import.meta.url));
