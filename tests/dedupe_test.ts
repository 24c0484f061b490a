/**
 * Deduplication: a caller's task id queues at most one task while one is
 * stored (queued, running, or finished and kept), and a dedupe key drops
 * repeats for a while. At the store (SQLite, Redis, a Redis Cluster node),
 * through the API with a server running the tasks, and with `pq queue --id`.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import type { QueueOptions } from "../mod.ts";
import { TaskStatus } from "../src/model/status.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Store, UniqueOutcome } from "../src/store/store.ts";
import type { TaskRecord } from "../src/model/task.ts";
import {
  claimRequest,
  decoratedStores,
  managedOpener,
  ManualClock,
  openSqlite,
  queuedRecord,
  storeTests,
  succeeded,
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
import { delay, delivered, MARKER_EVENT } from "./_helpers.ts";

const { redis, manager, stores: STORES } = await decoratedStores();

const RESULT_TTL = 60;

const storeTest = storeTests("dedupe", STORES, RESULT_TTL);

const record = queuedRecord;

const CLAIM = claimRequest();

/** Claims the one task due and finishes it SUCCESS with `result`. */
async function runOne(store: Store, clock: ManualClock, result: unknown) {
  const [claim] = await store.claim(CLAIM);
  assert.ok(claim, "a task was claimed");
  const [written] = await store.finish([succeeded(claim, clock, result)]);
  assert.ok(written);
}

/** The record of a duplicate, after checking why it is one. */
function duplicateOf(
  outcome: UniqueOutcome,
  reason: "id" | "dedupe",
): TaskRecord {
  assert.equal(outcome.queued, false, "a duplicate");
  if (outcome.queued) throw new Error("unreachable");
  assert.equal(outcome.reason, reason);
  return outcome.task;
}

storeTest(
  "a second task of one id is not queued: nothing is written or published",
  async ({ clock, store }) => {
    const events: string[] = [];
    const unsubscribe = await store.subscribe("task", (message) => {
      if (message.event !== MARKER_EVENT) events.push(message.event);
    });
    const first = record(clock, { id: "invoice:2024-07.42" });
    assert.deepEqual(await store.enqueueUnique(first), { queued: true });
    const again = record(clock, { id: first.id, kwargs: { a: 2 } });
    assert.deepEqual(await store.enqueueUnique(again), {
      queued: false,
      reason: "id",
      task: first,
    });
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
    assert.deepEqual(await store.get(first.id), first);
    await eventually(() => events.length > 0, 5, "the queued event");
    // Any other event would be delivered before a marker published now.
    await delivered(store, "task");
    assert.deepEqual(events, ["queued"]);
    await unsubscribe();
  },
);

storeTest(
  "a running task, and a finished one kept, are found by id",
  async ({ clock, store }) => {
    const task = record(clock, { id: "job-7" });
    await store.enqueueUnique(task);
    const [claim] = await store.claim(CLAIM);
    const running = duplicateOf(
      await store.enqueueUnique(record(clock, { id: "job-7" })),
      "id",
    );
    assert.equal(running.status, TaskStatus.STARTED);
    assert.equal(running.worker, CLAIM.worker);
    assert.deepEqual(running, await store.get("job-7"));
    await store.finish([{
      id: claim.id,
      token: claim.token,
      task: { ...claim.task!, status: TaskStatus.SUCCESS, result: 3 },
    }]);
    clock.t += RESULT_TTL - 1;
    const finished = duplicateOf(
      await store.enqueueUnique(record(clock, { id: "job-7" })),
      "id",
    );
    assert.equal(finished.status, TaskStatus.SUCCESS);
    assert.equal(finished.result, 3);
    assert.deepEqual(await queueSizes(store, ["default"]), [0]);
  },
);

