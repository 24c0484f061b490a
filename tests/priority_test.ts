/**
 * Priorities: a task's `priority` (an integer from -1000 to 1000, higher
 * first, 0 by default; first in, first out within one) decides the order of
 * claims, on every path a task takes back to its queue: released, redelivered
 * after its lease expired, retried, delayed then due, and handed over to a
 * waiting worker (Redis). At the store (SQLite, Redis, a Redis Cluster node),
 * at the boundary (bad priorities refused), through the API with a server,
 * and with `pq queue --priority`.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { delay } from "./_helpers.ts";
import { job } from "../mod.ts";
import { JobRegistry } from "../src/runtime/registry.ts";
import { newTaskRecord } from "../src/model/queue_options.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import { TaskStatus } from "../src/model/status.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import type { Store } from "../src/store/store.ts";
import type { TaskRecord } from "../src/model/task.ts";
import {
  claimRequest,
  featureStores,
  labelledRecord,
  labels,
  ManualClock,
  storeTests,
} from "./_contract_stores.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  pq,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const { redis, stores: STORES } = await featureStores();

const storeTest = storeTests("priority", STORES, 60);

/** A queued record; `priority` goes in its meta (none for undefined). */
function task(
  clock: ManualClock,
  label: string,
  priority?: number,
  overrides: Partial<TaskRecord> = {},
): TaskRecord {
  return labelledRecord(clock, label, {
    meta: priority === undefined ? {} : { priority },
    ...overrides,
  });
}

const request = claimRequest;

/** Claims one task at a time until none is left: the labels in order. */
async function drainOneByOne(store: Store): Promise<string[]> {
  const order: string[] = [];
  for (;;) {
    const claims = await store.claim(request({ max: 1 }));
    if (claims.length === 0) return order;
    order.push(...labels(claims));
  }
}

storeTest(
  "higher priority is claimed first, first in first out within one, none (0) between positive and negative",
  async ({ clock, store }) => {
    // Queued one at a time, in this order, each a moment after the last.
    const plan: Array<[string, number | undefined]> = [
      ["z1", undefined],
      ["n1", -5],
      ["a1", 5],
      ["z2", 0],
      ["b1", 10],
      ["a2", 5],
      ["n2", -5],
      ["m1", -1],
      ["b2", 10],
      ["z3", undefined],
    ];
    for (const [label, priority] of plan) {
      await store.enqueue([task(clock, label, priority)]);
      clock.advance(0.001);
    }
    assert.deepEqual(await queueSizes(store, ["default"]), [plan.length]);
    assert.deepEqual(await drainOneByOne(store), [
      "b1",
      "b2",
      "a1",
      "a2",
      "z1",
      "z2",
      "z3",
      "m1",
      "n1",
      "n2",
    ]);
  },
);

storeTest(
  "one claim of many takes them in priority order, and a batch queued at once keeps its order",
  async ({ clock, store }) => {
    await store.enqueue([
      task(clock, "z1"),
      task(clock, "a1", 3),
      task(clock, "n1", -3),
      task(clock, "a2", 3),
      task(clock, "z2"),
      task(clock, "b1", 7),
    ]);
    const claims = await store.claim(request({ max: 4 }));
    assert.deepEqual(labels(claims), ["b1", "a1", "a2", "z1"]);
    assert.deepEqual(labels(await store.claim(request())), ["z2", "n1"]);
  },
);

storeTest("a released task keeps its priority", async ({ clock, store }) => {
  const [high, low] = [task(clock, "high", 5), task(clock, "low")];
  await store.enqueue([high, low]);
  const [claim] = await store.claim(request({ max: 1 }));
  assert.equal(claim.id, high.id);
  // A newer task of the same priority, and older ones without.
  await store.enqueue([task(clock, "later", 5), task(clock, "zero")]);
  await store.release([{ id: claim.id, token: claim.token }]);
  assert.deepEqual(await drainOneByOne(store), [
    "high",
    "later",
    "low",
    "zero",
  ]);
});

