/**
 * Job statistics computed by the stores (`src/store/job_stats*.ts`): the
 * SQLite aggregate on a real file, the Redis script on a private
 * redis-server (both serializers), checked against the same tasks, and
 * against the old way (one search a job).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { codecFor, type CodecName } from "../src/model/codec.ts";
import { TaskStatus } from "../src/model/status.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import {
  checkJobStatsOptions,
  JobTallies,
  percentile,
} from "../src/store/job_stats.ts";
import { sqliteJobStats } from "../src/store/sqlite/job_stats.ts";
import { REDIS_SCAN } from "../src/store/redis/job_stats.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { Store } from "../src/store/store.ts";
import { startRedis } from "./_redis.ts";
import { tempDir } from "./_server.ts";

const T0 = 1_700_000_000;

/** A task of `name` in `queue`, queued at `T0 + at`. */
function task(name: string, queue: string, at: number): TaskRecord {
  return {
    id: newTaskId(),
    name,
    queue,
    status: TaskStatus.QUEUED,
    timeQueued: T0 + at,
    delay: 0,
    retry: 1,
    kwargs: { at },
    meta: {},
    runInfo: {},
  };
}

/**
 * Fills a store: job `a` in queues q1 and q2, job `b` in q2. Each queue's
 * tasks are claimed oldest first; `ends` are the run times of those that end
 * (SUCCESS, the last FAILURE), then one is left running, the rest queued.
 */
async function fill(store: Store, clock: { t: number }): Promise<void> {
  const plan: Array<[string, string, number[], number]> = [
    // name, queue, run times of the tasks that end, tasks left queued
    ["a", "q1", [1, 2, 3, 4], 2],
    ["a", "q2", [10, 20], 0],
    ["b", "q2", [0.5], 1],
  ];
  let at = 0;
  for (const [name, queue, ends, queued] of plan) {
    const records = Array.from(
      { length: ends.length + 1 + queued },
      () => task(name, queue, at++),
    );
    await store.enqueue(records);
    for (const [i, seconds] of ends.entries()) {
      const [claim] = await store.claim({
        queues: [queue],
        max: 1,
        worker: "w",
        node: "n",
        leaseSeconds: 60,
      });
      assert.equal(claim.id, records[i].id);
      await store.finish([{
        ...claim,
        task: {
          ...claim.task!,
          status: i === ends.length - 1 && name === "a" && queue === "q1"
            ? TaskStatus.FAILURE
            : TaskStatus.SUCCESS,
          timeEnded: claim.task!.timeStarted! + seconds,
        },
      }]);
    }
    // One running.
    await store.claim({
      queues: [queue],
      max: 1,
      worker: "w",
      node: "n",
      leaseSeconds: 60,
    });
    clock.t += 1;
  }
  // A revoked task of b: counted, with no run time.
  const revoked = task("b", "q2", at++);
  await store.enqueue([revoked]);
  assert.equal(await store.revoke(revoked.id), "revoked");
}

/** What `fill` leaves, as stats (run times of the newest first). */
const EXPECTED = {
  a: {
    counts: { SUCCESS: 5, FAILURE: 1, STARTED: 2, QUEUED: 2 },
    tasks: 10,
    sampled: false,
    runs: 6,
    p50: 3,
    p95: 20,
    p99: 20,
  },
  b: {
    counts: { SUCCESS: 1, STARTED: 1, QUEUED: 1, REVOKED: 1 },
    tasks: 4,
    sampled: false,
    runs: 1,
    p50: 0.5,
    p95: 0.5,
    p99: 0.5,
  },
};

Deno.test("percentiles by nearest rank, and the options checked", () => {
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
  assert.throws(() => checkJobStatsOptions({ runs: 0 }), RangeError);
  assert.throws(
    () => checkJobStatsOptions({ jobs: [""] }),
    /list of at most .* job names/,
  );
  const tallies = new JobTallies(checkJobStatsOptions({ runs: 2 }));
  tallies.ran("x", 3, 30);
  tallies.ran("x", 1, 10);
  tallies.ran("x", 2, 20);
  tallies.count("x", TaskStatus.SUCCESS, 3);
  // The newest two: queued at 3 and 2.
  assert.deepEqual(tallies.stats().get("x"), {
    counts: { SUCCESS: 3 },
    tasks: 3,
    sampled: false,
    runs: 2,
    p50: 20,
    p95: 30,
    p99: 30,
  });
});

for (const serializer of ["json", "msgpack"] as const) {
  Deno.test(`SQLite job stats (${serializer}): one aggregate over the file`, async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/pq.sqlite`;
    const clock = { t: T0 + 100 };
    await using store = await SqliteStore.open(path, {
      serializer,
      resultTtl: 600,
      now: () => clock.t,
    });
    await fill(store, clock);
    using db = new DatabaseSync(path, { readOnly: true });
    const stats = (options = {}) =>
      sqliteJobStats(db, codecFor(serializer), clock.t, options);
    assert.deepEqual(Object.fromEntries(stats()), EXPECTED);
    // The store's own method reads the same.
    assert.deepEqual(Object.fromEntries(await store.jobStats()), EXPECTED);
    // Named jobs only, even one without a task; the newest 2 run times.
    const some = stats({ jobs: ["a", "none"], runs: 2 });
    assert.deepEqual([...some.keys()], ["a", "none"]);
    assert.deepEqual(some.get("a")?.runs, 2);
    assert.deepEqual(some.get("a")?.p99, 20);
    assert.deepEqual(some.get("none")?.tasks, 0);
    // Past their retention, finished tasks are not counted.
    clock.t += 3600;
    assert.deepEqual(stats().get("a")?.counts, { STARTED: 2, QUEUED: 2 });
  });
}

Deno.test({
  name: "Redis job stats: one script a queue, both serializers, sampled",
  async fn() {
    await using server = await startRedis();
    {
      for (const serializer of ["json", "msgpack"] as CodecName[]) {
        const namespace = `js${crypto.randomUUID().slice(0, 8)}`;
        const clock = { t: T0 + 100 };
        await using store = await RedisStore.open(server.url(namespace), {
          serializer,
          resultTtl: 600,
          now: () => clock.t,
        });
        await fill(store, clock);
        // Over the queues of the registry (q1 and q2).
        assert.deepEqual(
          Object.fromEntries(await store.jobStats()),
          EXPECTED,
          serializer,
        );
        // The newest 2 run times of a: over both queues (q2's 10 and 20).
        const newest = await store.jobStats({ jobs: ["a"], runs: 2 });
        assert.deepEqual([...newest.keys()], ["a"]);
        assert.deepEqual(newest.get("a")?.p50, 10);
        assert.deepEqual(newest.get("a")?.p99, 20);
      }
      // A queue of more tasks than a script reads: its jobs are sampled.
      const namespace = `big${crypto.randomUUID().slice(0, 8)}`;
      await using store = await RedisStore.open(server.url(namespace), {
        serializer: "json",
        resultTtl: 600,
      });
      await store.enqueue(
        Array.from({ length: REDIS_SCAN + 5 }, (_, i) => task("c", "big", i)),
      );
      const started = performance.now();
      const big = await store.jobStats();
      const ms = performance.now() - started;
      assert.deepEqual(big.get("c")?.tasks, REDIS_SCAN);
      assert.deepEqual(big.get("c")?.sampled, true);
      console.log(`${REDIS_SCAN} tasks of a queue read in ${ms.toFixed(0)} ms`);
    }
  },
});