storeTest(
  "a finished task past its retention is gone: its id queues anew, once",
  async ({ clock, store }) => {
    // Dropped by reclaim first, or not yet.
    for (const reclaim of [true, false]) {
      const id = `again-${reclaim}`;
      await store.enqueueUnique(record(clock, { id }));
      await runOne(store, clock, "old");
      clock.t += RESULT_TTL + 1;
      if (reclaim) await store.reclaim(3, ["default"]);
      const fresh = record(clock, { id, kwargs: { a: 9 } });
      assert.deepEqual(await store.enqueueUnique(fresh), { queued: true });
      assert.deepEqual(await store.get(id), fresh);
      const page = await store.searchTasks({ queue: "default" });
      assert.deepEqual(
        page.tasks.filter((task) => task.id === id),
        [fresh],
        "one record of the id",
      );
      const [claim] = await store.claim(CLAIM);
      assert.equal(claim.id, id);
      assert.deepEqual(claim.task?.kwargs, { a: 9 });
      await store.release([claim]);
      assert.equal(await store.flush(["default"]), 1);
    }
  },
);

storeTest("an id is one task across queues", async ({ clock, store }) => {
  // A queue named with its own hash tag too: the script names its keys.
  const pairs = [["a", "b"], ["{app}.high", "plain"]];
  for (const [n, [one, other]] of pairs.entries()) {
    const id = `shared-${n}`;
    const first = record(clock, { id, queue: one });
    assert.deepEqual(await store.enqueueUnique(first), { queued: true });
    assert.deepEqual(
      duplicateOf(
        await store.enqueueUnique(record(clock, { id, queue: other })),
        "id",
      ),
      first,
    );
    assert.deepEqual(await queueSizes(store, [one, other]), [1, 0]);
    assert.equal((await store.get(id))?.queue, one);
  }
});

storeTest(
  "a dedupe key drops repeats in its queue until its ttl passes",
  async ({ clock, store }) => {
    const dedupe = { key: "report:1", ttl: 10 };
    const first = record(clock);
    assert.deepEqual(await store.enqueueUnique(first, dedupe), {
      queued: true,
    });
    clock.t += 9;
    const repeat = record(clock);
    assert.deepEqual(
      duplicateOf(await store.enqueueUnique(repeat, dedupe), "dedupe"),
      first,
    );
    assert.equal(await store.get(repeat.id), undefined);
    // Another key, or the same key in another queue, is another window.
    assert.deepEqual(
      await store.enqueueUnique(record(clock), { key: "report:2", ttl: 10 }),
      { queued: true },
    );
    assert.deepEqual(
      await store.enqueueUnique(record(clock, { queue: "other" }), dedupe),
      { queued: true },
    );
    clock.t += 1.5;
    const later = record(clock);
    assert.deepEqual(await store.enqueueUnique(later, dedupe), {
      queued: true,
    });
    assert.deepEqual(
      duplicateOf(await store.enqueueUnique(record(clock), dedupe), "dedupe"),
      later,
    );
    assert.deepEqual(await queueSizes(store, ["default", "other"]), [3, 1]);
  },
);

storeTest(
  "a dedupe key whose task is no longer stored is free",
  async ({ clock, store }) => {
    const dedupe = { key: "k", ttl: 3600 };
    await store.enqueueUnique(record(clock), dedupe);
    await runOne(store, clock, 1);
    clock.t += RESULT_TTL + 1;
    assert.deepEqual(await store.enqueueUnique(record(clock), dedupe), {
      queued: true,
    });
    assert.equal(await store.flush(["default"]), 1);
    assert.deepEqual(await store.enqueueUnique(record(clock), dedupe), {
      queued: true,
    });
  },
);

storeTest(
  "an id is looked at before a dedupe key",
  async ({ clock, store }) => {
    const first = record(clock, { id: "both" });
    await store.enqueueUnique(first, { key: "kk", ttl: 60 });
    assert.deepEqual(
      duplicateOf(
        await store.enqueueUnique(record(clock, { id: "both" }), {
          key: "zz",
          ttl: 60,
        }),
        "id",
      ),
      first,
    );
    assert.deepEqual(
      duplicateOf(
        await store.enqueueUnique(record(clock), { key: "kk", ttl: 60 }),
        "dedupe",
      ),
      first,
    );
    // The key "zz" was not taken by the duplicate.
    assert.deepEqual(
      await store.enqueueUnique(record(clock), { key: "zz", ttl: 60 }),
      { queued: true },
    );
  },
);

