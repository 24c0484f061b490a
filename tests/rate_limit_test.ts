/**
 * Rate limits: a job's `rateLimit` allows at most `tasks` starts in any
 * `per` seconds, counted by the store at the claim, per queue and per rate
 * limit key. Tasks over it are parked until their slot opens (in order, with
 * their priority), neither failed nor spun on. At the store (SQLite, Redis,
 * a Redis Cluster node), at the boundary, and measured with 4 worker
 * processes: 10 a second over 10 s.
 */
import assert from "node:assert/strict";
import { delay } from "./_helpers.ts";
import { job, type JobOptions } from "../mod.ts";
import { JobRegistry } from "../src/runtime/registry.ts";
import { newTaskRecord } from "../src/model/queue_options.ts";
import { TaskStatus } from "../src/model/status.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Claim, Store } from "../src/store/store.ts";
import type { TaskRecord } from "../src/model/task.ts";
import {
  claimRequest,
  featureStores,
  labelledRecord,
  labels,
  type ManualClock,
  redisOpener,
  storeTests,
} from "./_contract_stores.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  runPq,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const { redis, stores: STORES } = await featureStores();

const storeTest = storeTests("rate limit", STORES, 60);

const FIXTURE_JOBS = new URL("./fixtures/rate_limited_jobs.ts", import.meta.url)
  .pathname;

/** A queued record of a job limited to `tasks` starts in `per` seconds. */
function limited(
  clock: { t: number },
  label: string,
  limit: { tasks: number; per: number },
  extra: { key?: string; priority?: number } = {},
): TaskRecord {
  const meta: Record<string, unknown> = { rateLimit: limit };
  if (extra.key !== undefined) meta.rateLimitKey = extra.key;
  if (extra.priority !== undefined) meta.priority = extra.priority;
  return labelledRecord(clock, label, { name: "limited", meta });
}

const request = claimRequest;

/** Queues `tasks` one at a time, each a moment after the last. */
async function queueInOrder(
  store: Store,
  clock: ManualClock,
  tasks: TaskRecord[],
): Promise<void> {
  for (const task of tasks) {
    await store.enqueue([{ ...task, timeQueued: clock.t }]);
    clock.advance(0.001);
  }
}

storeTest(
  "at most `tasks` start in a window; the others wait, parked in order until their slot",
  async ({ clock, store }) => {
    const limit = { tasks: 10, per: 1 };
    const names = Array.from({ length: 25 }, (_, i) => `t${i}`);
    await queueInOrder(
      store,
      clock,
      names.map((n) => limited(clock, n, limit)),
    );
    assert.deepEqual(labels(await store.claim(request())), names.slice(0, 10));
    // The others are parked: delayed, not ready, not failed.
    const [stats] = await store.queueStats(["default"]);
    assert.deepEqual([stats.ready, stats.delayed], [0, 15]);
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(0.5);
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(0.5);
    assert.deepEqual(labels(await store.claim(request())), names.slice(10, 20));
    clock.advance(0.999);
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(0.001);
    assert.deepEqual(labels(await store.claim(request())), names.slice(20));
  },
);

storeTest(
  "a task without a limit is not held back by limited ones ahead of it",
  async ({ clock, store }) => {
    const limit = { tasks: 1, per: 60 };
    await queueInOrder(store, clock, [
      limited(clock, "a", limit),
      limited(clock, "b", limit),
      limited(clock, "c", limit),
      { ...limited(clock, "free", limit), meta: {} },
    ]);
    assert.deepEqual(labels(await store.claim(request({ max: 2 }))), [
      "a",
      "free",
    ]);
  },
);

storeTest(
  "each rate limit key has its own window",
  async ({ clock, store }) => {
    const limit = { tasks: 2, per: 1 };
    await queueInOrder(store, clock, [
      limited(clock, "a1", limit, { key: "customer-a" }),
      limited(clock, "a2", limit, { key: "customer-a" }),
      limited(clock, "a3", limit, { key: "customer-a" }),
      limited(clock, "b1", limit, { key: "customer-b" }),
      limited(clock, "b2", limit, { key: "customer-b" }),
      limited(clock, "b3", limit, { key: "customer-b" }),
      limited(clock, "n1", limit),
    ]);
    assert.deepEqual(labels(await store.claim(request())), [
      "a1",
      "a2",
      "b1",
      "b2",
      "n1",
    ]);
    clock.advance(1);
    assert.deepEqual(labels(await store.claim(request())), ["a3", "b3"]);
  },
);

