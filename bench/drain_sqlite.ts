/**
 * Bulk queueing and drain throughput on the embedded store: N no-op tasks
 * queued first, in batches of 1000 (one `queueMany` call each, timed), then
 * one worker process with C concurrent tasks runs them all. The drain span is
 * from the first task started to the last one recorded done, read from the
 * tasks' own stored times. Prints one JSON line. plainjob does the same
 * workload in `bench/peers/plainjob_harness.mjs`; `deno task bench:embedded`
 * runs both side by side.
 *
 *   deno task bench:sqlite            # N=10000 C=100
 *   N=20000 C=50 deno task bench:sqlite
 */
import { DatabaseSync } from "node:sqlite";
import denoJson from "../deno.json" with { type: "json" };
import { PulsarQueue, type Task } from "../mod.ts";

const N = Number(Deno.env.get("N") ?? 10_000);
const C = Number(Deno.env.get("C") ?? 100);
const BULK = 1000;
const sqliteVersion = (() => {
  const db = new DatabaseSync(":memory:");
  try {
    return (db.prepare("SELECT sqlite_version() AS v").get() as { v: string })
      .v;
  } finally {
    db.close();
  }
})();
const dir = await Deno.makeTempDir({ prefix: "pq_bench_" });
const dataStore = `sqlite:${dir}/bench.sqlite`;
const jobs = new URL("./jobs/", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;

try {
  const api = await new PulsarQueue({ taskPaths: [jobs], dataStore }).api()
    .start();
  const enqueueStart = performance.now();
  const queued: Task[] = [];
  for (let i = 0; i < N; i += BULK) {
    const batch = Array.from(
      { length: Math.min(BULK, N - i) },
      (_, k) => ({ i: i + k }),
    );
    const tasks = await api.tasks.queueMany("noop", batch, { queue: "bench" });
    queued.push(...tasks);
  }
  const enqueueSeconds = (performance.now() - enqueueStart) / 1000;

  const worker = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      cli,
      "--workers",
      "0",
      "--concurrent-tasks",
      String(C),
      "--task-paths",
      jobs,
      "--data-store",
      dataStore,
      "--task-queues",
      "bench",
      "--log-level",
      "warning",
    ],
    stdin: "null",
  }).spawn();
  const done = await Promise.all(queued.map((task) => task.doneCallback!));
  worker.kill("SIGTERM");
  await worker.status;

  let firstStart = Infinity;
  let lastEnd = 0;
  let succeeded = 0;
  for (const task of done) {
    if (task.statusString === "SUCCESS") succeeded++;
    firstStart = Math.min(firstStart, task.timeStarted ?? Infinity);
    lastEnd = Math.max(lastEnd, task.timeEnded ?? 0);
  }
  await api.close();
  const span = lastEnd - firstStart;
  console.log(JSON.stringify({
    lib: "pq",
    version: denoJson.version,
    runtime: `deno ${Deno.version.deno}`,
    store: `sqlite (node:sqlite, SQLite ${sqliteVersion})`,
    n: N,
    bulk: BULK,
    concurrency: C,
    succeeded,
    enqueue_bulk_jobs_s: Math.round(N / enqueueSeconds),
    drain_jobs_s: Math.round(N / span),
    drain_seconds: Number(span.toFixed(3)),
  }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