storeTest(
  "20 calls at once, from 4 stores on one data, queue one task of an id or a key",
  async ({ clock, store, open }) => {
    const stores = [
      store,
      await open(store),
      await open(store),
      await open(store),
    ];
    const byId = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          stores[i % 4].enqueueUnique(
            record(clock, { id: "once", kwargs: { i } }),
          ),
      ),
    );
    assert.equal(byId.filter((outcome) => outcome.queued).length, 1);
    const winner = await store.get("once");
    for (const outcome of byId) {
      if (!outcome.queued) assert.deepEqual(outcome.task, winner);
    }
    const byKey = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          stores[i % 4].enqueueUnique(record(clock, { kwargs: { i } }), {
            key: "one",
            ttl: 60,
          }),
      ),
    );
    assert.equal(byKey.filter((outcome) => outcome.queued).length, 1);
    assert.deepEqual(await queueSizes(store, ["default"]), [2]);
  },
);

storeTest(
  "a batch with an id that is stored still fails all or none",
  async ({ clock, store }) => {
    await store.enqueueUnique(record(clock, { id: "taken" }));
    const fresh = record(clock);
    await assert.rejects(
      store.enqueue([fresh, record(clock, { id: "taken" })]),
      /taken/,
    );
    assert.equal(await store.get(fresh.id), undefined);
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
  },
);

Deno.test("dedupe: bad ids and dedupe options are refused, naming the option and value", async () => {
  await using api = await producerFor({ dataStore: "sqlite::memory:" });
  const id = /'id' must be 1 to 128 characters of \[A-Za-z0-9_\.:-\]/;
  const cases: Array<[unknown, RegExp]> = [
    [{ id: "a b" }, new RegExp(`${id.source}.*: got "a b"$`)],
    [{ id: "x".repeat(129) }, new RegExp(`${id.source}.*: got "x{129}"$`)],
    [{ id: "" }, new RegExp(`${id.source}.*: got ""$`)],
    [{ id: 42 }, new RegExp(`${id.source}.*: got 42$`)],
    [{ id: ".." }, new RegExp(`${id.source}.*: got "\\.\\."$`)],
    [{ id: "{tag}" }, new RegExp(`${id.source}.*: got "\\{tag\\}"$`)],
    [
      { dedupe: "k" },
      /'dedupe' must be an object \{ key, ttl \}: got "k"$/,
    ],
    [
      { dedupe: { key: "", ttl: 1 } },
      /'dedupe\.key' must be a string of 1 to 256 characters: got ""$/,
    ],
    [
      { dedupe: { key: "k", ttl: 0 } },
      /'dedupe\.ttl' must be a positive number of seconds: got 0$/,
    ],
    [{ dedupe: { key: "k", ttl: 1, tll: 2 } }, /Unknown option 'tll'/],
    [
      { dedupe: { key: "k", ttl: 1 }, queue: false },
      /'dedupe' and 'queue' false/,
    ],
  ];
  for (const [options, message] of cases) {
    const future = api.tasks.queue("addition", {}, options as QueueOptions);
    await assert.rejects(future.then(), (error: Error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    });
    await assert.rejects(future.queued, TypeError);
  }
  await assert.rejects(
    api.tasks.queueMany("addition", [{}], { id: "x" }),
    /Cannot queue many tasks with 'id'/,
  );
  assert.deepEqual(await api.store.queueNames(), []);
  // A good one: 128 characters of the set.
  const long = "aZ09_.:-".repeat(16);
  const future = api.tasks.queue("addition", {}, { id: long, callback: false });
  assert.equal(future.id, long);
  assert.deepEqual(await future.queued, { id: long, duplicate: false });
  assert.equal((await future).id, long);
});

/** Waits until `seconds` of real time after `since` (Unix seconds). */
async function after(since: number, seconds: number): Promise<void> {
  const wait = (since + seconds) * 1000 - Date.now();
  if (wait > 0) await delay(wait);
}

