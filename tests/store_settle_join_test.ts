/**
 * `settle` and `joinGroup`, on every store (SQLite, Redis, a Redis Cluster
 * node, a SplitStore, a managed store): a settled record is a finished task
 * that never ran (found, searched, announced, never claimed, dropped after
 * its retention) written only when its id is free; a group answers with all
 * its values, in index order, once its last member is recorded.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import type { CodecName } from "../src/model/codec.ts";
import { TaskStatus } from "../src/model/status.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Store } from "../src/store/store.ts";
import type { TaskRecord } from "../src/model/task.ts";
import {
  claimRequest,
  decoratedStores,
  managedOpener,
  ManualClock,
  openSqlite,
  queuedRecord,
  storeTests,
} from "./_contract_stores.ts";
import { eventually } from "./_server.ts";
import { delivered, MARKER_EVENT } from "./_helpers.ts";

const { redis, manager, stores: STORES } = await decoratedStores();

const RESULT_TTL = 60;

const storeTest = storeTests("settle and join", STORES, RESULT_TTL);

const record = queuedRecord;

/** The final record of a task that never ran. */
function settled(
  clock: ManualClock,
  status: typeof TaskStatus.REVOKED | typeof TaskStatus.FAILURE,
  overrides: Partial<TaskRecord> = {},
): TaskRecord {
  return record(clock, {
    status,
    result: status === TaskStatus.REVOKED
      ? "revoked before it was queued"
      : "a member before it failed",
    timeEnded: clock.t,
    ...overrides,
  });
}

const CLAIM = claimRequest();

/** The task events of `store` from now on, as `[event, id]`. */
async function taskEvents(store: Store) {
  const events: Array<[string, string]> = [];
  const unsubscribe = await store.subscribe("task", (message) => {
    if (message.event === MARKER_EVENT) return;
    events.push([message.event, (message.data as TaskRecord).id]);
  });
  return { events, unsubscribe };
}

storeTest(
  "a settled record is found by id and by search, announced done, and never claimed",
  async ({ clock, store }) => {
    const { events, unsubscribe } = await taskEvents(store);
    const revoked = settled(clock, TaskStatus.REVOKED);
    const failed = settled(clock, TaskStatus.FAILURE, { queue: "other" });
    assert.equal(await store.settle(revoked), true);
    assert.equal(await store.settle(failed), true);
    assert.deepEqual(await store.get(revoked.id), revoked);
    assert.deepEqual(await store.get(failed.id), failed);
    const page = await store.searchTasks({ queue: "default" });
    assert.deepEqual(page.tasks, [revoked]);
    const byStatus = await store.searchTasks({
      status: [TaskStatus.FAILURE],
    });
    assert.deepEqual(byStatus.tasks, [failed]);
    const all = await store.searchTasks({});
    assert.deepEqual(
      all.tasks.map((task) => task.id).sort(),
      [revoked.id, failed.id].sort(),
    );
    await eventually(() => events.length >= 2, 5, "the done events");
    assert.deepEqual(
      events.sort(),
      [["done", revoked.id], ["done", failed.id]].sort(),
    );
    assert.deepEqual(await store.claim(CLAIM), []);
    assert.deepEqual(await store.claim({ ...CLAIM, queues: ["other"] }), []);
    assert.deepEqual(await queueSizes(store, ["default", "other"]), [0, 0]);
    assert.deepEqual(await store.queueNames(), []);
    assert.deepEqual(
      (await store.queueStats(["default"]))[0],
      { queue: "default", ready: 0, delayed: 0, running: 0, latency: 0 },
    );
    // Not even once its time comes, nor after a reclaim.
    clock.t += 5;
    await store.reclaim(3, ["default", "other"]);
    assert.deepEqual(await store.claim(CLAIM), []);
    await unsubscribe();
  },
);

storeTest(
  "a settled record is dropped after resultTtl by reclaim, and its id is free again",
  async ({ clock, store }) => {
    const task = settled(clock, TaskStatus.REVOKED, { id: "member-3" });
    assert.equal(await store.settle(task), true);
    clock.t += RESULT_TTL - 1;
    await store.reclaim(3, ["default"]);
    assert.deepEqual(await store.get(task.id), task);
    clock.t += 2;
    await store.reclaim(3, ["default"]);
    assert.equal(await store.get(task.id), undefined);
    assert.deepEqual((await store.searchTasks({})).tasks, []);
    const again = settled(clock, TaskStatus.FAILURE, { id: "member-3" });
    assert.equal(await store.settle(again), true);
    assert.deepEqual(await store.get(task.id), again);
  },
);