storeTest(
  "a redelivered task (its lease expired) keeps its priority",
  async ({ clock, store }) => {
    await store.enqueue([task(clock, "high", 2)]);
    const [claim] = await store.claim(request({ max: 1, leaseSeconds: 10 }));
    assert.equal(labels([claim])[0], "high");
    await store.enqueue([task(clock, "zero"), task(clock, "zero")]);
    clock.advance(11);
    const report = await store.reclaim(5);
    assert.equal(report.redelivered, 1);
    const [again] = await store.claim(request({ max: 1 }));
    assert.equal(again.id, claim.id);
    assert.equal(again.redeliveries, 1);
    assert.equal(again.task?.meta.priority, 2);
    // And a negative one comes back after the tasks without priority.
    await store.enqueue([task(clock, "low", -2)]);
    const [low] = await store.claim(request({ max: 1, leaseSeconds: 10 }));
    assert.equal(labels([low])[0], "zero");
    const [low2] = await store.claim(request({ max: 1, leaseSeconds: 10 }));
    assert.equal(labels([low2])[0], "zero");
    const [negative] = await store.claim(request({ max: 1, leaseSeconds: 10 }));
    assert.equal(labels([negative])[0], "low");
    await store.enqueue([task(clock, "zero")]);
    clock.advance(11);
    await store.reclaim(5);
    assert.deepEqual(await drainOneByOne(store), [
      "zero",
      "zero",
      "zero",
      "low",
    ]);
  },
);

storeTest("a retried task keeps its priority", async ({ clock, store }) => {
  const first = task(clock, "first", 4, {
    meta: { priority: 4, maxRetries: 3 },
  });
  await store.enqueue([first]);
  const [claim] = await store.claim(request({ max: 1 }));
  await store.enqueue([task(clock, "zero"), task(clock, "zero")]);
  clock.advance(1);
  const retry = task(clock, "retry", undefined, {
    meta: { ...first.meta },
    retry: 2,
    fromTask: first.id,
  });
  assert.deepEqual(
    await store.finish([{
      id: claim.id,
      token: claim.token,
      task: { ...claim.task!, status: TaskStatus.RETRY, timeEnded: clock.t },
      retry,
    }]),
    [true],
  );
  assert.deepEqual(await drainOneByOne(store), ["retry", "zero", "zero"]);
});

storeTest(
  "a delayed task, once due, comes before older tasks of lower priority",
  async ({ clock, store }) => {
    await store.enqueue([
      task(clock, "soon", 3, { delay: 5 }),
      task(clock, "late", -3, { delay: 5 }),
      task(clock, "zero1"),
    ]);
    clock.advance(1);
    await store.enqueue([task(clock, "zero2"), task(clock, "low", -1)]);
    assert.deepEqual(labels(await store.claim(request({ max: 1 }))), ["zero1"]);
    clock.advance(5);
    await store.enqueue([task(clock, "ahead", 3)]);
    assert.deepEqual(await drainOneByOne(store), [
      "soon",
      "ahead",
      "zero2",
      "low",
      "late",
    ]);
  },
);

storeTest(
  "concurrency limits hold with priorities, and a held task keeps its place",
  async ({ clock, store }) => {
    const limited = (label: string, priority: number) =>
      task(clock, label, priority, {
        name: "limited",
        meta: { priority, maxConcurrency: 1 },
      });
    await store.enqueue([
      limited("l1", 5),
      limited("l2", 5),
      task(clock, "free", 5),
      task(clock, "zero"),
      limited("l3", -5),
    ]);
    const first = await store.claim(request({ max: 10 }));
    assert.deepEqual(labels(first), ["l1", "free", "zero"]);
    assert.deepEqual(await store.claim(request()), []);
    assert.deepEqual(await queueSizes(store, ["default"]), [2]);
    const l1 = first[0];
    assert.deepEqual(
      await store.finish([{
        id: l1.id,
        token: l1.token,
        task: { ...l1.task!, status: TaskStatus.SUCCESS, timeEnded: clock.t },
      }]),
      [true],
    );
    const second = await store.claim(request());
    assert.deepEqual(labels(second), ["l2"]);
  },
);

storeTest(
  "revoke and flush drop prioritized tasks; sizes and stats count them",
  async ({ clock, store }) => {
    const [a, b, c] = [
      task(clock, "a", 3),
      task(clock, "b", -3),
      task(clock, "c"),
    ];
    await store.enqueue([a, b, c, task(clock, "d", 9, { delay: 60 })]);
    assert.deepEqual(await queueSizes(store, ["default"]), [4]);
    const [stats] = await store.queueStats(["default"]);
    assert.equal(stats.ready, 3);
    assert.equal(stats.delayed, 1);
    assert.equal(await store.revoke(a.id), "revoked");
    assert.deepEqual(await queueSizes(store, ["default"]), [3]);
    assert.equal(await store.flush(["default"]), 3);
    assert.deepEqual(await queueSizes(store, ["default"]), [0]);
    clock.advance(61);
    assert.deepEqual(await store.claim(request()), []);
    await store.enqueue([task(clock, "e", 1)]);
    assert.deepEqual(labels(await store.claim(request())), ["e"]);
  },
);

