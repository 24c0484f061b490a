/**
 * The scheduler: one leader, each run queued once, no catch-up; first with
 * an injected clock in one process, then with real servers on the embedded
 * store (`scheduler_redis_test.ts` runs the same on Redis).
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { waitFor } from "./_helpers.ts";
import { job, JobRegistry } from "../mod.ts";
import { Producer } from "../src/producer/producer.ts";
import { Scheduler } from "../src/server/scheduler.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { openStore } from "../src/store/open_store.ts";
import type { Store } from "../src/store/store.ts";
import { schedulerSuite } from "./_scheduler_suite.ts";

const T = 1_000_020; // a whole minute

/** Two schedulers (a, b) on one in-memory store, all on a fake clock. */
async function cluster(lease = 3) {
  let time = T;
  const now = () => time;
  const registry = new JobRegistry();
  registry.add(job({ name: "tick", runEvery: 1 }, () => 1));
  registry.add(job({ name: "minutely", runEvery: 60 }, () => 1));
  registry.add(job({ name: "nightly", cron: "0 3 * * *" }, () => 1));
  registry.add(job({ name: "plain" }, () => 1));
  const store: Store = await openStore("sqlite::memory:", {
    serializer: "json",
    resultTtl: 60,
    now,
  });
  const producer = new Producer({
    settings: () => Promise.resolve(defaultSettings()),
    registry,
    store,
  });
  await producer.start();
  const make = (owner: string) =>
    new Scheduler({
      store,
      registry,
      producer,
      leaseSeconds: lease,
      owner,
      now,
    });
  return {
    a: make("a"),
    b: make("b"),
    store,
    producer,
    /** Sets the clock to `T + seconds`. */
    at(seconds: number) {
      time = T + seconds;
    },
    async [Symbol.asyncDispose]() {
      await producer.close();
      await store.close();
    },
  };
}

const runs = (report: { queued: Array<{ name: string; time: number }> }) =>
  report.queued.map((run) => `${run.name}@${run.time - T}`);

Deno.test("one scheduler leads; a new leader queues the run of the handover once", async () => {
  await using c = await cluster();
  assert.deepEqual(c.a.jobs.sort(), ["minutely", "nightly", "tick"]);
  c.at(0.2);
  const first = await c.a.tick();
  assert.equal(first.leader, true);
  // The latest due run of the last two leases: 1 s job yes, 60 s job (its
  // run at T) too, nightly not (03:00 is far).
  assert.deepEqual(runs(first).sort(), ["minutely@0", "tick@0"]);
  const follower = await c.b.tick();
  assert.deepEqual(follower, { leader: false, queued: [], wait: 1 });
  // The queued task is a real task of the job's default queue.
  const [queued] = first.queued;
  const task = await c.producer.tasks.get(queued.id);
  assert.equal(task?.statusString, "QUEUED");
  assert.equal(task?.queue, "pulsarqueue");
  assert.equal(task?.meta.scheduledAt, queued.time);
  assert.equal(task?.meta.scheduler, "a");
  c.at(0.7);
  assert.deepEqual(runs(await c.a.tick()), []);
  c.at(1.05);
  assert.deepEqual(runs(await c.a.tick()), ["tick@1"]);
  // a stops gracefully (frees the lease); b leads at once, within the
  // same second: the run at T + 1 was queued by a and is not queued again.
  const stop = new AbortController();
  stop.abort();
  await c.a.run(stop.signal);
  assert.equal(c.a.leader, false);
  c.at(1.5);
  const takeover = await c.b.tick();
  assert.equal(takeover.leader, true);
  assert.deepEqual(runs(takeover), []);
  c.at(2);
  assert.deepEqual(runs(await c.b.tick()), ["tick@2"]);
  // a comes back: b holds the lease, so a queues nothing.
  c.at(3);
  assert.deepEqual(await c.a.tick(), { leader: false, queued: [], wait: 1 });
  assert.deepEqual(runs(await c.b.tick()), ["tick@3"]);
});

