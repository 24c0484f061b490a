/**
 * Drain throughput on the embedded store: N no-op tasks queued first, then
 * one worker process with C concurrent tasks runs them all. The span is from
 * the first task started to the last one recorded done, read from the
 * tasks' own stored times.
 *
 *   deno task bench            # N=10000 C=100
 *   N=20000 C=50 deno task bench
 */
import { PulsarQueue, type Task } from "../mod.ts";

const N = Number(Deno.env.get("N") ?? 10_000);
const C = Number(Deno.env.get("C") ?? 100);
const dir = await Deno.makeTempDir({ prefix: "pq_bench_" });
const dataStore = `sqlite:${dir}/bench.sqlite`;
const jobs = new URL("./jobs/", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;

try {
  const api = await new PulsarQueue({ taskPaths: [jobs], dataStore }).api()
    .start();
  const enqueueStart = performance.now();
  const queued: Task[] = [];
  for (let i = 0; i < N; i += 1000) {
    const batch = Array.from(
      { length: Math.min(1000, N - i) },
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
    store: "sqlite",
    n: N,
    concurrency: C,
    succeeded,
    enqueue_bulk_jobs_s: Math.round(N / enqueueSeconds),
    drain_jobs_s: Math.round(N / span),
    drain_seconds: Number(span.toFixed(3)),
  }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
