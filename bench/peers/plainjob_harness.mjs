// plainjob harness for pq's embedded-store comparison: the workload of
// bench/drain_sqlite.ts (`deno task bench:sqlite`), done by plainjob, a
// SQLite job queue for Node on better-sqlite3. Prints one JSON line on stdout
// with the same keys as drain_sqlite.ts; progress and errors go to stderr.
//
//   node bench/peers/plainjob_harness.mjs            # N=10000 W=10
//   N=2000 W=10 node bench/peers/plainjob_harness.mjs
//
// The workload, as drain_sqlite.ts does it for pq:
// - One fresh SQLite file in a temporary directory (plainjob's own settings:
//   WAL, synchronous NORMAL, busy_timeout 5000; pq uses the same three).
// - Bulk queueing, timed in this process: N no-op jobs `{ i }` in batches of
//   1000, one `queue.addMany` call per batch (one transaction each). The
//   span covers building each batch and the call, as in drain_sqlite.ts.
// - Drain, in a second process (as pq's `cli.ts --workers 0` is): W plainjob
//   workers (`defineWorker`, each one job at a time: claim one row, run,
//   mark it done) in that one process, so W jobs run at once, as pq's C
//   concurrent tasks. The handler is an async
//   no-op that returns its input. The span runs from the first job started
//   (the handler entered) to the N-th job recorded done (plainjob's
//   `onCompleted`, called after the row is marked done), on the shared clock
//   `performance.timeOrigin + performance.now()`. Starting the process is
//   not timed (pq's span starts at the first task's stored `timeStarted`).
// - Logging at warning level (debug and info dropped), as pq's worker runs
//   with `--log-level warning`.
// - After the drain, this process counts the jobs marked done: `succeeded`.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

// Loaded through require.resolve so that `deno check bench/` does not try to
// resolve the npm packages from Deno's module graph (see common.mjs).
const require = createRequire(import.meta.url);
const Database = require("better-sqlite3");
const { better, defineQueue, defineWorker, JobStatus } = await import(
  pathToFileURL(require.resolve("plainjob")).href
);
const version = require("plainjob/package.json").version;
const betterVersion = require("better-sqlite3/package.json").version;

const JOB = "noop";
const BULK = 1000;
const now = () => performance.timeOrigin + performance.now();
const quiet = {
  error: (...a) => console.error(...a),
  warn: (...a) => console.error(...a),
  info() {},
  debug() {},
};

function openQueue(path) {
  const db = new Database(path);
  const queue = defineQueue({ connection: better(db), logger: quiet });
  return { db, queue };
}

/** The worker process: W plainjob workers until N jobs are done. */
async function workerMain(path, w, n) {
  process.on("disconnect", () => process.exit(3)); // parent died
  const { queue } = openQueue(path);
  let first = 0, last = 0, done = 0;
  let allDone;
  const finished = new Promise((res) => (allDone = res));
  const workers = Array.from({ length: w }, () =>
    defineWorker(
      JOB,
      async (job) => {
        if (first === 0) first = now();
        const data = JSON.parse(job.data);
        await Promise.resolve();
        return data;
      },
      {
        queue,
        logger: quiet,
        onCompleted: () => {
          last = now();
          if (++done === n) allDone();
        },
        onFailed: (job, error) =>
          console.error(`plainjob job ${job.id} failed: ${error}`),
      },
    ));
  const running = workers.map((worker) => worker.start());
  await finished;
  await Promise.all(workers.map((worker) => worker.stop()));
  await Promise.all(running);
  queue.close();
  process.send({ first, last, done }, () => process.exit(0));
}

async function drain(path, w, n) {
  const child = fork(fileURLToPath(import.meta.url), [
    "worker",
    path,
    String(w),
    String(n),
  ], { stdio: ["ignore", 2, 2, "ipc"] });
  const deadline = Math.max(300_000, n * 10);
  return await new Promise((res, rej) => {
    let report;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`drain: not done within ${deadline} ms`));
    }, deadline);
    child.on("message", (m) => (report = m));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (report && code === 0) res(report);
      else rej(new Error(`drain: worker exited (${code ?? signal})`));
    });
  });
}

async function driverMain() {
  const N = Number(process.env.N ?? 10_000);
  const W = Number(process.env.W ?? 10);
  for (const [name, v] of [["N", N], ["W", W]]) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new Error(`${name} must be a positive integer: got ${v}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "plainjob_bench_"));
  const path = join(dir, "bench.sqlite");
  try {
    const { db, queue } = openQueue(path);
    const sqliteVersion = db.prepare("SELECT sqlite_version() AS v").get().v;
    const enqueueStart = now();
    for (let i = 0; i < N; i += BULK) {
      const batch = Array.from(
        { length: Math.min(BULK, N - i) },
        (_, k) => ({ i: i + k }),
      );
      queue.addMany(JOB, batch);
    }
    const enqueueSeconds = (now() - enqueueStart) / 1000;
    const queued = queue.countJobs({ type: JOB, status: JobStatus.Pending });
    if (queued !== N) throw new Error(`${queued} jobs queued, expected ${N}`);

    const { first, last, done } = await drain(path, W, N);
    const succeeded = queue.countJobs({ type: JOB, status: JobStatus.Done });
    queue.close();
    const span = (last - first) / 1000;
    process.stdout.write(
      JSON.stringify({
        lib: "plainjob",
        version,
        runtime: `node ${process.version}`,
        store:
          `sqlite (better-sqlite3 ${betterVersion}, SQLite ${sqliteVersion})`,
        n: N,
        bulk: BULK,
        concurrency: W,
        succeeded,
        completions_seen: done,
        enqueue_bulk_jobs_s: Math.round(N / enqueueSeconds),
        drain_jobs_s: Math.round(N / span),
        drain_seconds: Number(span.toFixed(3)),
      }) + "\n",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "worker") {
  await workerMain(
    process.argv[3],
    Number(process.argv[4]),
    Number(process.argv[5]),
  );
} else {
  await driverMain();
}