storeTest(
  "a paused queue keeps its prioritized tasks until resumed",
  async ({ clock, store }) => {
    await store.enqueue([task(clock, "zero"), task(clock, "high", 8)]);
    assert.equal(await store.pauseQueue("default"), true);
    assert.deepEqual(await store.claim(request()), []);
    assert.equal(await store.resumeQueue("default"), true);
    assert.deepEqual(labels(await store.claim(request())), ["high", "zero"]);
  },
);

Deno.test("priority (redis): the hand-over to a waiting worker takes the highest priority first", async () => {
  const namespace = `p${crypto.randomUUID().slice(0, 8)}`;
  const open = () =>
    RedisStore.open(redis.url(namespace), {
      serializer: "json",
      resultTtl: 60,
    });
  const store = await open();
  const producer = await open();
  try {
    const asking = request({ max: 2, waitSeconds: 10 });
    assert.deepEqual(await store.claim(asking), []);
    const waiting = store.waitForTasks(asking.queues, 10);
    // No event says the wait has begun: 50 ms for it to.
    await delay(50);
    const clock = { t: Date.now() / 1000 } as ManualClock;
    await producer.enqueue([
      task(clock, "zero"),
      task(clock, "low", -1),
      task(clock, "top", 9),
      task(clock, "mid", 4),
    ]);
    // The worker wakes with its tasks, or (as other tasks are left, their
    // marker wakes it too) its next claim takes them first.
    const woke = await waiting;
    const handed = [
      ...woke,
      ...await store.claim(request({ max: 2 - woke.length, waitSeconds: 10 })),
    ];
    assert.deepEqual(labels(handed), ["top", "mid"]);
    assert.deepEqual(await queueSizes(producer, ["default"]), [2]);
    assert.deepEqual(labels(await store.claim(request())), ["zero", "low"]);
  } finally {
    await store.close();
    await producer.close();
  }
});

