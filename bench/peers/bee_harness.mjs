// Bee-Queue harness for pq's side-by-side benchmark (the workload is described
// in docs/benchmarks.md). Prints one JSON line on stdout.
//
//   node bench/peers/bee_harness.mjs                 # own private redis-server, N=20000
//   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 N=2000 node bench/peers/bee_harness.mjs
//
// Library defaults throughout: storeJobs, sendEvents and getEvents on,
// removeOnSuccess/removeOnFailure false (results kept in the jobs hash),
// retries 0, activateDelayedJobs false, stallInterval 5000. The producer is
// created with `isWorker: false` (Bee-Queue's documented producer set-up: no
// blocking client). Workers call `queue.process(C, handler)` at "go".
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { isEntry, main, redisOptions } from "./common.mjs";

const require = createRequire(import.meta.url);
const Queue = require("bee-queue");
const version = require("bee-queue/package.json").version;
const QUEUE = "bench";

export const adapter = {
  lib: "bee-queue",
  version,

  async openProducer({ events }) {
    const queue = new Queue(QUEUE, { redis: redisOptions(), isWorker: false });
    queue.on("error", (e) => console.error("queue error:", e.message));
    const listeners = [];
    if (events) {
      queue.on("job succeeded", (_id, result) => {
        for (const l of listeners) l(result?.i);
      });
    }
    await queue.ready();
    const saveAll = async (jobs) => {
      const errors = await queue.saveAll(jobs);
      if (errors.size) {
        throw new Error(
          `saveAll: ${errors.size} errors, e.g. ${[...errors.values()][0]}`,
        );
      }
    };
    return {
      add: (data) => queue.createJob(data).save(),
      addBulk: (datas) => saveAll(datas.map((data) => queue.createJob(data))),
      onCompleted: (cb) => listeners.push(cb),
      async counts() {
        const h = await queue.checkHealth();
        return {
          waiting: h.waiting,
          active: h.active,
          completed: h.succeeded,
          failed: h.failed,
          delayed: h.delayed,
        };
      },
      close: () => queue.close(),
    };
  },

  async openWorker({ concurrency, onCompleted }) {
    // the workload's handler: an async no-op returning its input
    // deno-lint-ignore require-await
    const handler = async (job) => job.data;
    const queue = new Queue(QUEUE, { redis: redisOptions() });
    queue.on("error", (e) => console.error("worker error:", e.message));
    queue.on(
      "failed",
      (job, e) => console.error(`job ${job?.id} failed:`, e?.message),
    );
    queue.on("succeeded", () => onCompleted());
    await queue.ready();
    return {
      go() {
        queue.process(concurrency, handler);
      },
      close: () => queue.close(),
    };
  },
};

if (isEntry(import.meta.url)) {
  await main(adapter, fileURLToPath(import.meta.url));
}
