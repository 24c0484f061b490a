/**
 * Fair queues at the store (SQLite, Redis, a Redis Cluster): the tasks of a
 * queue's groups are claimed in turn, one a group a turn, the tasks without
 * a group taking one more turn; priorities and FIFO hold within a group;
 * `groupConcurrency` holds across claimers; a paused group waits; a
 * released, redelivered, delayed or revoked task of a group, a flush and
 * the queue's stats are right.
 */
import assert from "node:assert/strict";
import type { Store } from "../src/store/store.ts";
import {
  claimRequest,
  featureStores,
  labelledRecord,
  labels,
  type ManualClock,
  storeTests,
  succeeded,
} from "./_contract_stores.ts";

const { stores: STORES } = await featureStores();
const storeTest = storeTests("fair queues", STORES, 60);

/** A queued task of `group` (none for undefined), told apart by `label`. */
function task(
  clock: ManualClock,
  label: string,
  group?: string,
  meta: Record<string, unknown> = {},
) {
  clock.advance(0.001);
  return labelledRecord(clock, label, {
    meta: group === undefined ? meta : { group, ...meta },
  });
}

/** Claims `max` at a time until none is left: the labels in order. */
async function drain(store: Store, max: number): Promise<string[]> {
  const order: string[] = [];
  for (;;) {
    const claims = await store.claim(claimRequest({ max }));
    if (claims.length === 0) return order;
    order.push(...labels(claims));
  }
}

storeTest(
  "a claim takes one task a group a turn, the tasks without a group one more turn",
  async ({ clock, store }) => {
    for (const [label, group] of [["u1"], ["u2"]]) {
      await store.enqueue([task(clock, label!, group)]);
    }
    // One call for the first tenant's backlog, as a producer would.
    await store.enqueue(
      ["a1", "a2", "a3", "a4", "a5"].map((label) => task(clock, label, "A")),
    );
    await store.enqueue([task(clock, "b1", "B"), task(clock, "b2", "B")]);
    await store.enqueue([task(clock, "c1", "C")]);
    const claims = await store.claim(claimRequest({ max: 100 }));
    assert.deepEqual(labels(claims), [
      "u1",
      "a1",
      "b1",
      "c1",
      "u2",
      "a2",
      "b2",
      "a3",
      "a4",
      "a5",
    ]);
  },
);

storeTest(
  "the turns go on from one claim to the next",
  async ({ clock, store }) => {
    await store.enqueue(["a1", "a2", "a3"].map((l) => task(clock, l, "A")));
    await store.enqueue(["b1", "b2", "b3"].map((l) => task(clock, l, "B")));
    assert.deepEqual(await drain(store, 1), [
      "a1",
      "b1",
      "a2",
      "b2",
      "a3",
      "b3",
    ]);
  },
);

storeTest(
  "priorities, then first in first out, hold within a group",
  async ({ clock, store }) => {
    await store.enqueue([
      task(clock, "low", "A", { priority: -1 }),
      task(clock, "mid1", "A"),
      task(clock, "high", "A", { priority: 5 }),
      task(clock, "mid2", "A"),
    ]);
    // The queue's latency is its oldest due task's wait, in a group too.
    clock.advance(7);
    const [stats] = await store.queueStats(["default"]);
    assert.equal(stats.ready, 4);
    assert.ok(stats.latency >= 7 && stats.latency < 8, `${stats.latency}`);
    assert.deepEqual(await drain(store, 1), ["high", "mid1", "mid2", "low"]);
  },
);

storeTest(
  "groupConcurrency holds across two claimers, and frees a slot when a task ends",
  async ({ clock, store, open }) => {
    const other = await open(store);
    const limited = { groupConcurrency: 1 };
    await store.enqueue(["a1", "a2"].map((l) => task(clock, l, "A", limited)));
    await store.enqueue(["b1", "b2"].map((l) => task(clock, l, "B")));
    const first = await store.claim(claimRequest({ max: 10 }));
    assert.deepEqual(labels(first), ["a1", "b1", "b2"]);
    assert.deepEqual(
      await other.claim(claimRequest({ max: 10, worker: "worker-2" })),
      [],
    );
    const groups = await store.queueGroups("default");
    assert.deepEqual(groups, [
      { group: "A", ready: 1, running: 1, paused: false },
      { group: "B", ready: 0, running: 2, paused: false },
    ]);
    const a1 = first.find((claim) => claim.id.startsWith("a1-"))!;
    assert.deepEqual(await store.finish([succeeded(a1, clock)]), [true]);
    const next = await other.claim(claimRequest({ max: 10, worker: "w-2" }));
    assert.deepEqual(labels(next), ["a2"]);
  },
);