Deno.test("priority (sqlite): a file of schema version 3 gets the column, 0 for its rows", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlite`;
  const clock = new ManualClock();
  const store = await SqliteStore.open(path, {
    serializer: "json",
    resultTtl: 60,
    now: clock.now,
  });
  await store.enqueue([task(clock, "old")]);
  await store.close();
  // Back to version 3, as an older pq left it.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  db.exec(
    `DROP INDEX tasks_claim; DROP INDEX tasks_groups;
     DROP INDEX tasks_group_due; ALTER TABLE tasks DROP COLUMN grp;
     ALTER TABLE tasks DROP COLUMN group_concurrency;
     ALTER TABLE tasks DROP COLUMN priority;
     ALTER TABLE tasks DROP COLUMN rate_limit;
     CREATE INDEX tasks_claim ON tasks (queue, state, due_at, seq);
     PRAGMA user_version = 3;`,
  );
  db.close();
  const again = await SqliteStore.open(path, {
    serializer: "json",
    resultTtl: 60,
    now: clock.now,
  });
  try {
    await again.enqueue([task(clock, "new", 1)]);
    assert.deepEqual(labels(await again.claim(request())), ["new", "old"]);
  } finally {
    await again.close();
  }
  const check = new DatabaseSync(path);
  const { user_version } = check.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  check.close();
  assert.equal(user_version, 7);
});

Deno.test("priority: a bad priority is refused, naming the option and the value", () => {
  for (const bad of [1.5, "high", 1e6, -1001]) {
    const shown = typeof bad === "string" ? `"${bad}"` : String(bad);
    assert.throws(
      () =>
        job(
          { name: "prio", priority: bad as number },
          () => null,
        ),
      new TypeError(
        `Invalid option 'priority' of job 'prio': expected an integer from -1000 to 1000, got ${shown}`,
      ),
    );
  }
  assert.doesNotThrow(() => job({ name: "prio", priority: -1000 }, () => 1));
});

Deno.test("priority: the job's priority is its tasks' default, and jobList reports it", () => {
  const urgent = job({ name: "urgent", priority: 7 }, () => null);
  const plain = job({ name: "plain" }, () => null);
  const registry = new JobRegistry();
  registry.add(urgent);
  registry.add(plain);
  const list = Object.fromEntries(registry.jobList());
  assert.equal(list.urgent.priority, 7);
  assert.equal(list.plain.priority, null);
  const record = (options: object, cls: typeof urgent) =>
    newTaskRecord("x", {}, options, cls, "default");
  assert.equal(record({}, urgent).meta.priority, 7);
  assert.equal(record({ priority: -2 }, urgent).meta.priority, -2);
  assert.equal(
    record({ metaParams: { priority: 3 } }, urgent).meta.priority,
    3,
  );
  // 0 is not written: a task without priority is stored as before.
  assert.equal("priority" in record({ priority: 0 }, urgent).meta, false);
  assert.equal("priority" in record({}, plain).meta, false);
});

Deno.test("priority through the API: bad ones refused; a retried task keeps its priority", async (t) => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using api = await producerFor({ dataStore });
  await t.step("bad priorities are refused at the boundary", async () => {
    for (const bad of [1.5, "high", 1e6]) {
      const shown = typeof bad === "string" ? `"${bad}"` : String(bad);
      await assert.rejects(
        Promise.resolve(
          api.tasks.queue("addition", {}, {
            callback: false,
            priority: bad as number,
          }),
        ),
        new TypeError(
          `Cannot queue task as 'priority' must be an integer from -1000 to 1000: got ${shown}`,
        ),
      );
      await assert.rejects(
        Promise.resolve(
          api.tasks.queue("addition", {}, {
            callback: false,
            metaParams: { priority: bad },
          }),
        ),
        new TypeError(
          `Cannot queue task as 'metaParams.priority' must be an integer from -1000 to 1000: got ${shown}`,
        ),
      );
    }
  });
  await t.step("a retried task keeps its priority", async () => {
    await using server = startServer(serverArgs({
      workers: 0,
      concurrentTasks: 1,
      dataStore,
      taskPaths: EXAMPLE_JOBS,
    }));
    await server.ready();
    const queued = await api.tasks.queue("subtraction", { a: 1, b: "foo" }, {
      callback: false,
      priority: 6,
      metaParams: { maxRetries: 2, retryDelay: 0.1 },
    });
    assert.equal(queued.meta.priority, 6);
    const final = await queued.doneCallback!;
    assert.equal(final.status, TaskStatus.FAILURE);
    assert.equal(final.retry, 2);
    assert.equal(final.meta.priority, 6);
  });
});

Deno.test("pq queue --priority queues with a priority; a bad one exits 2", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlite`;
  await (await SqliteStore.open(path, { serializer: "json", resultTtl: 60 }))
    .close();
  const store = `sqlite:${path}`;
  const run = await pq(
    store,
    "queue",
    "addition",
    "a=1",
    "--priority",
    "5",
    "--json",
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).meta.priority, 5);
  for (const bad of ["1.5", "high", "1000000", ""]) {
    const refused = await pq(store, "queue", "addition", "--priority", bad);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `--priority must be an integer from -1000 to 1000: got '${bad}'`,
      ),
    );
  }
});

Deno.test("priority (redis): a busy worker is handed nothing, so a higher priority queued while it runs goes first (repeated)", async () => {
  // One worker, one slot, a long task running; priority-0 tasks then one of
  // priority 10 are queued meanwhile. When the long task ends the worker
  // must take the priority-10 one first: a task handed over to a wait that
  // had ended (a registration left in Redis) would jump it.
  const dataStore = redis.url(`w${crypto.randomUUID().slice(0, 8)}`);
  await using api = await producerFor({ dataStore });
  await using server = startServer(serverArgs({
    workers: 1,
    concurrentTasks: 1,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
  }));
  await server.ready();
  for (let round = 0; round < 6; round++) {
    const long = api.tasks.queue("asynchronous", { lag: 0.6 }, {
      callback: false,
    });
    await eventually(
      async () => (await api.tasks.get(long.id))?.status === TaskStatus.STARTED,
      10,
      "the long task to start",
    );
    await delay(150);
    const low = [];
    for (let i = 0; i < 5; i++) {
      low.push(
        await api.tasks.queue("asynchronous", { lag: 0 }, {
          callback: false,
        }),
      );
    }
    const high = await api.tasks.queue("asynchronous", { lag: 0 }, {
      callback: false,
      priority: 10,
    });
    const done = await Promise.all(
      [high, ...low].map((task) => task.doneCallback!),
    );
    const [first, ...rest] = done.map((task) => task.timeStarted!);
    assert.ok(
      rest.every((started) => started > first),
      `round ${round}: the priority-10 task started at ${first}, after a priority-0 one (${rest})`,
    );
  }
});