storeTest(
  "a rate-limited task keeps its priority, parked or not",
  async ({ clock, store }) => {
    const limit = { tasks: 2, per: 1 };
    await queueInOrder(store, clock, [
      limited(clock, "low1", limit),
      limited(clock, "low2", limit),
      limited(clock, "high1", limit, { priority: 5 }),
      limited(clock, "high2", limit, { priority: 5 }),
      limited(clock, "high3", limit, { priority: 5 }),
    ]);
    assert.deepEqual(labels(await store.claim(request())), ["high1", "high2"]);
    // Queued while the window is full, above the parked ones.
    await store.enqueue([limited(clock, "top", limit, { priority: 9 })]);
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(1);
    assert.deepEqual(labels(await store.claim(request())), ["top", "high3"]);
    clock.advance(1);
    assert.deepEqual(labels(await store.claim(request())), ["low1", "low2"]);
  },
);

storeTest(
  "a released or redelivered task counts again when it starts again",
  async ({ clock, store }) => {
    const limit = { tasks: 1, per: 10 };
    await store.enqueue([limited(clock, "once", limit)]);
    const [claim] = await store.claim(request());
    await store.release([claim]);
    // Its first start is in the window: it waits for the next slot.
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(10);
    assert.deepEqual(labels(await store.claim(request())), ["once"]);
  },
);

/**
 * A worker's loop until it has a task: claim, else wait (up to 5 s) for the
 * store to say one may be due. The tasks, the claims it sent, and the ms.
 */
async function claimLikeAWorker(
  store: Store,
): Promise<{ claims: Claim[]; rounds: number; ms: number }> {
  const asking = request({ max: 2, waitSeconds: 5 });
  const started = Date.now();
  for (let rounds = 1;; rounds++) {
    const claims = await store.claim(asking);
    const handed = claims.length ? claims : await store.waitForTasks(
      asking.queues,
      5,
    );
    if (handed.length) {
      return { claims: handed, rounds, ms: Date.now() - started };
    }
  }
}

for (const [name, open] of STORES) {
  Deno.test(`rate limit (${name}): a worker waits for the next slot, with no busy loop, queued before or while it waits`, async () => {
    const store = await open({ serializer: "json", resultTtl: 60 });
    const producer = await open({
      serializer: "json",
      resultTtl: 60,
      sameAs: store,
    });
    try {
      const limit = { tasks: 1, per: 0.5 };
      const now = () => ({ t: Date.now() / 1000 });
      await producer.enqueue([limited(now(), "a", limit)]);
      await producer.enqueue([limited(now(), "b", limit)]);
      assert.deepEqual(labels(await store.claim(request())), ["a"]);
      let got = await claimLikeAWorker(store);
      assert.deepEqual(labels(got.claims), ["b"]);
      assert.ok(got.ms >= 300 && got.ms < 4000, `waited ${got.ms} ms`);
      assert.ok(got.rounds <= 3, `${got.rounds} claims`);
      // Queued while the worker waits (on Redis, handed over to it, and
      // parked by its limit there).
      const waiting = claimLikeAWorker(store);
      await delay(50);
      await producer.enqueue([limited(now(), "c", limit)]);
      got = await waiting;
      assert.deepEqual(labels(got.claims), ["c"]);
      assert.ok(got.ms >= 300 && got.ms < 4000, `waited ${got.ms} ms`);
      assert.ok(got.rounds <= 4, `${got.rounds} claims`);
    } finally {
      await store.close();
      await producer.close();
    }
  });
}

