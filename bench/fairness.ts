/**
 * Fair queues, measured (docs/fair_queues.md): tenant A queues 10,000
 * tasks first, then tenant B queues 100, in one queue, drained by one
 * worker process (C concurrent tasks), each task waiting MS milliseconds
 * (0: a no-op; `bench/jobs/fair_work.ts`). Two scenarios:
 *
 * - **cold**: both tenants queued, then the worker started; times counted
 *   from the first task started (the worker's first, slower, claims
 *   included).
 * - **live**: the worker runs already (one task done to warm it), A's
 *   backlog is queued and draining, then B queues; times counted from
 *   when B's tasks were queued.
 *
 * Reported, from the tasks' own stored times: when B's last task finished,
 * the bound `2 × (100 / total rate)` seconds (the total rate is all tasks
 * over the whole drain), and the whole drain. With groups (each tenant a
 * `group`) and without, on SQLite and on Redis (a private redis-server).
 * Prints a JSON line per run, then a Markdown table.
 *
 *   deno task bench:fairness                 # A=10000 B=100 C=50 MS=5
 *   A=2000 B=50 MS=0 deno task bench:fairness
 *   STORES=sqlite deno task bench:fairness   # sqlite, redis or both
 *   SCENARIOS=live deno task bench:fairness  # cold, live or both
 */
import { PulsarQueue, type Task } from "../mod.ts";
import { startRedis } from "../tests/_redis.ts";

const A = Number(Deno.env.get("A") ?? 10_000);
const B = Number(Deno.env.get("B") ?? 100);
const C = Number(Deno.env.get("C") ?? 50);
const MS = Number(Deno.env.get("MS") ?? 5);
const STORES = (Deno.env.get("STORES") ?? "sqlite,redis").split(",");
const SCENARIOS = (Deno.env.get("SCENARIOS") ?? "cold,live").split(",");
const BULK = 1000;
const jobs = new URL("./jobs/", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;

/** One run's figures, in seconds from the first task started (cold) or from B's queueing (live). */
interface Figures {
  scenario: string;
  store: string;
  groups: boolean;
  a: number;
  b: number;
  concurrency: number;
  ms: number;
  b_last_s: number;
  /** When B's first and last tasks started (where B's time goes). */
  b_first_start_s: number;
  b_last_start_s: number;
  bound_s: number;
  drain_s: number;
  rate_tasks_s: number;
  /** B's tasks among the first 2 × B started: B / (2 × B) is a fair half. */
  b_in_first: number;
}

/** Queues `count` tasks of `tenant` (its group, with groups), 1000 a call. */
async function queueTenant(
  api: Awaited<ReturnType<PulsarQueue["api"]>>,
  tenant: string,
  count: number,
  groups: boolean,
): Promise<Task[]> {
  const queued: Task[] = [];
  for (let i = 0; i < count; i += BULK) {
    const batch = Array.from(
      { length: Math.min(BULK, count - i) },
      () => ({ tenant, ms: MS }),
    );
    queued.push(
      ...await api.tasks.queueMany("fair.work", batch, {
        queue: "fair",
        ...(groups ? { group: tenant } : {}),
      }),
    );
  }
  return queued;
}

/** Starts one worker process on the queue `fair`. */
function startWorker(dataStore: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
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
      "fair",
      "--log-level",
      "warning",
    ],
    stdin: "null",
  }).spawn();
}

/** Queues both tenants, drains them with one worker, reads the times. */
async function run(
  scenario: string,
  store: string,
  dataStore: string,
  groups: boolean,
): Promise<Figures> {
  const api = await new PulsarQueue({ taskPaths: [jobs], dataStore }).api()
    .start();
  let worker: Deno.ChildProcess | undefined;
  try {
    if (scenario === "live") {
      worker = startWorker(dataStore);
      const [warm] = await queueTenant(api, "warm", 1, false);
      await warm.doneCallback;
    }
    const first = await queueTenant(api, "A", A, groups);
    const bQueued = Date.now() / 1000;
    const second = await queueTenant(api, "B", B, groups);
    worker ??= startWorker(dataStore);
    const doneA = await Promise.all(first.map((task) => task.doneCallback!));
    const doneB = await Promise.all(second.map((task) => task.doneCallback!));
    const all = [...doneA, ...doneB];
    const failed = all.filter((task) => task.statusString !== "SUCCESS");
    if (failed.length) {
      throw new Error(`${failed.length} tasks did not succeed`);
    }
    const firstStart = Math.min(...all.map((task) => task.timeStarted!));
    const start = scenario === "live" ? bQueued : firstStart;
    const end = (tasks: readonly Task[]) =>
      Math.max(...tasks.map((task) => task.timeEnded!)) - start;
    // The whole drain, from the first start whatever the scenario.
    const drain = end(all) + start - firstStart;
    const rate = all.length / drain;
    const first2B = [...all].sort((x, y) => x.timeStarted! - y.timeStarted!)
      .slice(0, 2 * B);
    const bInFirst = first2B.filter((task) => task.kwargs.tenant === "B")
      .length;
    return {
      scenario,
      store,
      groups,
      a: A,
      b: B,
      concurrency: C,
      ms: MS,
      b_last_s: round(end(doneB)),
      b_first_start_s: round(
        Math.min(...doneB.map((task) => task.timeStarted!)) - start,
      ),
      b_last_start_s: round(
        Math.max(...doneB.map((task) => task.timeStarted!)) - start,
      ),
      bound_s: round(2 * B / rate),
      drain_s: round(drain),
      rate_tasks_s: Math.round(rate),
      b_in_first: bInFirst,
    };
  } finally {
    if (worker) {
      worker.kill("SIGTERM");
      await worker.status;
    }
    await api.close();
  }
}

/** Three decimals. */
function round(seconds: number): number {
  return Number(seconds.toFixed(3));
}

const results: Figures[] = [];
const dir = await Deno.makeTempDir({ prefix: "pq_fair_" });
const redis = await startRedis();
try {
  for (const scenario of SCENARIOS) {
    for (const groups of [true, false]) {
      for (const store of STORES) {
        const name = `${scenario}_${groups ? "g" : "n"}`;
        const figures = await run(
          scenario,
          store,
          store === "sqlite"
            ? `sqlite:${dir}/fair_${name}.sqlite`
            : redis.url(`fair_${name}`),
          groups,
        );
        console.log(JSON.stringify(figures));
        results.push(figures);
      }
    }
  }
} finally {
  await redis.stop();
  await Deno.remove(dir, { recursive: true });
}

console.log(
  `\nA = ${A} tasks queued first, then B = ${B}; one worker, C = ${C}; tasks of ${MS} ms; seconds from the first start (cold) or from B's queueing (live)\n`,
);
console.log(
  `| scenario | store | groups | B's last task done | bound 2 × (B / rate) | whole drain | rate (tasks/s) | B's among the first ${
    2 * B
  } started |`,
);
console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  console.log(
    `| ${r.scenario} | ${r.store} | ${
      r.groups ? "yes" : "no"
    } | ${r.b_last_s} | ${r.bound_s} | ${r.drain_s} | ${r.rate_tasks_s} | ${r.b_in_first} |`,
  );
}
