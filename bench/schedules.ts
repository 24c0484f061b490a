/**
 * Schedules managed at run time, measured on SQLite and on Redis:
 *
 * - **lateness**: a scheduler leader running (its real loop), one schedule
 *   every second upserted while it runs; how late after its due time each
 *   run is queued (`timeQueued - meta.scheduledAt`), and how long after the
 *   upsert its first run is queued (the wake-up on channel `schedules`:
 *   the first due time is the next whole second).
 * - **a pass**: S schedules (default 1000) in the store; the time of one
 *   pass of the leader with nothing due (the read of every schedule), and
 *   of one pass that queues a run of each (a run queued and taken apiece).
 *   On Redis, the commands of each pass (INFO commandstats).
 *
 *   deno task bench:schedules                 # SQLite and Redis, S=1000, R=10
 *   S=200 R=5 STORES=redis deno task bench:schedules
 *
 * Prints one JSON line per store, then a Markdown table. Redis: a private
 * `redis-server` on a free port (as the tests start it).
 */
import { job, JobRegistry } from "../mod.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { Producer } from "../src/producer/producer.ts";
import { RuntimeSchedules } from "../src/server/runtime_schedules.ts";
import { Scheduler } from "../src/server/scheduler.ts";
import { openStore } from "../src/store/open_store.ts";
import type { Store } from "../src/store/store.ts";
import { startRedis } from "../tests/_redis.ts";

const S = Number(Deno.env.get("S") ?? 1000);
const R = Number(Deno.env.get("R") ?? 10);
const STORES = (Deno.env.get("STORES") ?? "sqlite,redis").split(",");

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** A producer on `url` with a no-op job, and its store, on `now`. */
async function open(url: string, now?: () => number) {
  const store: Store = await openStore(url, {
    serializer: "json",
    resultTtl: 3600,
    ...(now && { now }),
  });
  const registry = new JobRegistry();
  registry.add(job({ name: "noop" }, () => null));
  const producer = new Producer({
    settings: () => Promise.resolve(defaultSettings()),
    registry,
    store,
  });
  await producer.start();
  return { store, producer, registry };
}

/** Runs the leader's loop; measures how late each run of a 1 s schedule is. */
async function lateness(url: string) {
  const { store, producer, registry } = await open(url);
  const stop = new AbortController();
  const scheduler = new Scheduler({
    store,
    registry,
    producer,
    leaseSeconds: 10,
    schedules: store,
  });
  const running = scheduler.run(stop.signal);
  while (!scheduler.leader) await new Promise((r) => setTimeout(r, 10));
  const upserted = Date.now() / 1000;
  await producer.schedules.upsert({ id: "tick", job: "noop", every: 1 });
  const late: number[] = [];
  let first = NaN;
  const seen = new Set<string>();
  while (late.length < R) {
    await new Promise((r) => setTimeout(r, 50));
    const { tasks } = await store.searchTasks({ limit: 100 });
    for (const task of tasks) {
      if (seen.has(task.id) || task.meta.schedule !== "tick") continue;
      seen.add(task.id);
      const due = task.meta.scheduledAt as number;
      late.push((task.timeQueued - due) * 1000);
      if (Number.isNaN(first)) first = (task.timeQueued - upserted) * 1000;
    }
  }
  stop.abort();
  await running;
  await producer.close();
  await store.close();
  return {
    late_ms_median: round(median(late)),
    late_ms_max: round(Math.max(...late)),
    first_run_after_upsert_ms: round(first),
  };
}

/** Redis's total calls so far (INFO commandstats), or NaN on SQLite. */
async function redisCalls(redis?: { cli(...args: string[]): Promise<string> }) {
  if (!redis) return NaN;
  const info = await redis.cli("INFO", "commandstats");
  let calls = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

/** The time (and Redis commands) of a pass over S schedules. */
async function passes(
  url: string,
  redis?: { cli(...args: string[]): Promise<string> },
) {
  let time = 1_800_000_000; // a whole minute
  const now = () => time;
  const { store, producer } = await open(url, now);
  for (let i = 0; i < S; i++) {
    await producer.schedules.upsert({
      id: `s${i}`,
      job: "noop",
      every: 60,
      kwargs: { i },
    });
  }
  const leader = new RuntimeSchedules({
    store,
    producer,
    owner: "bench",
    window: 20,
  });
  const idle: number[] = [];
  const due: number[] = [];
  let idleCalls = NaN;
  let dueCalls = NaN;
  for (let r = 0; r < R; r++) {
    time += 30; // nothing due
    let calls = await redisCalls(redis);
    let start = performance.now();
    const none = await leader.queueDue(time);
    idle.push(performance.now() - start);
    idleCalls = (await redisCalls(redis)) - calls - 1; // less the INFO
    if (none.length !== 0) throw new Error(`queued ${none.length} when idle`);
    time += 30; // every schedule due
    calls = await redisCalls(redis);
    start = performance.now();
    const queued = await leader.queueDue(time);
    due.push(performance.now() - start);
    dueCalls = (await redisCalls(redis)) - calls - 1;
    if (queued.length !== S) throw new Error(`queued ${queued.length} of ${S}`);
  }
  await producer.close();
  await store.close();
  return {
    schedules: S,
    idle_pass_ms: round(median(idle)),
    due_pass_ms: round(median(due)),
    due_runs_per_s: Math.round(S / (median(due) / 1000)),
    ...(redis && {
      idle_pass_commands: idleCalls,
      due_pass_commands_per_run: round(dueCalls / S, 2),
    }),
  };
}

const rows: Record<string, unknown>[] = [];
for (const name of STORES) {
  if (name === "sqlite") {
    const dir = await Deno.makeTempDir({ prefix: "pq_bench_schedules_" });
    try {
      const row = {
        store: "sqlite",
        ...await lateness(`sqlite:${dir}/a.sqlite`),
        ...await passes(`sqlite:${dir}/b.sqlite`),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } else if (name === "redis") {
    await using redis = await startRedis();
    const row = {
      store: "redis",
      ...await lateness(redis.url("benchlate")),
      ...await passes(redis.url("benchpass"), redis),
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  } else throw new Error(`Unknown store '${name}': sqlite or redis`);
}

const columns = [
  "store",
  "late_ms_median",
  "late_ms_max",
  "first_run_after_upsert_ms",
  "schedules",
  "idle_pass_ms",
  "due_pass_ms",
  "due_runs_per_s",
  "idle_pass_commands",
  "due_pass_commands_per_run",
];
console.log(`\n| ${columns.join(" | ")} |`);
console.log(`| ${columns.map(() => "---").join(" | ")} |`);
for (const row of rows) {
  console.log(`| ${columns.map((c) => String(row[c] ?? "—")).join(" | ")} |`);
}