Deno.test("rate limit: bad options are refused, naming the option and the value", () => {
  const define = (options: JobOptions) =>
    job({ name: "limited.bad", ...options }, () => 0);
  for (
    const [bad, shown] of [
      [{ tasks: 0, per: 1 }, "tasks 0"],
      [{ tasks: 1.5, per: 1 }, "tasks 1.5"],
      [{ tasks: 10, per: 0 }, "per 0"],
      [{ tasks: 10, per: -1 }, "per -1"],
      [{ tasks: 10 }, "per undefined"],
    ] as const
  ) {
    assert.throws(
      () => define({ rateLimit: bad as { tasks: number; per: number } }),
      (error: Error) =>
        error instanceof TypeError &&
        error.message.startsWith(
          "Invalid option 'rateLimit' of job 'limited.bad': expected { tasks, per }",
        ) && error.message.includes(`not ${shown}`),
    );
  }
  assert.throws(
    () =>
      define({ rateLimit: 10 as unknown as { tasks: number; per: number } }),
    /Invalid option 'rateLimit' of job 'limited.bad': .*not 10/,
  );
  assert.throws(
    () => define({ rateLimitKey: () => "k" }),
    /Invalid option 'rateLimitKey' of job 'limited.bad': expected no rateLimitKey without a rateLimit/,
  );
  const keyed = define({
    rateLimit: { tasks: 1, per: 1 },
    rateLimitKey: (kwargs) => kwargs.customer as string,
  });
  const registry = new JobRegistry();
  registry.add(keyed);
  const make = (kwargs: Record<string, unknown>, options = {}) =>
    newTaskRecord(
      "limited.bad",
      kwargs,
      options,
      registry.get("limited.bad")!,
      "default",
    );
  assert.deepEqual(make({ customer: "c-1" }).meta, {
    rateLimit: { tasks: 1, per: 1 },
    rateLimitKey: "c-1",
  });
  assert.equal(
    make({ customer: "c-1" }, { rateLimitKey: "other" }).meta.rateLimitKey,
    "other",
  );
  assert.throws(
    () => make({ customer: 42 }),
    new TypeError(
      "Cannot queue task as the 'rateLimitKey' function of job 'limited.bad' must return a string of 1 to 200 characters without control characters: got 42",
    ),
  );
  assert.throws(
    () => make({ customer: "a\nb" }),
    /'rateLimitKey' function of job 'limited.bad' must return a string/,
  );
  // A producer with only a worker's advert cannot compute the key.
  assert.throws(
    () =>
      newTaskRecord("limited.bad", {}, {}, {
        rateLimit: { tasks: 1, per: 1 },
        rateLimitKeyed: true,
      }, "default"),
    /job 'limited.bad' keys its rate limit by a function this process does not have: pass the 'rateLimitKey' option/,
  );
  assert.throws(
    () => newTaskRecord("plain", {}, { rateLimitKey: "k" }, {}, "default"),
    /'rateLimitKey' needs a job with a rateLimit: job 'plain' has none/,
  );
  assert.deepEqual(
    Object.fromEntries(registry.jobList())["limited.bad"].rateLimit,
    {
      tasks: 1,
      per: 1,
      keyed: true,
    },
  );
});

for (const name of ["sqlite", "redis"] as const) {
  Deno.test(`rate limit with 4 worker processes (${name}): 10/s over 10 s gives 100 ± 10 starts, never more than 10 in 1 s`, async () => {
    await using dir = await tempDir();
    const dataStore = name === "sqlite"
      ? `sqlite:${dir.path}/pq.sqlite`
      : redis.url(`rl${crypto.randomUUID().slice(0, 8)}`);
    await using api = await producerFor({
      dataStore,
      taskPaths: [FIXTURE_JOBS],
    });
    await using server = startServer(serverArgs({
      workers: 4,
      concurrentTasks: 5,
      dataStore,
      taskPaths: FIXTURE_JOBS,
    }));
    await server.ready();
    const queued = await api.tasks.queueMany(
      "limited.ping",
      Array.from({ length: 250 }, (_, n) => ({ n })),
    );
    const ids = queued.map((task) => task.id);
    const starts = async () =>
      (await Promise.all(ids.map((id) => api.tasks.get(id))))
        .flatMap((task) => task?.timeStarted ? [task.timeStarted] : [])
        .sort((a, b) => a - b);
    await eventually(async () => (await starts()).length > 0, 20, "a start");
    const first = (await starts())[0];
    await eventually(
      () => Date.now() / 1000 > first + 10.5,
      20,
      "10 s of starts",
    );
    const all = await starts();
    const inTen = all.filter((at) => at < first + 10).length;
    assert.ok(inTen >= 90 && inTen <= 110, `${inTen} starts in 10 s`);
    for (let i = 0; i + 10 < all.length; i++) {
      assert.ok(
        all[i + 10] - all[i] >= 1 - 1e-9,
        `11 starts in ${all[i + 10] - all[i]} s, from ${all[i]}`,
      );
    }
    // Waiting, not failed.
    const statuses = new Set(
      (await Promise.all(ids.map((id) => api.tasks.get(id)))).map((t) =>
        t!.status
      ),
    );
    for (const status of statuses) {
      assert.ok(
        ([
          TaskStatus.QUEUED,
          TaskStatus.STARTED,
          TaskStatus.SUCCESS,
        ] as number[])
          .includes(status),
        `status ${status}`,
      );
    }
  });
}

