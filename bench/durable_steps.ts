/**
 * What a durable step (`ctx.step`) costs: tasks of a job with 0, 1 and 3
 * steps run through `runTask` as a worker runs them (claimed 100 at a time,
 * each step stored under its lease with `saveStep`, then finished), on the
 * embedded store (a temporary file) and on a private redis-server. Prints a
 * JSON line per store and job, then a Markdown table: wall time per task
 * and, on Redis, commands per task (INFO commandstats). The 0-step job is
 * the baseline: a task that does not use steps pays nothing for them.
 *
 *   deno task bench:steps            # N=2000
 *   N=500 deno task bench:steps
 */
import { job } from "../src/runtime/job_function.ts";
import type { JobBackend, JobClass } from "../src/runtime/job.ts";
import { runTask } from "../src/run/run_task.ts";
import { TaskStatus } from "../src/model/status.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Store } from "../src/store/store.ts";
import { startRedis } from "../tests/_redis.ts";

const N = Number(Deno.env.get("N") ?? 2000);

/** A job of `n` steps, each returning a small object. */
function stepsJob(n: number): JobClass {
  return job({ name: `steps.${n}` }, async (ctx) => {
    for (let i = 0; i < n; i++) {
      await ctx.step(`step:${i}`, () => ({ i, ok: true }));
    }
    return n;
  });
}

const backend = {} as JobBackend;

/** Queues N tasks, runs them (claims of 100, in parallel), finishes them. */
async function drain(store: Store, cls: JobClass, name: string) {
  const now = Date.now() / 1000;
  const records: TaskRecord[] = Array.from({ length: N }, (_, i) => ({
    id: newTaskId(),
    name,
    queue: "bench",
    status: TaskStatus.QUEUED,
    timeQueued: now,
    delay: 0,
    retry: 1,
    kwargs: { i },
    meta: {},
    runInfo: {},
  }));
  for (let at = 0; at < N; at += 1000) {
    await store.enqueue(records.slice(at, at + 1000));
  }
  const started = performance.now();
  for (let done = 0; done < N;) {
    const claims = await store.claim({
      queues: ["bench"],
      max: 100,
      worker: "bench",
      node: "bench",
      leaseSeconds: 60,
    });
    const finishes = await Promise.all(claims.map(async (claim) => {
      const lease = { id: claim.id, token: claim.token };
      const outcome = await runTask(claim.task!, cls, {
        backend,
        now: () => Date.now() / 1000,
        saveStep: (step) => store.saveStep(lease, step),
      });
      if (outcome.task.status !== TaskStatus.SUCCESS) {
        throw new Error(`${claim.id}: ${outcome.task.result}`);
      }
      return { ...lease, task: outcome.task };
    }));
    const written = await store.finish(finishes);
    if (written.some((ok) => !ok)) throw new Error("a lease was lost");
    done += claims.length;
  }
  return (performance.now() - started) / N;
}

/** Redis commands so far, by INFO commandstats. */
async function commandCount(cli: (...args: string[]) => Promise<string>) {
  const out = await cli("INFO", "commandstats");
  let calls = 0;
  for (const m of out.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) {
    if (m[1] !== "info") calls += Number(m[2]);
  }
  return calls;
}

const rows: string[][] = [];
const r2 = (x: number) => Math.round(x * 100) / 100;

{
  const dir = await Deno.makeTempDir({ prefix: "pq_bench_steps_" });
  try {
    for (const n of [0, 1, 3]) {
      await using store = await SqliteStore.open(`${dir}/steps${n}.sqlite`, {
        serializer: "json",
        resultTtl: 3600,
      });
      const ms = await drain(store, stepsJob(n), `steps.${n}`);
      console.log(
        JSON.stringify({
          store: "sqlite",
          steps: n,
          n: N,
          ms_per_task: r2(ms),
        }),
      );
      rows.push(["SQLite", String(n), r2(ms * 1000).toFixed(0), "—"]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

{
  await using redis = await startRedis();
  for (const n of [0, 1, 3]) {
    await redis.cli("FLUSHALL");
    await using store = await RedisStore.open(redis.url(), {
      serializer: "json",
      resultTtl: 3600,
    });
    const before = await commandCount(redis.cli);
    const ms = await drain(store, stepsJob(n), `steps.${n}`);
    // Queueing, claims, steps and finishes: rows differ by the steps alone.
    const commands = (await commandCount(redis.cli) - before) / N;
    console.log(JSON.stringify({
      store: "redis",
      steps: n,
      n: N,
      ms_per_task: r2(ms),
      commands_per_task: r2(commands),
    }));
    rows.push([
      "Redis",
      String(n),
      r2(ms * 1000).toFixed(0),
      r2(commands).toFixed(2),
    ]);
  }
}

console.log(`\nN = ${N} tasks per row, claimed 100 at a time\n`);
console.log(
  "| store | steps per task | µs per task (wall) | Redis commands per task |",
);
console.log(
  "| ----- | -------------: | -----------------: | ----------------------: |",
);
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