const API_RESULT_TTL = 3;

for (const name of ["sqlite", "redis"] as const) {
  Deno.test(`dedupe through the API with a server (${name})`, async (t) => {
    await using dir = await tempDir();
    const dataStore = name === "sqlite"
      ? `sqlite:${dir.path}/pq.sqlite`
      : redis.url(`api${crypto.randomUUID().slice(0, 8)}`);
    await using server = startServer(serverArgs({
      workers: 1,
      concurrentTasks: 4,
      dataStore,
      taskPaths: EXAMPLE_JOBS,
      taskQueues: "dq",
      defaultTaskQueue: "dq",
      taskPoolTimeout: 0.05,
      resultTtl: API_RESULT_TTL,
    }));
    await using api = await producerFor({
      dataStore,
      taskQueues: ["dq"],
      defaultTaskQueue: "dq",
      resultTtl: API_RESULT_TTL,
    });
    await server.ready();
    const id = `sum-${crypto.randomUUID().slice(0, 8)}`;

    await t.step(
      "the same id twice queues one task; the second future follows it",
      async () => {
        const first = api.tasks.queue("asynchronous", { lag: 0.5 }, {
          id,
          callback: false,
        });
        assert.equal(first.id, id);
        assert.deepEqual(await first.queued, { id, duplicate: false });
        // Queued or running by now: the second waits for the first's end.
        const second = api.tasks.queue("asynchronous", { lag: 9 }, { id });
        assert.equal(second.id, id);
        assert.deepEqual(await second.queued, {
          id,
          duplicate: true,
          reason: "id",
        });
        const task = await second;
        assert.equal(task.id, id);
        assert.equal(task.status, TaskStatus.SUCCESS);
        assert.deepEqual(task.kwargs, { lag: 0.5 });
        const done = await (await first).doneCallback!;
        assert.equal(done.timeEnded, task.timeEnded);
      },
    );

    await t.step(
      "an id whose task finished, and is kept, resolves with it at once",
      async () => {
        const future = api.tasks.queue("asynchronous", { lag: 9 }, { id });
        const task = await future;
        assert.equal((await future.queued).duplicate, true);
        assert.deepEqual(task.kwargs, { lag: 0.5 });
        assert.equal(task.status, TaskStatus.SUCCESS);
        const queued = await api.tasks.queue("asynchronous", {}, {
          id,
          callback: false,
        });
        assert.equal(queued.statusString, "SUCCESS");
        assert.equal((await queued.doneCallback!).status, TaskStatus.SUCCESS);
        // A task of another job is not followed: its result is not this job's.
        await assert.rejects(
          Promise.resolve(api.tasks.queue("addition", {}, { id })),
          {
            name: "TypeError",
            message:
              `Cannot queue task of job 'addition' with id '${id}': a task of job 'asynchronous' holds that id (SUCCESS); give this task another id, or queue job 'asynchronous' to follow that task`,
          },
        );
      },
    );

    await t.step(
      "once the task is past its retention, the id queues anew",
      async () => {
        const old = await api.tasks.get(id);
        await after(old!.timeEnded!, API_RESULT_TTL + 0.2);
        const future = api.tasks.queue("addition", { a: 1, b: 2 }, { id });
        assert.deepEqual(await future.queued, { id, duplicate: false });
        const task = await future;
        assert.equal(task.result, 3);
        assert.equal(task.id, id);
      },
    );

    await t.step(
      "a dedupe key: a repeat within its ttl follows the first task, then a new one queues",
      async () => {
        const dedupe = { key: `report-${crypto.randomUUID()}`, ttl: 1 };
        const first = api.tasks.queue("addition", { a: 1, b: 1 }, {
          dedupe,
          callback: false,
        });
        await first;
        const repeat = api.tasks.queue("addition", { a: 5, b: 5 }, { dedupe });
        assert.notEqual(repeat.id, first.id);
        assert.deepEqual(await repeat.queued, {
          id: first.id,
          duplicate: true,
          reason: "dedupe",
        });
        const task = await repeat;
        assert.equal(task.id, first.id);
        assert.equal(task.result, 2);
        assert.equal(await api.tasks.get(repeat.id), undefined);
        // The task holding the key has finished: a repeat resolves at once.
        const finished = api.tasks.queue("addition", { a: 7 }, { dedupe });
        assert.equal((await finished).timeEnded, task.timeEnded);
        assert.equal((await finished.queued).id, first.id);
        await after(task.timeQueued, dedupe.ttl + 0.1);
        const later = api.tasks.queue("addition", { a: 5, b: 5 }, { dedupe });
        assert.deepEqual(await later.queued, {
          id: later.id,
          duplicate: false,
        });
        assert.equal((await later).result, 10);
      },
    );

    await t.step(
      "20 queue calls at once with one id queue one task",
      async () => {
        const queue = `parked-${crypto.randomUUID().slice(0, 8)}`;
        const once = `once-${crypto.randomUUID().slice(0, 8)}`;
        const futures = Array.from(
          { length: 20 },
          (_, i) =>
            api.tasks.queue("addition", { a: i }, {
              id: once,
              queue,
              callback: false,
            }),
        );
        const receipts = await Promise.all(futures.map((f) => f.queued));
        assert.equal(receipts.filter((r) => !r.duplicate).length, 1);
        assert.deepEqual(await queueSizes(api.store, [queue]), [1]);
        const tasks = await Promise.all(futures);
        const kwargs = (await api.tasks.get(once))!.kwargs;
        for (const task of tasks) {
          assert.equal(task.id, once);
          assert.deepEqual(task.kwargs, kwargs);
        }
        assert.equal(await api.store.flush([queue]), 1);
      },
    );
  });
}

