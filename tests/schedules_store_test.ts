/**
 * The schedules role of the store (`ScheduleStore`): a definition kept with
 * its run state, changes that bump the version, and a run taken once by
 * compare-and-set; on SQLite, Redis, a Redis Cluster, a SplitStore and a
 * managed store. A schedules table added to a file of an older pq.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { checkSchedule } from "../src/model/schedule.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import { decoratedStores, storeTests } from "./_contract_stores.ts";

const { stores } = await decoratedStores();
const test = storeTests("schedules", stores, 60);

const nightly = checkSchedule({
  id: "nightly",
  job: "report",
  kwargs: { kind: "daily", when: "02:30" },
  options: { queue: "reports", priority: 5 },
  cron: "30 2 * * *",
  timezone: "Europe/Berlin",
  limit: 3,
});

test("an upserted schedule is read back as written, with a fresh state", async ({ store, clock }) => {
  assert.equal(await store.schedule("nightly"), undefined);
  assert.equal(await store.upsertSchedule(nightly), true);
  const read = await store.schedule("nightly");
  assert.deepEqual(read, {
    definition: nightly,
    state: {
      version: 1,
      runs: 0,
      paused: false,
      since: clock.t,
      created: clock.t,
    },
  });
  assert.deepEqual(await store.schedules(), [read]);
});

test("an upsert of an existing id replaces its definition and keeps its runs", async ({ store, clock }) => {
  await store.upsertSchedule(nightly);
  const created = clock.t;
  assert.equal(
    await store.takeScheduleRun("nightly", 100, { version: 1, runs: 0 }),
    true,
  );
  clock.advance(10);
  const every = checkSchedule({ id: "nightly", job: "report", every: 60 });
  assert.equal(await store.upsertSchedule(every), false);
  assert.deepEqual(await store.schedule("nightly"), {
    definition: every,
    state: {
      version: 2,
      runs: 1,
      lastDue: 100,
      paused: false,
      since: clock.t,
      created,
    },
  });
});

test("a run is taken once: a second take of it, or one at a stale version or count, fails", async ({ store, open }) => {
  await store.upsertSchedule(nightly);
  const other = await open(store);
  const expected = { version: 1, runs: 0 };
  const takes = await Promise.all([
    store.takeScheduleRun("nightly", 100, expected),
    other.takeScheduleRun("nightly", 100, expected),
  ]);
  assert.deepEqual(takes.sort(), [false, true]);
  // The same due time again, even at the new count: not after the last.
  assert.equal(
    await store.takeScheduleRun("nightly", 100, { version: 1, runs: 1 }),
    false,
  );
  // A later due time at a stale count, or a stale version: refused.
  assert.equal(await store.takeScheduleRun("nightly", 200, expected), false);
  assert.equal(
    await store.takeScheduleRun("nightly", 200, { version: 2, runs: 1 }),
    false,
  );
  assert.equal(
    await other.takeScheduleRun("nightly", 200, { version: 1, runs: 1 }),
    true,
  );
  const { state } = (await store.schedule("nightly"))!;
  assert.equal(state.runs, 2);
  assert.equal(state.lastDue, 200);
  assert.equal(
    await store.takeScheduleRun("unknown", 1, { version: 1, runs: 0 }),
    false,
  );
});

test("a paused schedule takes no run; a resume bumps the version and moves since", async ({ store, clock }) => {
  await store.upsertSchedule(nightly);
  assert.equal(await store.setSchedulePaused("nightly", true), true);
  assert.equal(await store.setSchedulePaused("nightly", true), false);
  let { state } = (await store.schedule("nightly"))!;
  assert.equal(state.paused, true);
  assert.equal(state.version, 2);
  assert.equal(
    await store.takeScheduleRun("nightly", 100, { version: 2, runs: 0 }),
    false,
  );
  clock.advance(30);
  assert.equal(await store.setSchedulePaused("nightly", false), true);
  ({ state } = (await store.schedule("nightly"))!);
  assert.deepEqual([state.paused, state.version, state.since], [
    false,
    3,
    clock.t,
  ]);
  assert.equal(
    await store.takeScheduleRun("nightly", 100, { version: 3, runs: 0 }),
    true,
  );
  assert.equal(await store.setSchedulePaused("unknown", true), undefined);
});

test("a removed schedule is gone; schedules are listed by id", async ({ store }) => {
  for (const id of ["b", "a", "c"]) {
    await store.upsertSchedule({ ...nightly, id });
  }
  assert.deepEqual(
    (await store.schedules()).map((s) => s.definition.id),
    ["a", "b", "c"],
  );
  assert.equal(await store.removeSchedule("b"), true);
  assert.equal(await store.removeSchedule("b"), false);
  assert.equal(await store.schedule("b"), undefined);
  assert.deepEqual(
    (await store.schedules()).map((s) => s.definition.id),
    ["a", "c"],
  );
});

Deno.test("schedules: a store file of an older pq gets the schedules table on open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pq_schedules_" });
  try {
    const path = `${dir}/old.sqlite`;
    // A file as the previous pq wrote it: its tables, no schedules.
    (await SqliteStore.open(path, { serializer: "json", resultTtl: 60 }))
      .close();
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE schedules");
    db.close();
    await using store = await SqliteStore.open(path, {
      serializer: "json",
      resultTtl: 60,
    });
    assert.equal(await store.upsertSchedule(nightly), true);
    assert.equal((await store.schedules()).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
