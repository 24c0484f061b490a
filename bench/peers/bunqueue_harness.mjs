// bunqueue harness for pq's embedded-store comparison: the workload of
// bench/drain_sqlite.ts (`deno task bench:sqlite`), done by bunqueue in its
// embedded mode (the queue inside the process, persisted to one SQLite file
// with Bun's bun:sqlite). Runs on Bun, installed from npm with the peers:
//
//   bench/peers/node_modules/.bin/bun bench/peers/bunqueue_harness.mjs
//   N=2000 C=100 bench/peers/node_modules/.bin/bun bench/peers/bunqueue_harness.mjs
//
// Prints one JSON line on stdout with the same keys as drain_sqlite.ts;
// progress and errors go to stderr. The workload, as drain_sqlite.ts does it
// for pq:
// - One fresh SQLite file in a temporary directory (BUNQUEUE_DATA_PATH).
// - Bulk queueing, timed in this process: N no-op jobs `{ i }` in batches of
//   1000, one `queue.addBulk` call per batch, each awaited. bunqueue buffers
//   its SQLite writes: the span ends when the last call resolves, as for the
//   others; closing the queue (which writes what is buffered) is not timed.
// - Drain, in a second process (as pq's `cli.ts --workers 0` is): one
//   embedded Worker with concurrency C (100). Opening the file loads the
//   waiting jobs (bunqueue's recovery); starting the process and that load
//   are not timed. The handler is an async no-op that returns its input.
//   The span runs from the first job started (the handler entered) to the
//   N-th `completed` event, on `performance.timeOrigin + performance.now()`.
// - After the drain, the worker process counts the distinct jobs completed:
//   `succeeded`.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const version = require("bunqueue/package.json").version;
const QUEUE = "bench";
const JOB = "noop";
const BULK = 1000;
const now = () => performance.timeOrigin + performance.now();

/** The worker process: one embedded Worker until N jobs are done. */
async function workerMain(c, n) {
  const { Worker, shutdownManager } = await import("bunqueue/client");
  let first = 0, last = 0;
  const seen = new Set();
  let allDone;
  const finished = new Promise((res) => (allDone = res));
  const worker = new Worker(
    QUEUE,
    async (job) => {
      if (first === 0) first = now();
      await Promise.resolve();
      return job.data;
    },
    { embedded: true, concurrency: c },
  );
  worker.on("completed", (job) => {
    seen.add(job.data?.i);
    if (seen.size === n) {
      last = now();
      allDone();
    }
  });
  worker.on(
    "failed",
    (job, error) => console.error(`bunqueue job ${job?.id} failed: ${error}`),
  );
  await finished;
  await worker.close();
  await shutdownManager();
  process.stdout.write(JSON.stringify({ first, last, done: seen.size }) + "\n");
  process.exit(0);
}

/** Runs the worker process on the same file; its report. */
async function drain(path, c, n) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), "worker", String(c), String(n)],
    {
      env: { ...process.env, BUNQUEUE_DATA_PATH: path },
      stdio: ["ignore", "pipe", 2],
    },
  );
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  const deadline = Math.max(300_000, n * 10);
  return await new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`drain: not done within ${deadline} ms`));
    }, deadline);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop();
      if (code === 0 && line) res(JSON.parse(line));
      else rej(new Error(`drain: worker exited (${code ?? signal})`));
    });
  });
}

async function driverMain() {
  const N = Number(process.env.N ?? 10_000);
  const C = Number(process.env.C ?? 100);
  for (const [name, v] of [["N", N], ["C", C]]) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new Error(`${name} must be a positive integer: got ${v}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "bunqueue_bench_"));
  const path = join(dir, "bench.sqlite");
  process.env.BUNQUEUE_DATA_PATH = path;
  try {
    const { Queue, shutdownManager } = await import("bunqueue/client");
    const { Database } = await import("bun:sqlite");
    const queue = new Queue(QUEUE, { embedded: true });
    const enqueueStart = now();
    for (let i = 0; i < N; i += BULK) {
      const batch = Array.from(
        { length: Math.min(BULK, N - i) },
        (_, k) => ({ name: JOB, data: { i: i + k } }),
      );
      await queue.addBulk(batch);
    }
    const enqueueSeconds = (now() - enqueueStart) / 1000;
    await queue.close();
    await shutdownManager();
    const db = new Database(path, { readonly: true });
    const sqliteVersion = db.query("SELECT sqlite_version() AS v").get().v;
    db.close();

    const { first, last, done } = await drain(path, C, N);
    const span = (last - first) / 1000;
    process.stdout.write(
      JSON.stringify({
        lib: "bunqueue",
        version,
        runtime: `bun ${Bun.version}`,
        store: `sqlite (embedded, bun:sqlite, SQLite ${sqliteVersion})`,
        n: N,
        bulk: BULK,
        concurrency: C,
        succeeded: done,
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
  await workerMain(Number(process.argv[3]), Number(process.argv[4]));
} else {
  await driverMain();
}
