/**
 * The store contract suite: every store runs it (see `sqlite_store_test.ts`).
 * Time is an injected clock; only event delivery and `waitForTasks` wait for
 * real time, briefly.
 * @module
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { codecFor, type CodecName } from "../src/model/codec.ts";
import { TaskStatus, type TaskStatusCode } from "../src/model/status.ts";
import { minuteOf } from "../src/store/status_history.ts";
import type {
  ChannelMessage,
  ClaimRequest,
  StatusHistory,
  Store,
  StoreOptions,
  TaskQuery,
} from "../src/store/store.ts";
import type { WorkerStatus } from "../src/model/worker_status.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { claimRequest, queuedRecord, succeeded } from "./_contract_stores.ts";
import { delay, waitFor } from "./_helpers.ts";

/** What the suite asks of a store opener. */
export interface ContractOpenOptions extends StoreOptions {
  /** Open a second store on the same data as this one (file, database). */
  sameAs?: Store;
}

/** Opens a store; a fresh, empty one unless `sameAs` is given. */
export type OpenContractStore = (
  options: ContractOpenOptions,
) => Promise<Store>;

/** How the suite runs on one store. */
export interface StoreContractOptions {
  /** The serializer the suite opens stores with. */
  serializer: CodecName;
  /**
   * Writes `payload` as the stored bytes of a queued task that is due now,
   * bypassing `enqueue`. Without it, the malformed-record tests are skipped.
   */
  injectGarbage?: (
    store: Store,
    task: { id: string; name: string; queue: string },
    payload: Uint8Array,
  ) => Promise<void>;
}

/** The time a test runs on. */
interface TestClock {
  /** Now, in Unix seconds. */
  readonly t: number;
  /** Now, as a store's `now` option. */
  readonly now: () => number;
  /** Moves the clock on (a real clock does not move). */
  advance(seconds: number): void;
}

/** A clock the tests move by hand. */
class Clock implements TestClock {
  t = 1_700_000_000.5;
  readonly now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds;
  }
}

/** A clock that is the real time. */
class RealClock implements TestClock {
  get t(): number {
    return Date.now() / 1000;
  }
  readonly now = (): number => Date.now() / 1000;
  advance(_seconds: number): void {}
}

const GARBAGE = Uint8Array.of(0xc1, 0xff, 0x00, 0x7b);

/** Resolves once `check` is true (a delivery); fails after 3 s. */
function until(check: () => boolean): Promise<void> {
  return waitFor(check, { timeout: 3000, what: "a delivery" });
}

/** What a contract test is given; its stores are closed when it ends. */
interface ContractTest {
  /** The test's clock, which its stores run on. */
  clock: TestClock;
  /** A fresh, empty store. */
  store: Store;
  /** Opens one more store: on the data of `sameAs`, else a fresh one. */
  open(sameAs?: Store): Promise<Store>;
}

/** How one contract test runs. */
interface ContractTestOptions {
  /** Not run. */
  ignore?: boolean;
  /** The stores' `resultTtl` (default 3600 s). */
  resultTtl?: number;
  /** The clock is the real time, not moved by hand. */
  realTime?: boolean;
}

/**
 * Registers the contract tests of a store, named `<name>: <behaviour>`. Each
 * test opens its stores with `open` and closes them.
 */
