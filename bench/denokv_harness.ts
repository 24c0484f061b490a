/**
 * Deno KV queues harness for pq's embedded-store comparison: the workload of
 * bench/drain_sqlite.ts (`deno task bench:sqlite`), done by Deno's own
 * queue (`kv.enqueue` / `kv.listenQueue`) on a local KV file (SQLite).
 * Needs `--unstable-kv`; prints one JSON line with the same keys as
 * drain_sqlite.ts, progress and errors on stderr.
 *
 *   deno run -A --unstable-kv bench/denokv_harness.ts        # N=10000
 *
 * The workload, as drain_sqlite.ts does it for pq:
 * - One fresh KV file in a temporary directory (`Deno.openKv(<file>)`).
 * - Bulk queueing, timed in this process: N messages `{ i }` in batches of
 *   1000, each batch one atomic commit of 1000 `enqueue`s, awaited.
 * - Drain, in a second process (as pq's `cli.ts --workers 0` is):
 *   `kv.listenQueue` with an async no-op handler (Deno's local queue runs up
 *   to 100 messages at once; there is no concurrency setting). The span runs
 *   from the first message started (the handler entered) to the N-th
 *   handler returned, on `performance.timeOrigin + performance.now()`; a
 *   message is deleted from the queue when its handler has returned.
 *   Starting the process is not timed.
 * - `succeeded`: the distinct messages whose handler returned.
 */

const N = Number(Deno.env.get("N") ?? 10_000);
const BULK = 1000;
const now = () => performance.timeOrigin + performance.now();

/** The worker process: listens until N distinct messages are done. */
async function workerMain(path: string, n: number): Promise<void> {
  const kv = await Deno.openKv(path);
  let first = 0, last = 0;
  const seen = new Set<number>();
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => allDone = resolve);
  const listening = kv.listenQueue(async (message: { i: number }) => {
    if (first === 0) first = now();
    await Promise.resolve();
    seen.add(message.i);
    if (seen.size === n && last === 0) {
      last = now();
      allDone();
    }
  });
  await finished;
  // Let the last handlers' deletions commit before closing.
  await new Promise((resolve) => setTimeout(resolve, 100));
  kv.close();
  await listening.catch(() => {});
  console.log(JSON.stringify({ first, last, done: seen.size }));
}

async function driverMain(): Promise<void> {
  if (!Number.isInteger(N) || N <= 0) {
    throw new Error(`N must be a positive integer: got ${N}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "denokv_bench_" });
  const path = `${dir}/bench.kv`;
  try {
    const kv = await Deno.openKv(path);
    const enqueueStart = now();
    for (let i = 0; i < N; i += BULK) {
      const atomic = kv.atomic();
      for (let k = i; k < Math.min(i + BULK, N); k++) atomic.enqueue({ i: k });
      const result = await atomic.commit();
      if (!result.ok) throw new Error(`batch at ${i} was not committed`);
    }
    const enqueueSeconds = (now() - enqueueStart) / 1000;
    kv.close();

    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        new URL(import.meta.url).pathname,
        "worker",
        path,
        String(N),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop();
    if (!out.success || !line) {
      throw new Error(`drain: worker exited (${out.code})`);
    }
    const { first, last, done } = JSON.parse(line) as {
      first: number;
      last: number;
      done: number;
    };
    const span = (last - first) / 1000;
    console.log(JSON.stringify({
      lib: "Deno KV",
      version: `deno ${Deno.version.deno}`,
      runtime: `deno ${Deno.version.deno}`,
      store: "sqlite (Deno KV local file)",
      n: N,
      bulk: BULK,
      concurrency: 100,
      succeeded: done,
      enqueue_bulk_jobs_s: Math.round(N / enqueueSeconds),
      drain_jobs_s: Math.round(N / span),
      drain_seconds: Number(span.toFixed(3)),
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (Deno.args[0] === "worker") {
  await workerMain(Deno.args[1], Number(Deno.args[2]));
} else {
  await driverMain();
}