Deno.test("a leader that dies is replaced once its lease runs out", async () => {
  await using c = await cluster(3);
  c.at(0.1);
  assert.deepEqual(runs(await c.a.tick()), ["tick@0", "minutely@0"]);
  c.at(1);
  assert.deepEqual(runs(await c.a.tick()), ["tick@1"]);
  // a dies now, its lease (renewed at T + 1) ends at T + 4.
  c.at(3.9);
  assert.equal((await c.b.tick()).leader, false);
  c.at(4.2);
  const takeover = await c.b.tick();
  assert.equal(takeover.leader, true);
  // Runs 2 and 3 were missed; only the latest, 4, is queued.
  assert.deepEqual(runs(takeover), ["tick@4"]);
});

Deno.test("no catch-up: after a gap only the latest missed run is queued", async () => {
  await using c = await cluster();
  c.at(0);
  assert.deepEqual(runs(await c.a.tick()), ["tick@0", "minutely@0"]);
  // The process stalls for 150 s, far past its lease; no one else runs.
  c.at(150.5);
  const after = await c.a.tick();
  assert.equal(after.leader, true);
  assert.deepEqual(runs(after), ["tick@150", "minutely@120"]);
  c.at(151);
  assert.deepEqual(runs(await c.a.tick()), ["tick@151"]);
});

Deno.test("the wait is until the next run or renewal, whichever comes first", async () => {
  await using c = await cluster(30);
  c.at(0.25);
  assert.equal((await c.a.tick()).wait, 0.75);
  assert.equal((await c.b.tick()).wait, 10);
});

Deno.test("the scheduler runs until its signal aborts and frees the lease", async () => {
  await using c = await cluster();
  const stop = new AbortController();
  const running = c.a.run(stop.signal);
  await waitFor(() => c.a.leader, { what: "a to lead" });
  assert.equal(c.a.leader, true);
  stop.abort();
  await running;
  assert.equal(c.a.leader, false);
  // Freed: b takes it at once, the clock has not moved.
  assert.equal((await c.b.tick()).leader, true);
});

Deno.test("a lease that is not a positive number is refused", async () => {
  await using c = await cluster();
  assert.throws(
    () =>
      new Scheduler({
        store: c.store,
        registry: new JobRegistry(),
        producer: c.producer,
        leaseSeconds: 0,
      }),
    /lease must be a number of seconds > 0: got 0/,
  );
});

Deno.test("scheduler on real servers, embedded store", async (t) => {
  await schedulerSuite(t, (dir) => `sqlite:${dir}/pq.sqlite`);
});

Deno.test("the scheduler says each job's schedule once at info, and each run at debug with an ISO time", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["pq"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    await using c = await cluster();
    c.at(0.2);
    await c.a.tick();
    c.at(1.05);
    await c.a.tick();
    c.at(2.05);
    await c.a.tick();
    await c.b.tick(); // A follower: nothing to say.
  } finally {
    await reset();
  }
  const lines = (level: string) =>
    records.filter((record) =>
      record.level === level && record.category[1] === "scheduler"
    ).map((record) => record.message.map(String).join(""));
  // T is 1970-01-12T13:47:00Z: runs at T, T + 1, T + 2.
  assert.deepEqual(lines("info"), [
    'Scheduler a is the leader: tick (every 1 s, next 1970-01-12T13:47:01Z), minutely (every 60 s, next 1970-01-12T13:48:00Z), nightly (cron "0 3 * * *" UTC, next 1970-01-13T03:00:00Z)',
  ]);
  const debug = lines("debug");
  assert.deepEqual(
    debug.map((line) => line.replace(/: task \S+$/, "")),
    [
      "Queued the run of tick at 1970-01-12T13:47:00Z",
      "Queued the run of minutely at 1970-01-12T13:47:00Z",
      "Queued the run of tick at 1970-01-12T13:47:01Z",
      "Queued the run of tick at 1970-01-12T13:47:02Z",
    ],
  );
  // No raw Unix seconds anywhere.
  for (const line of [...lines("info"), ...debug]) {
    assert.doesNotMatch(line, /\b1000\d{3}\b/, line);
  }
});