storeTest(
  "a paused group waits while the others flow, and runs again once resumed",
  async ({ clock, store }) => {
    await store.enqueue(["a1", "a2"].map((l) => task(clock, l, "A")));
    await store.enqueue([task(clock, "b1", "B"), task(clock, "u1")]);
    assert.equal(await store.pauseGroup("default", "A"), true);
    assert.equal(await store.pauseGroup("default", "A"), false);
    assert.deepEqual(
      (await store.queueGroups("default")).find((g) => g.group === "A"),
      { group: "A", ready: 2, running: 0, paused: true },
    );
    assert.deepEqual(await drain(store, 10), ["u1", "b1"]);
    assert.equal(await store.resumeGroup("default", "A"), true);
    assert.equal(await store.resumeGroup("default", "A"), false);
    assert.deepEqual(await drain(store, 10), ["a1", "a2"]);
  },
);

storeTest(
  "a released or redelivered task goes back to the head of its group",
  async ({ clock, store }) => {
    await store.enqueue(["a1", "a2"].map((l) => task(clock, l, "A")));
    const [a1] = await store.claim(claimRequest({ max: 1 }));
    assert.deepEqual(labels([a1]), ["a1"]);
    await store.release([{ id: a1.id, token: a1.token }]);
    const [again] = await store.claim(claimRequest({ max: 1 }));
    assert.deepEqual(labels([again]), ["a1"]);
    // Its lease expires: the reclaim gives it back, one redelivery more.
    clock.advance(31);
    await store.reclaim(5, ["default"]);
    const [redelivered] = await store.claim(claimRequest({ max: 1 }));
    assert.deepEqual(labels([redelivered]), ["a1"]);
    assert.equal(redelivered.redeliveries, 1);
    assert.deepEqual(
      (await store.queueGroups("default")).map((g) => [g.group, g.running]),
      [["A", 1]],
    );
  },
);

storeTest(
  "a delayed task of a group waits for its time, then takes its turn",
  async ({ clock, store }) => {
    await store.enqueue([
      { ...task(clock, "later", "A"), delay: 10 },
      task(clock, "b1", "B"),
    ]);
    assert.deepEqual(await drain(store, 10), ["b1"]);
    clock.advance(11);
    assert.deepEqual(await drain(store, 10), ["later"]);
  },
);

storeTest(
  "revoke, stats and flush count the tasks of groups",
  async ({ clock, store }) => {
    const gone = task(clock, "gone", "A");
    await store.enqueue([gone, task(clock, "a2", "A"), task(clock, "u1")]);
    await store.enqueue([{ ...task(clock, "b1", "B"), delay: 10 }]);
    assert.equal(await store.revoke(gone.id), "revoked");
    const [stats] = await store.queueStats(["default"]);
    assert.equal(stats.ready, 2);
    assert.equal(stats.delayed, 1);
    assert.equal(await store.flush(["default"]), 3);
    assert.deepEqual(await store.queueGroups("default"), []);
    clock.advance(11);
    assert.deepEqual(await drain(store, 10), []);
  },
);

storeTest(
  "a bad group name is refused, naming it",
  async ({ store }) => {
    await assert.rejects(
      store.pauseGroup("default", ""),
      /Cannot pause group as 'group' must be a string of 1 to 200 characters/,
    );
    await assert.rejects(
      store.resumeGroup("default", "x".repeat(201)),
      /Cannot resume group as 'group' must be/,
    );
  },
);

storeTest(
  "a job's maxConcurrency and rate limit hold for tasks of groups",
  async ({ clock, store }) => {
    const one = { maxConcurrency: 1 };
    await store.enqueue([
      task(clock, "a1", "A", one),
      task(clock, "b1", "B", one),
    ]);
    const first = await store.claim(claimRequest({ max: 10 }));
    assert.deepEqual(labels(first), ["a1"]);
    assert.deepEqual(await store.finish([succeeded(first[0], clock)]), [true]);
    assert.deepEqual(await drain(store, 10), ["b1"]);
    const rate = { rateLimit: { tasks: 1, per: 10 } };
    await store.enqueue([
      task(clock, "r1", "R", rate),
      task(clock, "r2", "R", rate),
    ]);
    assert.deepEqual(await drain(store, 10), ["r1"]);
    clock.advance(11);
    assert.deepEqual(await drain(store, 10), ["r2"]);
  },
);