storeTest(
  "settle refuses an id that is queued, running or finished: nothing is written or published",
  async ({ clock, store }) => {
    const { events, unsubscribe } = await taskEvents(store);
    const task = record(clock, { id: "taken" });
    await store.enqueue([task]);
    const attempt = settled(clock, TaskStatus.REVOKED, { id: "taken" });
    assert.equal(await store.settle(attempt), false);
    assert.deepEqual(await store.get("taken"), task);

    const [claim] = await store.claim(CLAIM);
    assert.equal(claim.id, "taken");
    assert.equal(await store.settle(attempt), false);
    assert.equal((await store.get("taken"))?.status, TaskStatus.STARTED);

    const done = { ...claim.task!, status: TaskStatus.SUCCESS, result: 2 };
    assert.deepEqual(
      await store.finish([{ id: claim.id, token: claim.token, task: done }]),
      [true],
    );
    assert.equal(await store.settle(attempt), false);
    assert.deepEqual(await store.get("taken"), done);

    // A settled record is there too; and an id is one task across queues.
    const first = settled(clock, TaskStatus.FAILURE);
    assert.equal(await store.settle(first), true);
    assert.equal(
      await store.settle({ ...first, status: TaskStatus.REVOKED }),
      false,
    );
    assert.equal(
      await store.settle({ ...attempt, queue: "elsewhere" }),
      false,
    );
    assert.equal(
      await store.settle({ ...first, queue: "{app}.elsewhere" }),
      false,
    );
    assert.deepEqual(await store.get(first.id), first);
    assert.deepEqual(await store.searchTasks({ queue: "elsewhere" }), {
      tasks: [],
    });

    await eventually(() => events.length >= 4, 5, "the task events");
    // Any repeat of them would be delivered before a marker published now.
    await delivered(store, "task");
    assert.deepEqual(events, [
      ["queued", "taken"],
      ["started", "taken"],
      ["done", "taken"],
      ["done", first.id],
    ]);
    await unsubscribe();
  },
);

storeTest(
  "20 settles at once, from 4 stores on one data, write one record of an id",
  async ({ clock, store, open }) => {
    const stores = [
      store,
      await open(store),
      await open(store),
      await open(store),
    ];
    const records = Array.from(
      { length: 20 },
      (_, i) => settled(clock, TaskStatus.REVOKED, { id: "once", result: i }),
    );
    const written = await Promise.all(
      records.map((task, i) => stores[i % 4].settle(task)),
    );
    assert.equal(written.filter(Boolean).length, 1);
    const winner = records[written.indexOf(true)];
    assert.deepEqual(await store.get("once"), winner);
    assert.deepEqual((await store.searchTasks({})).tasks, [winner]);
  },
);

storeTest(
  "a group answers undefined until its last member, then every member's value in index order",
  async ({ store }) => {
    assert.equal(await store.joinGroup("chord-1", 2, 3, { c: 3 }), undefined);
    assert.equal(await store.joinGroup("chord-1", 0, 3, "a"), undefined);
    const all = ["a", null, { c: 3 }];
    assert.deepEqual(await store.joinGroup("chord-1", 1, 3, null), all);
    // An index again keeps its first value, and gets the whole list.
    assert.deepEqual(await store.joinGroup("chord-1", 0, 3, "again"), all);
    assert.deepEqual(await store.joinGroup("chord-1", 1, 3, 5), all);
    // Another group is another list; a group of one is complete at once.
    assert.equal(await store.joinGroup("chord-2", 0, 2, 1), undefined);
    assert.deepEqual(await store.joinGroup("chord-2", 1, 2, [2]), [1, [2]]);
    assert.deepEqual(await store.joinGroup("solo", 0, 1, undefined), [null]);
    assert.deepEqual(await store.joinGroup("chord-1", 2, 3, 0), all);
    // Group names are free text, with a hash tag of their own.
    assert.equal(await store.joinGroup("{app}:g h", 1, 2, "y"), undefined);
    assert.deepEqual(await store.joinGroup("{app}:g h", 0, 2, "x"), [
      "x",
      "y",
    ]);
    // Groups are no tasks.
    assert.deepEqual(await store.queueNames(), []);
    assert.deepEqual((await store.searchTasks({})).tasks, []);
  },
);

storeTest(
  "20 joins at once, from 4 stores on one data: the last new member gets the list, and every list is the same",
  async ({ store, open }) => {
    const stores = [
      store,
      await open(store),
      await open(store),
      await open(store),
    ];
    const total = 20;
    const answers = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => stores[i % 4].joinGroup("many", i, total, { i }),
      ),
    );
    const full = Array.from({ length: total }, (_, i) => ({ i }));
    const lists = answers.filter((answer) => answer !== undefined);
    assert.ok(lists.length >= 1, "at least one call gets the list");
    for (const list of lists) assert.deepEqual(list, full);
    // Again, every index at once: all of them get it.
    const again = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => stores[i % 4].joinGroup("many", i, total, "late"),
      ),
    );
    for (const list of again) assert.deepEqual(list, full);
  },
);