export function storeContract(
  name: string,
  open: OpenContractStore,
  options: StoreContractOptions,
): void {
  const { serializer, injectGarbage } = options;

  /** Opens stores on the test's clock; closed when the test ends. */
  function opener(clock: TestClock, resultTtl = 3600) {
    const stores: Store[] = [];
    return {
      async open(sameAs?: Store): Promise<Store> {
        const store = await open({
          serializer,
          resultTtl,
          now: clock.now,
          sameAs,
        });
        stores.push(store);
        return store;
      },
      async [Symbol.asyncDispose]() {
        for (const store of stores.reverse()) await store.close();
      },
    };
  }

  const record = (clock: TestClock, overrides: Partial<TaskRecord> = {}) =>
    queuedRecord(clock, { kwargs: { a: 1, b: 2 }, ...overrides });
  const request = (overrides: Partial<ClaimRequest> = {}) =>
    claimRequest({ max: 10, ...overrides });
  const success = succeeded;

  /** Registers a test, run on a fresh store and the clock it asks for. */
  const test = (
    behaviour: string,
    fn: (t: ContractTest) => Promise<void>,
    { ignore = false, resultTtl, realTime = false }: ContractTestOptions = {},
  ) => {
    Deno.test({
      name: `${name}: ${behaviour}`,
      ignore,
      async fn() {
        const clock = realTime ? new RealClock() : new Clock();
        await using stores = opener(clock, resultTtl);
        await fn({ clock, store: await stores.open(), open: stores.open });
      },
    });
  };

  test("claim takes due tasks first in, first out", async ({ clock, store }) => {
    const first = [record(clock), record(clock), record(clock)];
    await store.enqueue(first);
    const later = record(clock);
    await store.enqueue([later]);
    const ids = [...first, later].map((task) => task.id);

    clock.advance(1);
    const claims = await store.claim(request({ max: 2 }));
    assert.deepEqual(claims.map((claim) => claim.id), ids.slice(0, 2));
    const rest = await store.claim(request());
    assert.deepEqual(rest.map((claim) => claim.id), ids.slice(2));
    assert.deepEqual(await store.claim(request()), []);

    const [claim] = claims;
    assert.equal(claim.queue, "default");
    assert.equal(claim.name, "addition");
    assert.equal(claim.redeliveries, 0);
    assert.equal(claim.malformed, undefined);
    assert.equal(typeof claim.token, "string");
    assert.notEqual(claim.token, claims[1].token);
    assert.deepEqual(claim.task, {
      ...first[0],
      status: TaskStatus.STARTED,
      timeStarted: clock.t,
      worker: "worker-1",
      node: "host-1",
    });
    assert.deepEqual(await store.get(claim.id), claim.task);
  });

  test("claim takes the queues in their order, up to max in all", async ({ clock, store }) => {
    const urgent = [
      record(clock, { queue: "urgent" }),
      record(clock, {
        queue: "urgent",
      }),
    ];
    const normal = [record(clock), record(clock)];
    const delayed = record(clock, { queue: "later", delay: 5 });
    await store.enqueue([...normal, ...urgent, delayed]);
    const queues = ["empty", "urgent", "default", "later"];
    const claims = await store.claim(request({ queues, max: 3 }));
    assert.deepEqual(claims.map((claim) => [claim.queue, claim.id]), [
      ["urgent", urgent[0].id],
      ["urgent", urgent[1].id],
      ["default", normal[0].id],
    ]);
    const rest = await store.claim(request({ queues }));
    assert.deepEqual(rest.map((claim) => claim.id), [normal[1].id]);
    clock.advance(6);
    const [due] = await store.claim(request({ queues }));
    assert.deepEqual([due.queue, due.id], ["later", delayed.id]);
    // Each lease belongs to its own queue.
    const all = [...claims, ...rest, due];
    assert.deepEqual(
      await store.finish(all.map((claim) => success(claim, clock))),
      all.map(() => true),
    );
    for (const claim of all) {
      assert.equal((await store.get(claim.id))?.status, TaskStatus.SUCCESS);
    }
  });

  test("claim takes a delayed task once it is due, with the others", async ({ clock, store }) => {
    const delayed = record(clock, { delay: 5 });
    const ready = record(clock);
    const earlier = record(clock, { timeQueued: clock.t - 10 });
    await store.enqueue([delayed, ready, earlier]);
    assert.deepEqual(
      new Set((await store.claim(request({ max: 1 }))).map((c) => c.id)).has(
        delayed.id,
      ),
      false,
    );
    clock.advance(6);
    const claims = await store.claim(request());
    // Due tasks come in queue order; how a store orders tasks that were all
    // due at claim time (by due time, or by arrival) is its own.
    assert.equal(claims.length, 2);
    assert.ok(claims.some((claim) => claim.id === delayed.id));
  });

  test("claim takes due tasks in queue priority order", async ({ clock, store }) => {
    const low = [
      record(clock, { queue: "low" }),
      record(clock, { queue: "low" }),
    ];
    const high = [
      record(clock, { queue: "high" }),
      record(clock, { queue: "high" }),
    ];
    await store.enqueue(low);
    await store.enqueue(high);
    await store.enqueue([record(clock, { queue: "other" })]);

    const queues = ["high", "low"];
    const three = await store.claim(request({ queues, max: 3 }));
    assert.deepEqual(
      three.map((claim) => [claim.id, claim.queue]),
      [[high[0].id, "high"], [high[1].id, "high"], [low[0].id, "low"]],
    );
    const rest = await store.claim(request({ queues }));
    assert.deepEqual(rest.map((claim) => claim.id), [low[1].id]);
    assert.deepEqual(await queueSizes(store, ["high", "low", "other"]), [
      0,
      0,
      1,
    ]);
  });

  test("claim leaves delayed tasks until they are due", async ({ clock, store }) => {
    const task = record(clock, { delay: 30 });
    await store.enqueue([task]);
    assert.deepEqual(await store.claim(request()), []);
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
    clock.advance(29.9);
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(0.2);
    const claims = await store.claim(request());
    assert.deepEqual(claims.map((claim) => claim.id), [task.id]);
    assert.equal(claims[0].task?.timeStarted, clock.t);
  });

  test("claim skips tasks whose job is at its maxConcurrency", async ({ clock, store }) => {
    const limited = (i: number) =>
      record(clock, {
        name: "limited",
        meta: { maxConcurrency: 2 },
        kwargs: { i },
      });
    const tasks = [limited(1), limited(2), limited(3), limited(4)];
    const free = record(clock);
    await store.enqueue([...tasks, free]);

    const first = await store.claim(request({ max: 10, leaseSeconds: 10 }));
    assert.deepEqual(
      first.map((claim) => claim.id),
      [tasks[0].id, tasks[1].id, free.id],
    );
    assert.deepEqual(await queueSizes(store, ["default"]), [2]);
    assert.deepEqual(await store.claim(request()), []);

    // A finished task frees its slot.
    assert.deepEqual(await store.finish([success(first[0], clock)]), [true]);
    const second = await store.claim(request());
    assert.deepEqual(second.map((claim) => claim.id), [tasks[2].id]);

    // A task whose lease expired (first[1]) holds no slot, even before
    // reclaim; second[0] still does.
    clock.advance(11);
    const third = await store.claim(request());
    assert.deepEqual(third.map((claim) => claim.id), [tasks[3].id]);
  });

  test(
    "claim returns an undecodable record as malformed, under a lease",
    async ({ clock, store }) => {
      const good = record(clock);
      await store.enqueue([good]);
      const id = newTaskId();
      await injectGarbage!(
        store,
        { id, name: "broken", queue: "default" },
        GARBAGE,
      );

      const claims = await store.claim(request());
      const bad = claims.find((claim) => claim.id === id);
      assert.ok(bad, "the malformed task is claimed");
      assert.equal(claims.length, 2);
      assert.equal(bad.task, undefined);
      // The name is optional on a malformed claim: "as far as known".
      if (bad.name !== undefined) assert.equal(bad.name, "broken");
      assert.equal(bad.queue, "default");
      assert.equal(typeof bad.token, "string");
      assert.equal(typeof bad.malformed, "string");
      assert.ok(bad.malformed!.length > 0);
      await assert.rejects(store.get(id));
      assert.deepEqual(await store.claim(request()), []);

      // Its holder records why it failed.
      const failure: TaskRecord = {
        ...record(clock, { id, name: "broken" }),
        status: TaskStatus.FAILURE,
        result: bad.malformed,
        timeEnded: clock.t,
      };
      assert.deepEqual(
        await store.finish([{ id, token: bad.token, task: failure }]),
        [true],
      );
      assert.deepEqual(await store.get(id), failure);
    },
    { ignore: !injectGarbage },
  );

  test(
    "claim returns a record that fails validation as malformed, naming the field",
    async ({ clock, store }) => {
      const id = newTaskId();
      const invalid = { ...record(clock, { id }), kwargs: "not a dict" };
      await injectGarbage!(
        store,
        { id, name: "addition", queue: "default" },
        codecFor(serializer).encode(invalid),
      );
      const [claim] = await store.claim(request());
      assert.equal(claim.id, id);
      assert.equal(claim.task, undefined);
      if (claim.name !== undefined) assert.equal(claim.name, "addition");
      assert.match(claim.malformed ?? "", /field 'kwargs'/);
      await assert.rejects(store.get(id), /field 'kwargs'/);
    },
    { ignore: !injectGarbage },
  );

  test("enqueue writes all tasks or none", async ({ clock, store }) => {
    const existing = record(clock);
    await store.enqueue([existing]);
    const fresh = record(clock);
    await assert.rejects(
      store.enqueue([fresh, { ...record(clock), id: existing.id }]),
      new RegExp(existing.id),
    );
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
    assert.equal(await store.get(fresh.id), undefined);
    await store.enqueue([]);
  });

  test("get returns the stored record as it was queued", async ({ clock, store }) => {
    const task = record(clock, {
      kwargs: {
        text: "héllo ✓ 𝄞",
        list: [1, 2.5, -3, null, true, "x"],
        nested: { deep: { deeper: [{}] } },
        big: 2 ** 40,
      },
      meta: { maxRetries: 2, retryDelay: 1.5, maxConcurrency: 3 },
      timeout: 60,
      fromTask: newTaskId(),
      delay: 2.5,
    });
    await store.enqueue([task]);
    assert.deepEqual(await store.get(task.id), task);
    assert.equal(await store.get(newTaskId()), undefined);
  });

  test("renew extends a lease and reports lost ones", async ({ clock, store }) => {
    const task = record(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(request({ leaseSeconds: 10 }));
    const lease = { id: claim.id, token: claim.token };

    clock.advance(8);
    assert.deepEqual(await store.renew([lease], 10), { lost: [], revoked: [] });
    clock.advance(8); // Past the first lease, within the renewed one.
    assert.deepEqual(await store.reclaim(5), {
      redelivered: 0,
      failed: 0,
      changed: [],
    });
    assert.deepEqual(await store.renew([lease], 10), { lost: [], revoked: [] });

    const stranger = { id: claim.id, token: "not-the-token" };
    const unknown = { id: newTaskId(), token: claim.token };
    const { lost, revoked } = await store.renew(
      [lease, stranger, unknown],
      10,
    );
    assert.deepEqual(lost.toSorted(), [stranger.id, unknown.id].toSorted());
    assert.deepEqual(revoked, []);
    assert.deepEqual(await store.renew([], 10), { lost: [], revoked: [] });
  });

  test("a worker that lost its lease cannot finish the task", async ({ clock, store }) => {
    const task = record(clock);
    await store.enqueue([task]);
    const [stale] = await store.claim(request({ leaseSeconds: 10 }));
    clock.advance(11);
    assert.deepEqual(await store.reclaim(3), {
      redelivered: 1,
      failed: 0,
      changed: [task.id],
    });
    assert.deepEqual(await store.renew([stale], 10), {
      lost: [task.id],
      revoked: [],
    });

    const [fresh] = await store.claim(request({ worker: "worker-2" }));
    assert.equal(fresh.id, task.id);
    assert.equal(fresh.redeliveries, 1);
    assert.notEqual(fresh.token, stale.token);
    assert.equal(fresh.task?.worker, "worker-2");

    assert.deepEqual(await store.finish([success(stale, clock, "stale")]), [
      false,
    ]);
    assert.equal((await store.get(task.id))?.status, TaskStatus.STARTED);
    assert.deepEqual(
      await store.finish([
        success(fresh, clock, "fresh"),
        success(stale, clock, "stale"),
      ]),
      [true, false],
    );
    const stored = await store.get(task.id);
    assert.equal(stored?.status, TaskStatus.SUCCESS);
    assert.equal(stored?.result, "fresh");
    // Finished is final: the same lease cannot write twice.
    assert.deepEqual(await store.finish([success(fresh, clock, "again")]), [
      false,
    ]);
  });

  test("reclaim redelivers expired leases, then fails after maxRedeliveries", async ({ clock, store }) => {
    const task = record(clock);
    await store.enqueue([task]);
    const live = record(clock);

    for (let redeliveries = 0; redeliveries < 2; redeliveries++) {
      const [claim] = await store.claim(request({ leaseSeconds: 10 }));
      assert.equal(claim.id, task.id);
      assert.equal(claim.redeliveries, redeliveries);
      clock.advance(9);
      assert.deepEqual(await store.reclaim(2), {
        redelivered: 0,
        failed: 0,
        changed: [],
      });
      clock.advance(2);
      assert.deepEqual(await store.reclaim(2), {
        redelivered: 1,
        failed: 0,
        changed: [task.id],
      });
      const queued = await store.get(task.id);
      assert.equal(queued?.status, TaskStatus.QUEUED);
      assert.equal(queued?.timeQueued, task.timeQueued);
      assert.equal(queued?.timeStarted ?? null, null);
      assert.equal(queued?.worker ?? null, null);
    }
    await store.enqueue([live]);
    const claims = await store.claim(request({ leaseSeconds: 10 }));
    assert.deepEqual(claims.map((claim) => claim.id), [task.id, live.id]);
    assert.equal(claims[0].redeliveries, 2);
    clock.advance(5);
    await store.renew([claims[1]], 60);
    clock.advance(6);
    assert.deepEqual(await store.reclaim(2), {
      redelivered: 0,
      failed: 1,
      changed: [task.id],
    });

    const failed = await store.get(task.id);
    assert.equal(failed?.status, TaskStatus.FAILURE);
    assert.equal(
      failed?.result,
      "Task redelivered too many times: its lease expired 3 times (maxRedeliveries 2)",
    );
    assert.equal(failed?.timeEnded, clock.t);
    assert.deepEqual(await store.claim(request()), []);
    assert.equal((await store.get(live.id))?.status, TaskStatus.STARTED);
  });

  test("release puts tasks back without counting a redelivery", async ({ clock, store }) => {
    const tasks = [record(clock), record(clock)];
    await store.enqueue(tasks);
    const claims = await store.claim(request());
    await store.release([
      claims[0],
      { id: claims[1].id, token: "not-the-token" },
    ]);
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
    const released = await store.get(tasks[0].id);
    assert.equal(released?.status, TaskStatus.QUEUED);
    assert.equal(released?.timeStarted ?? null, null);
    assert.equal(released?.worker ?? null, null);
    assert.equal(released?.node ?? null, null);
    assert.equal((await store.get(tasks[1].id))?.status, TaskStatus.STARTED);
    // The old token is gone with the lease.
    assert.deepEqual(await store.finish([success(claims[0], clock)]), [false]);

    const [again] = await store.claim(request());
    assert.equal(again.id, tasks[0].id);
    assert.equal(again.redeliveries, 0);
    await store.release([]);
  });

  test("finish queues the retry record in the same step", async ({ clock, store }) => {
    const task = record(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(request());
    const retry = record(clock, {
      retry: 2,
      delay: 5,
      fromTask: task.id,
      kwargs: task.kwargs,
    });
    const outcome: TaskRecord = {
      ...claim.task!,
      status: TaskStatus.RETRY,
      result: "boom",
      timeEnded: clock.t,
      meta: { nextTask: retry.id },
    };
    assert.deepEqual(
      await store.finish([{
        id: claim.id,
        token: claim.token,
        task: outcome,
        retry,
      }]),
      [true],
    );
    assert.deepEqual(await store.get(task.id), outcome);
    assert.deepEqual(await store.get(retry.id), retry);
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
    assert.deepEqual(await store.claim(request()), []);
    clock.advance(5);
    const [next] = await store.claim(request());
    assert.equal(next.id, retry.id);
    assert.equal(next.task?.retry, 2);

    // A lost lease writes neither the outcome nor the retry.
    const orphan = record(clock);
    assert.deepEqual(
      await store.finish([{
        id: next.id,
        token: "not-the-token",
        task: { ...next.task!, status: TaskStatus.RETRY },
        retry: orphan,
      }]),
      [false],
    );
    assert.equal(await store.get(orphan.id), undefined);
    assert.deepEqual(await store.finish([]), []);
  });

  test("revoke revokes a queued task, saying so in its result", async ({ clock, store, open }) => {
    const watcher = await open(store);
    const done: TaskRecord[] = [];
    const unsubscribe = await watcher.subscribe("task", (message) => {
      if (message.event === "done") done.push(message.data as TaskRecord);
    });
    const task = record(clock, { delay: 10 });
    const ready = record(clock);
    await store.enqueue([task, ready]);
    clock.advance(1);
    assert.equal(await store.revoke(task.id), "revoked");
    const revoked = await store.get(task.id);
    assert.deepEqual(revoked, {
      ...task,
      status: TaskStatus.REVOKED,
      result: `Task ${task.id} was revoked before it started`,
      timeEnded: clock.t,
    });
    assert.equal(await store.revoke(ready.id), "revoked");
    assert.equal(
      (await store.get(ready.id))?.result,
      `Task ${ready.id} was revoked before it started`,
    );
    // Whoever waits on the task learns why from its done event.
    await until(() => done.length >= 2);
    assert.deepEqual(done[0], revoked);
    await unsubscribe();
    assert.deepEqual(await queueSizes(store, ["default"]), [0]);
    clock.advance(10);
    assert.deepEqual(await store.claim(request()), []);
    assert.equal(await store.revoke(task.id), "finished");
  });

  test("revoke asks the worker of a running task to stop it", async ({ clock, store }) => {
    const tasks = [record(clock), record(clock)];
    await store.enqueue(tasks);
    const claims = await store.claim(request());
    assert.equal(await store.revoke(tasks[0].id), "requested");
    assert.equal((await store.get(tasks[0].id))?.status, TaskStatus.STARTED);
    assert.deepEqual(await store.renew(claims, 30), {
      lost: [],
      revoked: [tasks[0].id],
    });
    const outcome = {
      ...claims[0].task!,
      status: TaskStatus.REVOKED,
      timeEnded: clock.t,
    };
    assert.deepEqual(
      await store.finish([{ ...claims[0], task: outcome }]),
      [true],
    );
    assert.equal(await store.revoke(tasks[0].id), "finished");
    assert.equal(await store.revoke(newTaskId()), "unknown");
  });

  test("a running task whose revoke was asked for ends REVOKED, saying why, when its worker gives it back or its lease expires", async ({ clock, store }) => {
    const released = record(clock);
    const expiring = record(clock);
    const live = record(clock);
    await store.enqueue([released, expiring, live]);
    const [releasedClaim] = await store.claim(request({ leaseSeconds: 10 }));
    assert.equal(await store.revoke(released.id), "requested");
    assert.equal(await store.revoke(expiring.id), "requested");
    const reason = (id: string) =>
      `Task ${id} was revoked while running; its worker stopped before recording its end`;
    const assertRevoked = async (id: string) => {
      const ended = await store.get(id);
      assert.equal(ended?.status, TaskStatus.REVOKED, id);
      assert.equal(ended?.result, reason(id));
      assert.equal(ended?.timeEnded, clock.t);
    };

    // A worker shutting down gives it back: it is not queued again.
    clock.advance(1);
    await store.release([releasedClaim]);
    await assertRevoked(released.id);

    // A lease that expires ends it, where a task not revoked runs again:
    // neither redelivered nor failed, but changed.
    clock.advance(10);
    const report = await store.reclaim(5);
    assert.deepEqual(
      { ...report, changed: report.changed.toSorted() },
      {
        redelivered: 1,
        failed: 0,
        changed: [expiring.id, live.id].toSorted(),
      },
    );
    await assertRevoked(expiring.id);

    // A revoke comes before maxRedeliveries: REVOKED, not FAILURE.
    const [again] = await store.claim(request({ leaseSeconds: 10 }));
    assert.equal(again.id, live.id);
    assert.equal(await store.revoke(live.id), "requested");
    clock.advance(11);
    assert.deepEqual(await store.reclaim(0), {
      redelivered: 0,
      failed: 0,
      changed: [live.id],
    });
    await assertRevoked(live.id);
    assert.deepEqual(await store.finish([success(again, clock)]), [false]);
    assert.deepEqual(await queueSizes(store, ["default"]), [0]);
    assert.deepEqual(await store.claim(request()), []);
    for (const task of [released, expiring, live]) {
      assert.equal(await store.revoke(task.id), "finished");
    }
  });

  test("sizes counts queued tasks, ready or delayed", async ({ clock, store }) => {
    await store.enqueue([
      record(clock),
      record(clock, { delay: 100 }),
      record(clock, { queue: "b" }),
      record(clock),
    ]);
    assert.deepEqual(await queueSizes(store, ["default", "b", "empty"]), [
      3,
      1,
      0,
    ]);
    await store.claim(request({ max: 1 }));
    assert.deepEqual(await queueSizes(store, ["default", "b"]), [2, 1]);
    assert.deepEqual(await queueSizes(store, []), []);
  });

  test("queueNames lists the queues holding queued or running tasks, sorted", async ({ clock, store, open }) => {
    const other = await open(store);
    assert.deepEqual(await store.queueNames(), []);

    const running = record(clock, { queue: "running" });
    const finished = record(clock, { queue: "finished" });
    const revoked = record(clock, { queue: "revoked", delay: 60 });
    await store.enqueue([
      record(clock, { queue: "fast" }),
      record(clock, { queue: "delayed", delay: 60 }),
      record(clock, { queue: "{app}.high" }),
      record(clock, { queue: "lane:2 é" }),
      record(clock, { queue: "flushed" }),
      running,
      finished,
      revoked,
    ]);
    // A key that only looks like a queue's (on Redis: `<ns>:lock:fake:tasks`).
    assert.equal(await store.acquireLock("fake:tasks", "me", 60), true);
    const [runningClaim] = await store.claim(request({ queues: ["running"] }));
    const [finishedClaim] = await store.claim(
      request({ queues: ["finished"] }),
    );
    assert.deepEqual(await store.finish([success(finishedClaim, clock)]), [
      true,
    ]);
    assert.equal(await store.flush(["flushed"]), 1);
    assert.equal(await store.revoke(revoked.id), "revoked");

    const holding = [
      "delayed",
      "fast",
      "lane:2 é",
      "running",
      "{app}.high",
    ];
    assert.deepEqual(await store.queueNames(), holding);
    assert.deepEqual(await other.queueNames(), holding);

    // A queue is listed while it holds a task, and no longer.
    assert.deepEqual(await store.finish([success(runningClaim, clock)]), [
      true,
    ]);
    assert.equal(await store.flush(["fast", "{app}.high"]), 2);
    assert.deepEqual(await store.queueNames(), ["delayed", "lane:2 é"]);
  });

  test("flush drops the queued tasks of the queues only", async ({ clock, store }) => {
    const running = record(clock);
    await store.enqueue([running]);
    const [claim] = await store.claim(request());
    const dropped = [record(clock), record(clock, { delay: 50 })];
    const kept = record(clock, { queue: "keep" });
    await store.enqueue([...dropped, kept, record(clock, { queue: "b" })]);

    assert.equal(await store.flush(["default", "b"]), 3);
    assert.deepEqual(await queueSizes(store, ["default", "b", "keep"]), [
      0,
      0,
      1,
    ]);
    assert.equal(await store.get(dropped[0].id), undefined);
    assert.deepEqual(await store.get(kept.id), kept);
    assert.deepEqual(await store.finish([success(claim, clock)]), [true]);
    assert.equal(await store.flush(["default"]), 0);
  });

  test(
    "finished tasks are dropped after resultTtl",
    async ({ clock, store }) => {
      const tasks = [record(clock), record(clock)];
      await store.enqueue(tasks);
      const claims = await store.claim(request({ leaseSeconds: 1000 }));
      assert.deepEqual(await store.finish([success(claims[0], clock)]), [true]);
      clock.advance(9);
      await store.reclaim(5);
      assert.equal((await store.get(tasks[0].id))?.status, TaskStatus.SUCCESS);
      clock.advance(2);
      await store.reclaim(5);
      assert.equal(await store.get(tasks[0].id), undefined);
      assert.equal(await store.revoke(tasks[0].id), "unknown");
      // Running tasks are kept however old.
      assert.equal((await store.get(tasks[1].id))?.status, TaskStatus.STARTED);
    },
    { resultTtl: 10 },
  );

  test("locks are exclusive until released or expired", async ({ clock, store, open }) => {
    const other = await open(store);
    assert.equal(await store.acquireLock("beat", "a", 10), true);
    assert.equal(await other.acquireLock("beat", "b", 10), false);
    assert.equal(await store.acquireLock("other", "b", 10), true);
    assert.equal(await store.acquireLock("beat", "a", 10), true);
    assert.equal(await other.releaseLock("beat", "b"), false);
    clock.advance(9);
    assert.equal(await other.acquireLock("beat", "b", 10), false);
    clock.advance(2);
    assert.equal(await other.acquireLock("beat", "b", 10), true);
    assert.equal(await store.acquireLock("beat", "a", 10), false);
    assert.equal(await store.releaseLock("beat", "a"), false);
    assert.equal(await other.releaseLock("beat", "b"), true);
    assert.equal(await other.releaseLock("beat", "b"), false);
    assert.equal(await store.acquireLock("beat", "a", 10), true);
  });

  test("messages reach subscribers of another store instance", async ({ store: publisher, open }) => {
    const subscriber = await open(publisher);
    await publisher.publish({ channel: "news", event: "old", data: 0 });

    const received: ChannelMessage[] = [];
    const unsubscribe = await subscriber.subscribe(
      "news",
      (message) => received.push(message),
    );
    await publisher.publish({ channel: "other", event: "skip", data: 1 });
    const data = { text: "héllo", list: [1, null, { a: true }] };
    await publisher.publish({ channel: "news", event: "first", data });
    await publisher.publish({ channel: "news", event: "second", data: null });
    await until(() => received.length >= 2);
    assert.deepEqual(received, [
      { channel: "news", event: "first", data },
      { channel: "news", event: "second", data: null },
    ]);
    await unsubscribe();
    await unsubscribe();
  });

  test("task transitions publish queued, started and done", async ({ clock, store, open }) => {
    const watcher = await open(store);
    const events: [string, TaskRecord][] = [];
    const unsubscribe = await watcher.subscribe("task", (message) => {
      events.push([message.event, message.data as TaskRecord]);
    });
    const task = record(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(request());
    const outcome = success(claim, clock, 42);
    await store.finish([outcome]);
    await until(() => events.length >= 3);
    assert.deepEqual(events, [
      ["queued", task],
      ["started", claim.task],
      ["done", outcome.task],
    ]);
    await unsubscribe();
  });

  test("a batch publishes one event per task, in order, to every subscriber", async ({ clock, store, open }) => {
    const watcher = await open(store);
    const seen: Array<[string, string]> = [];
    const unsubscribe = await watcher.subscribe("task", (message) => {
      seen.push([message.event, (message.data as TaskRecord).id]);
    });
    // More than 16: a msgpack list of them takes a longer header.
    const tasks = Array.from({ length: 20 }, () => record(clock));
    await store.enqueue(tasks);
    const claims = await store.claim(request({ max: 20 }));
    await store.finish(claims.map((claim) => success(claim, clock)));
    await until(() => seen.length >= 60);
    const ids = tasks.map((task) => task.id);
    const of = (event: string) =>
      seen.filter(([name]) => name === event).map(([, id]) => id);
    assert.deepEqual(of("queued"), ids);
    assert.deepEqual(new Set(of("started")), new Set(ids));
    assert.deepEqual(new Set(of("done")), new Set(ids));
    assert.equal(seen.length, 60);
    await unsubscribe();
  });

  test("a listener that throws does not stop delivery to others", async ({ store }) => {
    const seen: string[] = [];
    const unsubscribes = [
      await store.subscribe("c", () => {
        throw new Error("listener failure");
      }),
      await store.subscribe("c", (message) => seen.push(message.event)),
    ];
    await store.publish({ channel: "c", event: "one", data: 1 });
    await store.publish({ channel: "c", event: "two", data: 2 });
    await until(() => seen.length >= 2);
    assert.deepEqual(seen, ["one", "two"]);
    for (const unsubscribe of unsubscribes) await unsubscribe();
  });

  test("unsubscribe stops delivery to that listener only", async ({ store, open }) => {
    const other = await open(store);
    const first: unknown[] = [];
    const second: unknown[] = [];
    const stopFirst = await store.subscribe("c", (m) => first.push(m.data));
    const stopSecond = await store.subscribe("c", (m) => second.push(m.data));
    await other.publish({ channel: "c", event: "e", data: 1 });
    await until(() => first.length === 1 && second.length === 1);
    await stopFirst();
    await other.publish({ channel: "c", event: "e", data: 2 });
    // Delivered to the listener left: the other would have had it with it.
    await until(() => second.length === 2);
    assert.deepEqual(first, [1]);
    assert.deepEqual(second, [1, 2]);
    await stopSecond();
    // A listener added now hears the next message; the stopped one does not.
    const probe: unknown[] = [];
    const stopProbe = await store.subscribe("c", (m) => probe.push(m.data));
    await other.publish({ channel: "c", event: "e", data: 3 });
    await until(() => probe.length === 1);
    assert.deepEqual(second, [1, 2]);
    await stopProbe();
  });

  test("a new subscriber sees only messages published after it", async ({ store }) => {
    const early: unknown[] = [];
    const late: unknown[] = [];
    const stopEarly = await store.subscribe("c", (m) => early.push(m.data));
    await store.publish({ channel: "c", event: "e", data: 1 });
    const stopLate = await store.subscribe("c", (m) => late.push(m.data));
    await store.publish({ channel: "c", event: "e", data: 2 });
    await until(() => early.length === 2 && late.length === 1);
    assert.deepEqual(early, [1, 2]);
    assert.deepEqual(late, [2]);
    await stopEarly();
    await stopLate();
  });

  test("waitForTasks wakes on a task queued by this store", async ({ clock, store }) => {
    const started = Date.now();
    const waiting = store.waitForTasks(["default"], 10);
    await store.enqueue([record(clock)]);
    await waiting;
    assert.ok(Date.now() - started < 2000);
  });

  /**
   * Milliseconds the test's store's wait of `seconds` lasted when another
   * store queued `task` 30 ms into it.
   */
  async function waitedFor(
    { store, open }: ContractTest,
    task: TaskRecord,
    seconds: number,
  ): Promise<number> {
    const other = await open(store);
    const started = Date.now();
    const waiting = store.waitForTasks(["default"], seconds);
    await delay(30);
    await other.enqueue([task]);
    await waiting;
    return Date.now() - started;
  }

  test("waitForTasks wakes on a task queued by another store", async (t) => {
    assert.ok(await waitedFor(t, record(t.clock), 10) < 2000);
  });

  test(
    "waitForTasks wakes when a delayed task queued meanwhile is due",
    async (t) => {
      const task = record(t.clock, { delay: 0.5 });
      const waited = await waitedFor(t, task, 20);
      // Woken once it was due (it was made before the wait began: opening
      // the other store takes a while on a loaded machine), not at the end.
      const early = (task.timeQueued + task.delay) * 1000 - Date.now();
      assert.ok(early <= 20 && waited < 5000, `waited ${waited} ms`);
    },
    // Real time: the store must learn when the task is due, and wake then.
    { realTime: true },
  );

  test("a task queued while a claimer waits reaches it once: from the wait or the next claim", async ({ clock, store, open }) => {
    const other = await open(store);
    const asking = request({ waitSeconds: 10 });
    assert.deepEqual(await store.claim(asking), []);
    const waiting = store.waitForTasks(["default"], 10);
    await delay(30);
    const task = record(clock);
    await other.enqueue([task]);
    const handed = await waiting;
    const claims = [...handed, ...await store.claim(asking)];
    assert.deepEqual(claims.map((claim) => claim.id), [task.id]);
    assert.deepEqual(claims[0].task, {
      ...task,
      status: TaskStatus.STARTED,
      timeStarted: clock.t,
      worker: "worker-1",
      node: "host-1",
    });
    assert.deepEqual(await store.claim(asking), []);
    assert.deepEqual(await store.finish([success(claims[0], clock)]), [true]);
    assert.equal((await other.get(task.id))?.status, TaskStatus.SUCCESS);
  });

  test("tasks handed over after a wait stopped come with the next claim", async ({ clock, store, open }) => {
    const other = await open(store);
    const asking = request({ waitSeconds: 10 });
    assert.deepEqual(await store.claim(asking), []);
    const controller = new AbortController();
    const waiting = store.waitForTasks(["default"], 10, controller.signal);
    controller.abort();
    assert.deepEqual(await waiting, []);
    const task = record(clock);
    await other.enqueue([task]);
    // Time for a hand-over to the stopped wait, were there one (no event
    // says there was none).
    await delay(100);
    const claims = await store.claim(request());
    assert.deepEqual(claims.map((claim) => claim.id), [task.id]);
    assert.deepEqual(await store.claim(request()), []);
  });

  test("a store closed while registered to wait gives back what it was handed", async ({ clock, store, open }) => {
    const other = await open(store);
    assert.deepEqual(await store.claim(request({ waitSeconds: 10 })), []);
    const task = record(clock);
    await other.enqueue([task]);
    await store.close();
    const claims = await other.claim(request({ worker: "worker-2" }));
    assert.deepEqual(claims.map((claim) => claim.id), [task.id]);
    assert.equal(claims[0].redeliveries, 0);
    assert.equal(claims[0].task?.worker, "worker-2");
  });

  test("waitForTasks resolves after its time, or on abort", async ({ clock, store }) => {
    await store.enqueue([
      record(clock, { delay: 100 }),
      record(clock, {
        queue: "elsewhere",
      }),
    ]);
    let started = Date.now();
    await store.waitForTasks(["default"], 0.1);
    const waited = Date.now() - started;
    assert.ok(waited >= 90 && waited < 2000, `waited ${waited} ms`);

    const controller = new AbortController();
    started = Date.now();
    const waiting = store.waitForTasks(["default"], 10, controller.signal);
    await delay(20);
    controller.abort();
    await waiting;
    assert.ok(Date.now() - started < 2000);
    await store.waitForTasks(["default"], 10, controller.signal);
  });

  /** A worker's status for a beat, alive `seconds` past the clock. */
  function status(
    clock: TestClock,
    worker: string,
    seconds: number,
    queues = ["default"],
  ): WorkerStatus {
    return {
      worker,
      node: "host-1",
      pid: 1,
      queues,
      maxConcurrentTasks: 4,
      concurrentTasks: [],
      processed: 0,
      cores: 2,
      time: clock.t,
      until: clock.t + seconds,
      jobs: [{
        name: "addition",
        defaultQueue: null,
        timeout: null,
        maxConcurrency: null,
      }],
    };
  }

  test("beats keep a worker live; a dead one is reported once and forgotten", async ({ clock, store, open }) => {
    const other = await open(store);
    assert.deepEqual(await store.beat(status(clock, "worker-1", 3)), {
      dead: [],
      known: false,
    });
    // Each beat says when another worker's time runs out.
    assert.deepEqual(await other.beat(status(clock, "worker-2", 9)), {
      dead: [],
      known: false,
      next: clock.t + 3,
    });
    assert.deepEqual(await store.beat(status(clock, "worker-1", 3)), {
      dead: [],
      known: true,
      next: clock.t + 9,
    });
    assert.deepEqual(
      (await other.liveWorkers()).map((w) => [w.worker, w.until]),
      [["worker-1", clock.t + 3], ["worker-2", clock.t + 9]],
    );
    const [live] = await store.liveWorkers();
    assert.deepEqual(live.jobs[0].name, "addition");
    clock.advance(5);
    const beat = await other.beat(status(clock, "worker-2", 9));
    assert.deepEqual(beat.dead.map((w) => [w.worker, w.queues]), [
      ["worker-1", ["default"]],
    ]);
    assert.equal(beat.known, true);
    assert.equal(beat.next, undefined, "no other live worker");
    assert.deepEqual(await store.beat(status(clock, "worker-3", 3)), {
      dead: [],
      known: false,
      next: clock.t + 9,
    });
    assert.deepEqual(
      (await store.liveWorkers()).map((w) => w.worker),
      ["worker-2", "worker-3"],
    );
    await store.leave("worker-3");
    assert.deepEqual(
      (await store.liveWorkers()).map((w) => w.worker),
      ["worker-2"],
    );
  });

  test("a worker reported dead learns it from its next beat; a late one not reported does not", async ({ clock, store, open }) => {
    const other = await open(store);
    assert.equal((await store.beat(status(clock, "worker-1", 3))).known, false);
    assert.equal((await store.beat(status(clock, "worker-1", 3))).known, true);
    // Late, but no beat found it dead: it stays known (its leases held).
    clock.advance(5);
    assert.equal((await store.beat(status(clock, "worker-1", 3))).known, true);
    clock.advance(5);
    const found = await other.beat(status(clock, "worker-2", 9));
    assert.deepEqual(found.dead.map((w) => w.worker), ["worker-1"]);
    // Its leases were ended by the beat that found it: it is told so.
    const back = await store.beat(status(clock, "worker-1", 3));
    assert.deepEqual(back, { dead: [], known: false, next: clock.t + 9 });
    assert.deepEqual(
      (await other.liveWorkers()).map((w) => w.worker),
      ["worker-1", "worker-2"],
    );
  });

  test("a beat cut off since a time spares the workers whose until is at or after it", async ({ clock, store, open }) => {
    const other = await open(store);
    // worker-0's until passed before the outage; worker-1 beat until t1.
    await store.beat(status(clock, "worker-0", 1));
    clock.advance(1);
    await store.beat(status(clock, "worker-1", 3));
    const t1 = clock.t + 3;
    await other.beat(status(clock, "worker-2", 3));
    // worker-2 last reached the store at t1 - 1, then was cut off past t1.
    const cutOffSince = t1 - 1;
    clock.advance(10);
    const back = await other.beat(status(clock, "worker-2", 3), {
      cutOffSince,
    });
    assert.deepEqual(back.dead.map((w) => w.worker), ["worker-0"]);
    assert.equal(back.known, true);
    assert.equal(back.next, t1, "worker-1 is spared, not forgotten");
    assert.deepEqual(
      (await other.liveWorkers()).map((w) => w.worker),
      ["worker-2"],
    );
    // The next plain beat judges it.
    clock.advance(1);
    const later = await other.beat(status(clock, "worker-2", 3));
    assert.deepEqual(later.dead.map((w) => w.worker), ["worker-1"]);
    // A spared worker that beats again is known, its leases kept.
    await store.beat(status(clock, "worker-3", 3));
    clock.advance(5);
    const spared = await other.beat(status(clock, "worker-2", 3), {
      cutOffSince: clock.t - 4,
    });
    assert.deepEqual(spared.dead, []);
    assert.equal(
      (await store.beat(status(clock, "worker-3", 3))).known,
      true,
    );
    // A cutOffSince after the clock is the clock: it spares no more.
    await store.beat(status(clock, "worker-4", 1));
    clock.advance(2);
    const ahead = await other.beat(status(clock, "worker-2", 3), {
      cutOffSince: clock.t + 100,
    });
    assert.deepEqual(ahead.dead.map((w) => w.worker), ["worker-4"]);
  });

  test("a dead worker's leases end at once and reclaim gives its tasks back", async ({ clock, store }) => {
    const tasks = [record(clock), record(clock), record(clock)];
    await store.enqueue(tasks);
    const mine = await store.claim(request({ max: 2, worker: "worker-1" }));
    const theirs = await store.claim(request({ max: 1, worker: "worker-2" }));
    assert.equal(await store.expireLeases("worker-1", ["default"]), 2);
    assert.equal(await store.expireLeases("worker-9", ["default"]), 0);
    // Long before the 30 s leases would have expired.
    clock.advance(1);
    const report = await store.reclaim(3, ["default"]);
    assert.equal(report.redelivered, 2);
    assert.deepEqual(
      report.changed.toSorted(),
      mine.map((c) => c.id).toSorted(),
    );
    const again = await store.claim(request({ worker: "worker-3" }));
    assert.deepEqual(
      again.map((c) => [c.id, c.redeliveries]).toSorted(),
      mine.map((c) => [c.id, 1]).toSorted(),
    );
    // The live worker keeps its task.
    assert.deepEqual(await store.renew(theirs, 30), { lost: [], revoked: [] });
  });

  test("revoking a running task tells its worker on channel control", async ({ clock, store, open }) => {
    const worker = await open(store);
    const heard: ChannelMessage[] = [];
    await worker.subscribe("control", (message) => heard.push(message));
    const task = record(clock);
    await store.enqueue([task]);
    await worker.claim(request());
    assert.equal(await store.revoke(task.id), "requested");
    await until(() => heard.length === 1);
    assert.deepEqual(heard[0], {
      channel: "control",
      event: "revoke",
      data: task.id,
    });
  });

  test("searchTasks finds tasks by status, job, queue, time and text, newest first", async ({ clock, store }) => {
    const old = record(clock, { name: "resize", kwargs: { file: "Cat.PNG" } });
    await store.enqueue([old]);
    clock.advance(10);
    const other = record(clock, { queue: "mail", kwargs: { to: "ann" } });
    const later = record(clock, { kwargs: { to: "bob" } });
    await store.enqueue([other, later]);
    clock.advance(10);
    const [claim] = await store.claim(request({ max: 1 }));
    assert.equal(claim.id, old.id);
    await store.finish([success(claim, clock, { size: "big" })]);
    const ids = async (query: TaskQuery) =>
      (await store.searchTasks(query)).tasks.map((task) => task.id);
    const newest = [later, other].map((t) => t.id).toSorted().toReversed();
    assert.deepEqual(await ids({}), [...newest, old.id]);
    assert.deepEqual(await ids({ status: [TaskStatus.SUCCESS] }), [old.id]);
    assert.deepEqual(
      await ids({ status: [TaskStatus.QUEUED, TaskStatus.SUCCESS] }),
      [...newest, old.id],
    );
    assert.deepEqual(await ids({ job: "resize" }), [old.id]);
    assert.deepEqual(await ids({ queue: "mail" }), [other.id]);
    assert.deepEqual(await ids({ since: clock.t - 15 }), newest);
    assert.deepEqual(await ids({ until: clock.t - 15 }), [old.id]);
    // Text: in kwargs or result, ignoring case.
    assert.deepEqual(await ids({ text: "cat.png" }), [old.id]);
    assert.deepEqual(await ids({ text: "BIG" }), [old.id]);
    assert.deepEqual(await ids({ text: "bob", queue: "default" }), [later.id]);
    assert.deepEqual(await ids({ text: "nobody" }), []);
    const [found] = (await store.searchTasks({ job: "resize" })).tasks;
    assert.equal(found.status, TaskStatus.SUCCESS);
    assert.deepEqual(found.result, { size: "big" });
  });

  test("searchTasks pages through tasks sharing one time, each once", async ({ clock, store }) => {
    const tasks = Array.from(
      { length: 120 },
      (_, i) => record(clock, { kwargs: { i } }),
    );
    await store.enqueue(tasks);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.searchTasks({ limit: 50, cursor });
      assert.ok(page.tasks.length <= 50);
      seen.push(...page.tasks.map((task) => task.id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(cursor, undefined);
    assert.deepEqual(seen, tasks.map((t) => t.id).toSorted().toReversed());
  });

  test(
    "searchTasks leaves out tasks past their retention",
    async ({ clock, store }) => {
      const task = record(clock);
      await store.enqueue([task]);
      const [claim] = await store.claim(request());
      await store.finish([success(claim, clock)]);
      assert.equal((await store.searchTasks({})).tasks.length, 1);
      clock.advance(120);
      await store.reclaim(3, ["default"]);
      assert.deepEqual((await store.searchTasks({})).tasks, []);
    },
    { resultTtl: 60 },
  );

  test("searchTasks refuses a malformed query, naming the field", async ({ store }) => {
    const bad: [unknown, RegExp][] = [
      [{ status: ["DONE"] }, /'status'/],
      [{ status: [] }, /'status'/],
      [{ limit: 0 }, /'limit'/],
      [{ limit: 1.5 }, /'limit'/],
      [{ since: "yesterday" }, /'since'/],
      [{ text: "" }, /'text'/],
      [{ job: 7 }, /'job'/],
      [{ cursor: "not a cursor" }, /'cursor'/],
      [{ colour: "red" }, /'colour'/],
    ];
    for (const [query, message] of bad) {
      await assert.rejects(
        store.searchTasks(query as TaskQuery),
        (error: Error) =>
          error instanceof TypeError && message.test(error.message),
        JSON.stringify(query),
      );
    }
  });

  test("queueStats counts ready, delayed and running tasks and the oldest wait", async ({ clock, store }) => {
    const first = record(clock);
    await store.enqueue([first, record(clock, { delay: 60 })]);
    clock.advance(5);
    await store.enqueue([record(clock), record(clock)]);
    clock.advance(2);
    const [claim] = await store.claim(request({ max: 1 }));
    assert.equal(claim.id, first.id);
    const [stats, empty] = await store.queueStats(["default", "none"]);
    assert.deepEqual(
      { ...stats, latency: Math.round(stats.latency) },
      { queue: "default", ready: 2, delayed: 1, running: 1, latency: 2 },
    );
    assert.deepEqual(empty, {
      queue: "none",
      ready: 0,
      delayed: 0,
      running: 0,
      latency: 0,
    });
    assert.deepEqual(
      (await store.queueStats()).map((q) => q.queue),
      await store.queueNames(),
    );
  });

  test("setProgress writes a running task's progress under its lease and publishes it", async ({ clock, store, open }) => {
    const watcher = await open(store);
    const heard: ChannelMessage[] = [];
    await watcher.subscribe("task", (message) => {
      if (message.event === "progress") heard.push(message);
    });
    const task = record(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(request());
    const progress = { value: 0.4, message: "4 of 10", time: clock.t };
    assert.equal(await store.setProgress(claim, progress), true);
    assert.deepEqual((await store.get(task.id))?.progress, progress);
    await until(() => heard.length === 1);
    assert.equal((heard[0].data as TaskRecord).id, task.id);
    assert.deepEqual((heard[0].data as TaskRecord).progress, progress);
    // Not by a stale holder, nor once the task has finished.
    assert.equal(
      await store.setProgress({ id: task.id, token: "stale" }, progress),
      false,
    );
    await store.finish([success(claim, clock)]);
    assert.equal(
      await store.setProgress(claim, { ...progress, value: 1 }),
      false,
    );
    // The final record is the one finish wrote.
    assert.equal((await store.get(task.id))?.status, TaskStatus.SUCCESS);
    assert.notEqual((await store.get(task.id))?.progress?.value, 1);
  });

  /** The counts of the last minute of a history (the current one). */
  const lastMinute = (history: StatusHistory) =>
    history.minutes[history.minutes.length - 1];

  test("statusHistory counts each task once as it ends, by status, in its minute, zero-filled", async ({ clock, store, open }) => {
    const empty = await store.statusHistory();
    assert.deepEqual(empty.totals, {});
    assert.equal(empty.minutes.length, 60);
    assert.equal(lastMinute(empty).minute, minuteOf(clock.t));
    assert.ok(
      empty.minutes.every(({ counts }, i) =>
        Object.keys(counts).length === 0 &&
        empty.minutes[i].minute === minuteOf(clock.t) - (59 - i) * 60
      ),
    );

    const queued = record(clock, { delay: 60 });
    const tasks = [record(clock), record(clock), record(clock), record(clock)];
    await store.enqueue([...tasks, queued]);
    const claims = await store.claim(request({ leaseSeconds: 10 }));
    assert.equal(claims.length, 4);
    const ended = (i: number, status: TaskStatusCode) => ({
      id: claims[i].id,
      token: claims[i].token,
      task: { ...claims[i].task!, status, timeEnded: clock.t },
    });
    const retry = record(clock, { fromTask: claims[2].id, delay: 30 });
    // One batch of three outcomes, a retry among them.
    assert.deepEqual(
      await store.finish([
        ended(0, TaskStatus.SUCCESS),
        ended(1, TaskStatus.FAILURE),
        { ...ended(2, TaskStatus.RETRY), retry },
      ]),
      [true, true, true],
    );
    // A lost lease, and an outcome written twice, count nothing.
    assert.deepEqual(
      await store.finish([
        { ...ended(0, TaskStatus.SUCCESS), token: "not-the-token" },
        ended(1, TaskStatus.FAILURE),
      ]),
      [false, false],
    );
    assert.equal(await store.revoke(queued.id), "revoked");
    assert.equal(await store.revoke(queued.id), "finished");
    const first = minuteOf(clock.t);
    const counted = {
      SUCCESS: 1,
      FAILURE: 1,
      RETRY: 1,
      REVOKED: 1,
    };
    let history = await store.statusHistory({ minutes: 3 });
    assert.deepEqual(history.totals, counted);
    assert.deepEqual(history.minutes, [
      { minute: first - 120, counts: {} },
      { minute: first - 60, counts: {} },
      { minute: first, counts: counted },
    ]);

    // Two minutes on: a lease that expired ends FAILURE (reclaim), the
    // retry SUCCESS; the minute between stays empty.
    clock.advance(120);
    assert.deepEqual(await store.reclaim(0), {
      redelivered: 0,
      failed: 1,
      changed: [claims[3].id],
    });
    const [again] = await store.claim(request());
    assert.equal(again.id, retry.id);
    await store.finish([succeeded(again, clock)]);
    history = await store.statusHistory({ minutes: 3 });
    assert.deepEqual(history.totals, {
      SUCCESS: 2,
      FAILURE: 2,
      RETRY: 1,
      REVOKED: 1,
    });
    assert.deepEqual(history.minutes, [
      { minute: first, counts: counted },
      { minute: first + 60, counts: {} },
      { minute: first + 120, counts: { SUCCESS: 1, FAILURE: 1 } },
    ]);
    // Another store on the same data (a dashboard started again) reads it.
    const other = await open(store);
    assert.deepEqual(await other.statusHistory({ minutes: 3 }), history);
    assert.equal(
      (await other.statusHistory({ minutes: 1440 })).minutes.length,
      1440,
    );
  });

  test("statusHistory keeps its totals when tasks are flushed, expire, are deleted or their queue is forgotten, and its minutes 24 h", async ({ clock, store }) => {
    const tasks = [
      record(clock, { queue: "short-lived" }),
      record(clock, { queue: "short-lived" }),
    ];
    await store.enqueue(tasks);
    const claims = await store.claim(request({ queues: ["short-lived"] }));
    await store.finish(claims.map((claim) => succeeded(claim, clock)));
    await store.enqueue([record(clock, { queue: "short-lived", delay: 99 })]);
    assert.equal(await store.flush(["short-lived"]), 1);
    assert.equal(await store.deleteTasks([claims[0].id]), 1);
    const first = minuteOf(clock.t);
    assert.deepEqual((await store.statusHistory()).totals, { SUCCESS: 2 });

    // Past the retention the records go, and the queue with them (a Redis
    // registry forgets it after 10 minutes); the counts stay.
    clock.advance(3600 + 700);
    await store.reclaim(3);
    assert.equal(await store.get(claims[1].id), undefined);
    assert.deepEqual(await store.queueNames(), []);
    let history = await store.statusHistory({ minutes: 1440 });
    assert.deepEqual(history.totals, { SUCCESS: 2 });
    const old = history.minutes.find(({ minute }) => minute === first);
    assert.deepEqual(old?.counts, { SUCCESS: 2 });

    // 24 hours after the first minute, its place is the current minute's:
    // it starts from 0 (the old minute is out of every window).
    clock.advance(first + 24 * 3600 + 1 - clock.t);
    await store.reclaim(3);
    const task = record(clock, { queue: "short-lived" });
    await store.enqueue([task]);
    const [claim] = await store.claim(request({ queues: ["short-lived"] }));
    await store.finish([succeeded(claim, clock)]);
    history = await store.statusHistory({ minutes: 1440 });
    assert.deepEqual(history.totals, { SUCCESS: 3 });
    assert.equal(history.minutes[0].minute, first + 60);
    assert.deepEqual(lastMinute(history), {
      minute: first + 24 * 3600,
      counts: { SUCCESS: 1 },
    });
    assert.equal(
      history.minutes.filter(({ counts }) => Object.keys(counts).length > 0)
        .length,
      1,
    );
  });

  test("statusHistory refuses bad options, naming the option", async ({ store }) => {
    for (const minutes of [0, 1441, 1.5, -60, NaN]) {
      await assert.rejects(
        store.statusHistory({ minutes }),
        (error: Error) =>
          error instanceof RangeError &&
          error.message.includes(
            "'minutes' must be an integer from 1 to 1440",
          ) &&
          error.message.includes(`got ${JSON.stringify(minutes)}`),
      );
    }
    await assert.rejects(
      store.statusHistory({ minutes: "60" as unknown as number }),
      new TypeError(
        `Cannot read the status history as 'minutes' must be a number: got "60"`,
      ),
    );
    await assert.rejects(
      store.statusHistory({ minute: 5 } as unknown as { minutes: number }),
      new TypeError(
        "Cannot read the status history as 'minute' is not an option (the one option is 'minutes')",
      ),
    );
    await assert.rejects(
      store.statusHistory(null as unknown as { minutes: number }),
      TypeError,
    );
  });

  test("deleteTasks deletes finished tasks by id with their search entries, and leaves the others", async ({ clock, store }) => {
    const [done, failed, running, member, queued] = [
      record(clock),
      record(clock),
      record(clock),
      record(clock),
      record(clock, { delay: 60 }),
    ];
    await store.enqueue([done, failed, running]);
    const claims = await store.claim(request());
    const byId = new Map(claims.map((claim) => [claim.id, claim]));
    await store.finish([
      succeeded(byId.get(done.id)!, clock),
      {
        ...byId.get(failed.id)!,
        task: {
          ...byId.get(failed.id)!.task!,
          status: TaskStatus.FAILURE,
          timeEnded: clock.t,
        },
      },
    ]);
    await store.enqueue([queued]);
    // A workflow member that never ran: its workflow reads it.
    assert.equal(
      await store.settle({
        ...member,
        status: TaskStatus.REVOKED,
        timeEnded: clock.t,
        meta: { workflow: { id: "W" } },
      }),
      true,
    );
    const totals = (await store.statusHistory()).totals;

    assert.equal(
      await store.deleteTasks([
        done.id,
        running.id,
        queued.id,
        member.id,
        "no-such-task",
        failed.id,
        done.id,
      ]),
      2,
    );
    assert.equal(await store.get(done.id), undefined);
    assert.equal(await store.get(failed.id), undefined);
    assert.equal((await store.get(running.id))?.status, TaskStatus.STARTED);
    assert.equal((await store.get(queued.id))?.status, TaskStatus.QUEUED);
    assert.equal((await store.get(member.id))?.status, TaskStatus.REVOKED);
    const found = await store.searchTasks({});
    assert.deepEqual(
      found.tasks.map((task) => task.id).sort(),
      [running.id, member.id, queued.id].sort(),
    );
    assert.deepEqual((await store.statusHistory()).totals, totals);
    // Deleted, the id is free again; deleting again deletes nothing.
    assert.deepEqual(await store.enqueueUnique({ ...done }), { queued: true });
    assert.equal(await store.deleteTasks([failed.id, done.id]), 0);
    assert.equal(await store.deleteTasks([]), 0);

    // A running task that ends can be deleted then.
    await store.finish([succeeded(byId.get(running.id)!, clock)]);
    assert.equal(await store.deleteTasks([running.id]), 1);
    // Past its retention, a task is gone already: nothing to delete.
    await store.revoke(queued.id);
    clock.advance(3601);
    assert.equal(await store.deleteTasks([queued.id]), 0);
  });

  test("deleteTasks refuses ids that are not task ids, and more than 10,000", async ({ store }) => {
    await assert.rejects(
      store.deleteTasks("abc" as unknown as string[]),
      new TypeError(
        `Cannot delete tasks as 'ids' must be a list of task ids: got "abc"`,
      ),
    );
    await assert.rejects(
      store.deleteTasks(["a", "", "b"]),
      new TypeError(
        `Cannot delete tasks as ids[1] must be a task id (a non-empty string): got ""`,
      ),
    );
    await assert.rejects(
      store.deleteTasks(["a", 7 as unknown as string]),
      TypeError,
    );
    await assert.rejects(
      store.deleteTasks(Array.from({ length: 10_001 }, (_, i) => `t${i}`)),
      new RangeError(
        "Cannot delete 10001 tasks at once: at most 10000 a call (send them in parts)",
      ),
    );
    assert.equal(
      await store.deleteTasks(
        Array.from({ length: 10_000 }, (_, i) => `t${i}`),
      ),
      0,
    );
  });

  test("close is idempotent and ends pending waits", async ({ store }) => {
    await store.subscribe("c", () => {});
    const waiting = store.waitForTasks(["default"], 10);
    await store.close();
    await waiting;
    await store.close();
    await assert.rejects(queueSizes(store, ["default"]));
  });
}