Deno.test("dedupe: pq queue --id twice queues one task, and says so", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlite`;
  // Client commands never create a store.
  await (await SqliteStore.open(path, { serializer: "json", resultTtl: 60 }))
    .close();
  const store = `sqlite:${path}`;
  const queue = ["--queue", "cliq"];
  const first = await pq(
    store,
    "queue",
    "addition",
    "a=1",
    "--id",
    "x",
    ...queue,
  );
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^Queued task\.addition<x><QUEUED> on queue cliq/);
  const second = await pq(
    store,
    "queue",
    "addition",
    "a=2",
    "--id",
    "x",
    ...queue,
  );
  assert.equal(second.code, 0, second.stderr);
  assert.match(
    second.stdout,
    /^Not queued: task\.addition<x><QUEUED> is there already on queue cliq \(same id\)/,
  );
  const json = await pq(
    store,
    "queue",
    "addition",
    "--id",
    "x",
    "--json",
    ...queue,
  );
  assert.equal(JSON.parse(json.stdout).duplicate, true);
  assert.deepEqual(JSON.parse(json.stdout).kwargs, { a: 1 });
  const sizes = await pq(store, "queues", "cliq", "--json");
  assert.equal(JSON.parse(sizes.stdout).cliq.tasks, 1);
  const bad = await pq(store, "queue", "addition", "--id", "a b");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /'id' must be 1 to 128 characters.*got "a b"/);
});

Deno.test("dedupe (managed sqlite): the manager hears the queued tasks, not the duplicates", async () => {
  const clock = new ManualClock();
  const store = await managedOpener(openSqlite, manager)({
    serializer: "json",
    resultTtl: RESULT_TTL,
    now: clock.now,
  });
  try {
    manager.heard.length = 0;
    const first = record(clock, { id: "told" });
    const keyed = record(clock);
    await store.enqueueUnique(first);
    await store.enqueueUnique(record(clock, { id: "told" }));
    await store.enqueueUnique(keyed, { key: "k", ttl: 5 });
    await store.enqueueUnique(record(clock), { key: "k", ttl: 5 });
    assert.deepEqual(
      manager.heard.map(({ event, data }) => [event, (data as TaskRecord).id]),
      [["queued", first.id], ["queued", keyed.id]],
    );
  } finally {
    await store.close();
  }
});
