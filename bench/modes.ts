/**
 * The cost of each execution mode: N no-op tasks per mode (ASYNC_IO on the
 * event loop, THREAD_IO in Web Workers, CPUBOUND in subprocesses) drained by
 * one worker process with C concurrent tasks on the embedded store. The span
 * is from the first task started to the last one done (their stored times).
 *
 *   deno task bench:modes            # N=1000 C=10, threadWorkers 5
 *   N=200 C=4 deno task bench:modes
 */
import { PulsarQueue } from "../mod.ts";

const N = Number(Deno.env.get("N") ?? 1000);
const C = Number(Deno.env.get("C") ?? 10);
const MODES = [
  ["ASYNC_IO", "noop"],
  ["THREAD_IO", "noop.thread"],
  ["CPUBOUND", "noop.process"],
] as const;
const dir = await Deno.makeTempDir({ prefix: "pq_bench_modes_" });
const dataStore = `sqlite:${dir}/bench.sqlite`;
const jobs = new URL("./jobs/", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;

try {
  await using api = await new PulsarQueue({ taskPaths: [jobs], dataStore })
    .api().start();
  for (const [mode, name] of MODES) {
    const queue = `bench-${name}`;
    const kwargs = Array.from({ length: N }, (_, i) => ({ i }));
    const queued = await api.tasks.queueMany(name, kwargs, { queue });
    const worker = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        ...["--workers", "0", "--concurrent-tasks", String(C)],
        ...["--thread-workers", "5", "--task-paths", jobs],
        ...["--data-store", dataStore, "--task-queues", queue],
        ...["--log-level", "warning"],
      ],
      stdin: "null",
    }).spawn();
    const done = await Promise.all(queued.map((task) => task.doneCallback!));
    worker.kill("SIGTERM");
    await worker.status;
    const succeeded = done.filter((t) => t.statusString === "SUCCESS").length;
    const first = Math.min(...done.map((t) => t.timeStarted ?? Infinity));
    const last = Math.max(...done.map((t) => t.timeEnded ?? 0));
    const span = last - first;
    console.log(JSON.stringify({
      mode,
      job: name,
      n: N,
      concurrency: C,
      succeeded,
      tasks_s: Math.round(N / span),
      ms_per_task: Number((span * 1000 / N).toFixed(2)),
    }));
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