storeTest(
  "bad groups, indexes and totals, and bad settled records, are refused with a TypeError",
  async ({ clock, store }) => {
    const cases: Array<[unknown, unknown, unknown, RegExp]> = [
      ["g", -1, 3, /'index' must be an integer from 0 to 2: got -1$/],
      ["g", 3, 3, /'index' must be an integer from 0 to 2: got 3$/],
      ["g", 1.5, 3, /'index' must be an integer from 0 to 2: got 1\.5$/],
      ["g", "0", 3, /'index' must be an integer from 0 to 2: got "0"$/],
      ["g", NaN, 3, /'index' must be an integer/],
      ["g", 0, 0, /'total' must be an integer >= 1: got 0$/],
      ["g", 0, 2.5, /'total' must be an integer >= 1: got 2\.5$/],
      ["g", 0, Infinity, /'total' must be an integer >= 1/],
      ["", 0, 1, /'group' must be a non-empty string: got ""$/],
      [42, 0, 1, /'group' must be a non-empty string: got 42$/],
    ];
    for (const [group, index, total, message] of cases) {
      await assert.rejects(
        store.joinGroup(
          group as string,
          index as number,
          total as number,
          "v",
        ),
        (error: Error) => {
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    }
    // Nothing of the bad calls was recorded.
    assert.equal(await store.joinGroup("g", 0, 2, "v"), undefined);

    const queued = record(clock);
    await assert.rejects(
      store.settle(queued),
      /Cannot settle task .* as 'status' must be SUCCESS, FAILURE or REVOKED: got 6$/,
    );
    await assert.rejects(
      store.settle(settled(clock, TaskStatus.REVOKED, { queue: null })),
      TypeError,
    );
    assert.equal(await store.get(queued.id), undefined);
  },
);

storeTest(
  "a group is kept resultTtl after its last record, then starts again",
  async ({ clock, store }) => {
    assert.equal(await store.joinGroup("g", 0, 2, "old"), undefined);
    clock.t += RESULT_TTL - 1;
    assert.equal(await store.joinGroup("g", 0, 2, "kept"), undefined);
    clock.t += RESULT_TTL - 1;
    assert.deepEqual(await store.joinGroup("g", 1, 2, "b"), ["old", "b"]);
    clock.t += RESULT_TTL + 1;
    await store.reclaim(3, ["default"]);
    assert.equal(await store.joinGroup("g", 1, 2, "new"), undefined);
    clock.t += RESULT_TTL + 1;
    // Dropped at the join too, without a reclaim.
    assert.equal(await store.joinGroup("g", 0, 2, "newer"), undefined);
  },
  // Redis keeps a group by its own clock (EXPIRE), not the store's.
  (name) => !name.includes("redis"),
);

Deno.test("settle and join (redis): a group's key expires resultTtl after its last record", async () => {
  const store = await RedisStore.open(redis.url("groupttl"), {
    serializer: "json",
    resultTtl: 30.2,
  });
  try {
    await store.joinGroup("g", 0, 2, 1);
    const ttl = Number(await redis.cli("TTL", "groupttl:group:{g}"));
    assert.ok(ttl > 29 && ttl <= 31, `TTL ${ttl}`);
  } finally {
    await store.close();
  }
});

Deno.test("settle and join (managed sqlite): the manager hears a settled record, not a refused one", async () => {
  const clock = new ManualClock();
  const store = await managedOpener(openSqlite, manager)({
    serializer: "json",
    resultTtl: RESULT_TTL,
    now: clock.now,
  });
  try {
    manager.heard.length = 0;
    const task = settled(clock, TaskStatus.REVOKED);
    assert.equal(await store.settle(task), true);
    assert.equal(await store.settle(task), false);
    await store.joinGroup("g", 0, 1, "v");
    assert.deepEqual(
      manager.heard.map(({ event, data }) => [event, (data as TaskRecord).id]),
      [["done", task.id]],
    );
  } finally {
    await store.close();
  }
});

for (const serializer of ["msgpack", "json"] as CodecName[]) {
  Deno.test(`settle and join (${serializer}): records and values round-trip on both stores`, async () => {
    const clock = new ManualClock();
    const options = { serializer, resultTtl: RESULT_TTL, now: clock.now };
    const stores: Store[] = [
      await SqliteStore.open(":memory:", options),
      await RedisStore.open(redis.url(`rt${serializer}`), options),
    ];
    try {
      for (const store of stores) {
        const task = settled(clock, TaskStatus.FAILURE, {
          result: { why: "ü", n: [1, 2] },
        });
        assert.equal(await store.settle(task), true);
        assert.deepEqual(await store.get(task.id), task);
        const value = { s: "ü", n: 1.5, list: [true, null], o: { a: "" } };
        assert.equal(await store.joinGroup("rt", 1, 2, value), undefined);
        assert.deepEqual(await store.joinGroup("rt", 0, 2, ""), ["", value]);
      }
    } finally {
      for (const store of stores) await store.close();
    }
  });
}
