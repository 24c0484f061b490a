// BullMQ harness for pq's side-by-side benchmark (the workload is described in
// docs/benchmarks.md). Prints one JSON line on stdout.
//
//   node bench/peers/bullmq_harness.mjs              # own private redis-server, N=20000
//   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 N=2000 node bench/peers/bullmq_harness.mjs
//
// Library defaults throughout: job results stored, completed/failed jobs kept
// (removeOnComplete/removeOnFail unset), attempts 1, events stream on, default
// ioredis client without auto-pipelining, drainDelay/stalledInterval/lockDuration
// at their defaults. Workers are created with `autorun: false`, `run()` at "go".
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { isEntry, main, redisOptions } from "./common.mjs";

const require = createRequire(import.meta.url);
const { Queue, QueueEvents, Worker } = require("bullmq");
const version = require("bullmq/package.json").version;
const QUEUE = "bench";

export const adapter = {
  lib: "bullmq",
  version,

  async openProducer({ events }) {
    const connection = redisOptions();
    const queue = new Queue(QUEUE, { connection });
    queue.on("error", (e) => console.error("queue error:", e.message));
    await queue.waitUntilReady();
    let qe = null;
    const listeners = [];
    if (events) {
      qe = new QueueEvents(QUEUE, { connection });
      qe.on("error", (e) => console.error("queue events error:", e.message));
      qe.on("completed", ({ returnvalue }) => {
        const rv = typeof returnvalue === "string"
          ? JSON.parse(returnvalue)
          : returnvalue;
        for (const l of listeners) l(rv?.i);
      });
      await qe.waitUntilReady();
    }
    return {
      add: (data) => queue.add(QUEUE, data),
      addBulk: (datas) =>
        queue.addBulk(datas.map((data) => ({ name: QUEUE, data }))),
      onCompleted: (cb) => listeners.push(cb),
      async counts() {
        const c = await queue.getJobCounts(
          "wait",
          "active",
          "completed",
          "failed",
          "prioritized",
          "delayed",
        );
        return {
          waiting: c.wait + c.prioritized,
          active: c.active,
          completed: c.completed,
          failed: c.failed,
          delayed: c.delayed,
        };
      },
      async close() {
        if (qe) await qe.close();
        await queue.close();
      },
    };
  },

  async openWorker({ concurrency, onCompleted }) {
    // the workload's handler: an async no-op returning its input
    // deno-lint-ignore require-await
    const handler = async (job) => job.data;
    const worker = new Worker(QUEUE, handler, {
      connection: redisOptions(),
      concurrency,
      autorun: false,
    });
    worker.on("error", (e) => console.error("worker error:", e.message));
    worker.on(
      "failed",
      (job, e) => console.error(`job ${job?.id} failed:`, e?.message),
    );
    worker.on("completed", () => onCompleted());
    await worker.waitUntilReady(); // main and blocking connections both ready
    return {
      go() {
        worker.run().catch((e) => console.error("worker.run:", e.message));
      },
      close: () => worker.close(),
    };
  },
};

if (isEntry(import.meta.url)) {
  await main(adapter, fileURLToPath(import.meta.url));
}