Deno.test("rate limit per customer through the API, and pq jobs shows the limits", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using api = await producerFor({ dataStore, taskPaths: [FIXTURE_JOBS] });
  const a = await api.tasks.queue("limited.customer", { customer: 1 }, {
    callback: false,
  });
  assert.equal(a.meta.rateLimitKey, "customer-1");
  assert.deepEqual(a.meta.rateLimit, { tasks: 2, per: 1 });
  const run = await runPq(["jobs", "--task-paths", FIXTURE_JOBS]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /limited\.customer\s.*2\/1s per key/);
  assert.match(run.stdout, /limited\.ping\s.*10\/1s(?! per key)/);
});

Deno.test("pq queue --rate-limit-key counts a task in that key's window; a bad key exits 2, nothing queued", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlite`;
  await (await SqliteStore.open(path, { serializer: "json", resultTtl: 60 }))
    .close();
  const pqLimited = (...args: string[]) =>
    runPq([
      ...args,
      "--data-store",
      `sqlite:${path}`,
      "--task-paths",
      FIXTURE_JOBS,
    ]);
  const run = await pqLimited(
    "queue",
    "limited.customer",
    "customer=1",
    "--rate-limit-key",
    "vip",
    "--json",
  );
  assert.equal(run.code, 0, run.stderr);
  const { meta } = JSON.parse(run.stdout);
  assert.equal(meta.rateLimitKey, "vip");
  assert.deepEqual(meta.rateLimit, { tasks: 2, per: 1 });
  const empty = await pqLimited(
    "queue",
    "limited.customer",
    "customer=1",
    "--rate-limit-key",
    "",
  );
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(
    empty.stderr,
    /--rate-limit-key must be a string of 1 to \d+ characters without control characters: got ''/,
  );
  const unlimited = await runPq([
    "queue",
    "addition",
    "a=1",
    "--rate-limit-key",
    "vip",
    "--data-store",
    `sqlite:${path}`,
    "--task-paths",
    EXAMPLE_JOBS,
  ]);
  assert.equal(unlimited.code, 2, unlimited.stderr);
  assert.match(
    unlimited.stderr,
    /'rateLimitKey' needs a job with a rateLimit: job 'addition' has none, got "vip"/,
  );
  const store = await SqliteStore.open(path, {
    serializer: "json",
    resultTtl: 60,
  });
  try {
    assert.equal((await store.searchTasks({})).tasks.length, 1);
  } finally {
    await store.close();
  }
});

Deno.test("rate limit (sqlite): a file of schema version 4 gets the column on open", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlite`;
  const options = { serializer: "json" as const, resultTtl: 60 };
  const clock = { t: Date.now() / 1000 };
  await (await SqliteStore.open(path, options)).close();
  // Back to version 4, as an older pq left it.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  db.exec(
    `ALTER TABLE tasks DROP COLUMN rate_limit; PRAGMA user_version = 4;`,
  );
  db.close();
  const store = await SqliteStore.open(path, options);
  try {
    const limit = { tasks: 1, per: 60 };
    await store.enqueue([
      limited(clock, "a", limit),
      limited(clock, "b", limit),
    ]);
    assert.deepEqual(labels(await store.claim(request())), ["a"]);
  } finally {
    await store.close();
  }
});

Deno.test("rate limit (redis): a task handed over to a waiting worker started when it was handed over, as its window counts it", async () => {
  const open = redisOpener(redis);
  const workerClock = { now: () => Date.now() / 1000 + 5 };
  const store = await open({
    serializer: "json",
    resultTtl: 60,
    now: workerClock.now,
  });
  const producer = await open({
    serializer: "json",
    resultTtl: 60,
    sameAs: store,
  });
  try {
    const asking = request({ max: 1, waitSeconds: 5 });
    assert.deepEqual(await store.claim(asking), []);
    const waiting = store.waitForTasks(asking.queues, 5);
    await delay(50);
    const queuedAt = Date.now() / 1000;
    await producer.enqueue([
      limited({ t: queuedAt }, "a", { tasks: 1, per: 60 }),
    ]);
    const handed = await waiting;
    assert.deepEqual(labels(handed), ["a"]);
    // The producer's clock, not the worker's (5 s ahead), at the hand-over.
    const started = handed[0].task!.timeStarted!;
    assert.ok(
      started >= queuedAt && started < queuedAt + 2,
      `started ${started - queuedAt} s after it was queued`,
    );
  } finally {
    await store.close();
    await producer.close();
  }
});
