/**
 * Search with many retained tasks: N finished tasks (default 100,000) of
 * four jobs, a tenth of them failed, each with kwargs holding a word, put in
 * a fresh store through the store's own transitions (queue, claim, finish,
 * in batches of 1000); then each filtered search is timed (median of R
 * runs, first page of 50) and printed as one JSON line per store.
 *
 *   deno task bench:search                 # SQLite and Redis, N=100000
 *   N=20000 R=5 STORES=sqlite deno task bench:search
 *
 * Redis: a private `redis-server` on a free port (as the tests start it).
 */
import { TaskStatus } from "../src/model/status.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Store, TaskQuery } from "../src/store/store.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { startRedis } from "../tests/_redis.ts";

const N = Number(Deno.env.get("N") ?? 100_000);
const R = Number(Deno.env.get("R") ?? 7);
const STORES = (Deno.env.get("STORES") ?? "sqlite,redis").split(",");
const BATCH = 1000;
const JOBS = ["resize", "email", "report", "sync"];

/** The searches timed: a name and a query. */
const SEARCHES: [string, TaskQuery][] = [
  ["newest", {}],
  ["job", { job: "report" }],
  ["status FAILURE", { status: [TaskStatus.FAILURE] }],
  ["job + status", { job: "email", status: [TaskStatus.FAILURE] }],
  ["text (1 in 1000)", { text: "needle" }],
  ["text + job", { text: "needle", job: "sync" }],
  ["text + queue", { text: "needle", queue: "bench" }],
  // Tasks are queued a millisecond apart, ending now: a minute of them.
  ["time range", {
    since: Date.now() / 1000 - 90,
    until: Date.now() / 1000 - 30,
  }],
];

/** Fills a store with N finished tasks through its transitions. */
async function fill(store: Store): Promise<void> {
  const start = Date.now() / 1000 - N / 1000;
  for (let done = 0; done < N; done += BATCH) {
    const records: TaskRecord[] = Array.from(
      { length: Math.min(BATCH, N - done) },
      (_, k) => {
        const i = done + k;
        return {
          id: newTaskId(),
          name: JOBS[i % JOBS.length],
          queue: "bench",
          status: TaskStatus.QUEUED,
          timeQueued: start + i / 1000,
          delay: 0,
          retry: 1,
          kwargs: { i, word: i % 1000 === 7 ? "needle" : `hay${i % 97}` },
          meta: {},
          runInfo: {},
        };
      },
    );
    await store.enqueue(records);
    const claims = await store.claim({
      queues: ["bench"],
      max: records.length,
      worker: "bench",
      node: "bench",
      leaseSeconds: 60,
    });
    await store.finish(claims.map((claim, k) => {
      const failed = (done + k) % 10 === 3;
      return {
        id: claim.id,
        token: claim.token,
        task: {
          ...claim.task!,
          status: failed ? TaskStatus.FAILURE : TaskStatus.SUCCESS,
          result: failed ? "boom" : { ok: done + k },
          timeEnded: Date.now() / 1000,
        },
      };
    }));
  }
}

/** Times each search on a filled store: median and max of R runs, in ms. */
async function timeSearches(store: Store) {
  const out: Record<
    string,
    { median_ms: number; max_ms: number; found: number }
  > = {};
  for (const [name, query] of SEARCHES) {
    const times: number[] = [];
    let found = 0;
    for (let r = 0; r < R; r++) {
      const t0 = performance.now();
      const page = await store.searchTasks(query);
      times.push(performance.now() - t0);
      found = page.tasks.length;
    }
    times.sort((a, b) => a - b);
    out[name] = {
      median_ms: round(times[Math.floor(times.length / 2)]),
      max_ms: round(times.at(-1)!),
      found,
    };
  }
  return out;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Fills a store, times its searches, prints one JSON line. */
async function measure(name: string, store: Store): Promise<void> {
  const t0 = performance.now();
  await fill(store);
  const fillSeconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({
    store: name,
    n: N,
    fill_s: round(fillSeconds),
    searches: await timeSearches(store),
  }));
}

const options = { serializer: "msgpack" as const, resultTtl: 3600 };
const dir = await Deno.makeTempDir({ prefix: "pq_search_" });
try {
  if (STORES.includes("sqlite")) {
    await using store = await SqliteStore.open(`${dir}/search.sqlite`, options);
    await measure("sqlite", store);
  }
  if (STORES.includes("redis")) {
    await using redis = await startRedis();
    await using store = await RedisStore.open(redis.url(), options);
    await measure("redis", store);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
