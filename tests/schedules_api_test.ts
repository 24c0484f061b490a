/**
 * Schedules managed at run time through `api.schedules`, run by the
 * scheduler on an injected clock, on SQLite and on Redis: checks at the
 * boundary, next run times, the daylight saving days of Europe/Berlin,
 * `start`/`end`/`limit`, pause and resume, and each due time queued once
 * (two schedulers, a leader that dies between two runs, or between queueing
 * a run and taking it).
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { job, JobRegistry } from "../mod.ts";
import { Producer } from "../src/producer/producer.ts";
import { RuntimeSchedules } from "../src/server/runtime_schedules.ts";
import { Scheduler } from "../src/server/scheduler.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { openStore } from "../src/store/open_store.ts";
import type { Store } from "../src/store/store.ts";
import { startRedis } from "./_redis.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

let namespaces = 0;
const STORES: Array<[string, () => string]> = [
  ["sqlite", () => "sqlite::memory:"],
  ["redis", () => redis.url(`sched${namespaces++}`)],
];

/** Unix seconds of an ISO time. */
const at = (iso: string) => Date.parse(iso) / 1000;
/** ISO times of Unix seconds. */
const iso = (times: readonly number[]) =>
  times.map((t) => new Date(t * 1000).toISOString());

/** Two schedulers (a, b) and a producer on one store, on a fake clock. */
async function cluster(url: string, start: number, lease = 3) {
  let time = start;
  const now = () => time;
  const registry = new JobRegistry();
  registry.add(job({ name: "report" }, () => 1));
  registry.add(
    job({
      name: "typed",
      schema: z.object({ n: z.number() }),
    }, () => 1),
  );
  const store: Store = await openStore(url, {
    serializer: "json",
    resultTtl: 3600 * 24 * 400,
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
      schedules: store,
    });
  return {
    a: make("a"),
    b: make("b"),
    store,
    api: producer,
    /** Sets the clock. */
    set(seconds: number) {
      time = seconds;
    },
    /** `api.schedules.get` on the fake clock. */
    get(id: string, options: { count?: number; after?: Date } = {}) {
      return producer.schedules.get(id, { after: time, ...options });
    },
    /** `api.schedules.list` on the fake clock. */
    list() {
      return producer.schedules.list({ after: time });
    },
    /** The tasks of schedule `id`, by due time (ISO). */
    async tasksOf(id: string) {
      const page = await store.searchTasks({ limit: 500 });
      return page.tasks.filter((task) => task.meta.schedule === id)
        .map((task) => ({
          id: task.id,
          due: new Date((task.meta.scheduledAt as number) * 1000)
            .toISOString(),
          scheduler: task.meta.scheduler,
        }))
        .sort((x, y) => x.due < y.due ? -1 : 1);
    },
    async [Symbol.asyncDispose]() {
      await producer.close();
      await store.close();
    },
  };
}

const runs = (report: { queued: Array<{ schedule?: string; time: number }> }) =>
  iso(report.queued.filter((run) => run.schedule).map((run) => run.time));

for (const [name, url] of STORES) {
  Deno.test(`schedules (${name}): bad definitions are refused, saying what and where`, async () => {
    await using c = await cluster(url(), at("2026-03-01T00:00:00Z"));
    const { schedules } = c.api;
    const refused = async (input: unknown, message: RegExp, type = TypeError) =>
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        () => schedules.upsert(input as any),
        { name: type.name, message },
      );
    await refused(
      { id: "x", job: "report", evrey: 60 },
      /Unknown option 'evrey' of api.schedules.upsert \(did you mean 'every'\?\)/,
    );
    await refused(
      { id: "x", job: "report" },
      /exactly one of 'every' \(seconds\) and 'cron': got neither/,
    );
    await refused(
      { id: "x", job: "report", every: 60, cron: "* * * * *" },
      /exactly one of .* got both/,
    );
    await refused(
      {
        id: "x",
        job: "report",
        cron: "30 2 * * *",
        timezone: "Europe/Berlinn",
      },
      /'timezone' must be an IANA time zone name .*did you mean 'Europe\/Berlin'/,
    );
    await refused(
      { id: "x", job: "report", cron: "61 * * * *" },
      /'cron' must be a cron expression/,
    );
    await refused(
      { id: "x", job: "report", every: 60, timezone: "Europe/Berlin" },
      /'timezone' applies to 'cron' only/,
    );
    await refused(
      { id: "x y", job: "report", every: 60 },
      /schedule id must be 1 to 100 characters/,
    );
    await refused(
      { id: "x", job: "report", every: 60, options: { id: "mine" } },
      /'options.id' is not a schedule's/,
    );
    await refused(
      { id: "x", job: "report", every: 60, options: { dealy: 5 } },
      /Unknown option 'dealy' .*did you mean 'delay'/,
    );
    await refused(
      { id: "x", job: "report", every: 60, limit: 0 },
      /'limit' must be a positive integer/,
    );
    await refused(
      { id: "x", job: "report", every: 60, start: "not a time" },
      /'start' must be a Date, an ISO 8601 time or Unix seconds/,
    );
    await refused(
      {
        id: "x",
        job: "report",
        every: 60,
        start: "2026-03-02T00:00:00Z",
        end: "2026-03-01T00:00:00Z",
      },
      /'start' must come before 'end'/,
      RangeError,
    );
    // A job this process has is checked by its schema; another is not.
    await refused(
      { id: "x", job: "typed", every: 60, kwargs: { n: "one" } },
      /Cannot upsert schedule: Invalid arguments for job 'typed': n:/,
    );
    await schedules.upsert({ id: "y", job: "elsewhere", every: 60 });
    await assert.rejects(
      () => schedules.pause("nope"),
      {
        name: "RangeError",
        message: /Cannot pause schedule 'nope' as there is no such schedule/,
      },
    );
    assert.deepEqual((await schedules.list()).map((s) => s.id), ["y"]);
  });

  Deno.test(`schedules (${name}): a 02:30 schedule in Europe/Berlin on the spring and autumn change days runs as croner says, once a day`, async () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST, 02:30 does not exist;
    // 2026-10-25: 03:00 CEST becomes 02:00 CET, 02:30 happens twice.
    await using c = await cluster(url(), at("2026-03-27T12:00:00Z"));
    await c.api.schedules.upsert({
      id: "nightly",
      job: "report",
      kwargs: { kind: "daily" },
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
    });
    const spring = (await c.get("nightly", { count: 4 }))!;
    assert.deepEqual(iso(spring.nextRuns), [
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:30:00.000Z", // 03:30 CEST: the first time after 02:30
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
      "2026-03-31T00:30:00.000Z",
    ]);
    const autumn = (await c.get("nightly", {
      count: 3,
      after: new Date("2026-10-24T12:00:00Z"),
    }))!;
    assert.deepEqual(iso(autumn.nextRuns), [
      "2026-10-25T00:30:00.000Z", // the first 02:30 (CEST); not the second
      "2026-10-26T01:30:00.000Z", // 02:30 CET
      "2026-10-27T01:30:00.000Z",
    ]);
    // The leader, passing every 10 minutes of the clock over each change
    // day, queues exactly those runs, each once.
    const queued: string[] = [];
    const pass = async (from: string, to: string) => {
      for (let t = at(from); t <= at(to); t += 600) {
        c.set(t);
        queued.push(...runs(await c.a.tick()));
      }
    };
    await pass("2026-03-28T00:00:00Z", "2026-03-30T03:00:00Z");
    c.set(at("2026-10-24T00:00:00Z"));
    await c.api.schedules.upsert({
      id: "nightly",
      job: "report",
      kwargs: { kind: "daily" },
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
    });
    await pass("2026-10-24T00:00:00Z", "2026-10-26T03:00:00Z");
    const expected = [
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:30:00.000Z",
      "2026-03-30T00:30:00.000Z",
      "2026-10-24T00:30:00.000Z",
      "2026-10-25T00:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
    ];
    assert.deepEqual(queued, expected);
    const tasks = await c.tasksOf("nightly");
    assert.deepEqual(tasks.map((task) => task.due), expected);
    assert.equal(tasks[0].id, `schedule:nightly:${at(expected[0]) * 1000}`);
    const info = (await c.get("nightly"))!;
    assert.equal(info.runs, 6);
    assert.equal(info.lastRun, at("2026-10-26T01:30:00Z"));
  });

  Deno.test(`schedules (${name}): start, end and limit bound the runs; an ended schedule stays listed as ended`, async () => {
    const t0 = at("2026-05-01T00:00:00Z");
    await using c = await cluster(url(), t0);
    await c.api.schedules.upsert({
      id: "bounded",
      job: "report",
      every: 60,
      start: new Date((t0 + 90) * 1000),
      end: t0 + 400,
    });
    await c.api.schedules.upsert({
      id: "twice",
      job: "report",
      every: 60,
      limit: 2,
    });
    const bounded = (await c.get("bounded", { count: 10 }))!;
    // Every 60 s from the start (t0 + 90), none after the end (t0 + 400).
    assert.deepEqual(
      bounded.nextRuns.map((t) => t - t0),
      [90, 150, 210, 270, 330, 390],
    );
    assert.deepEqual(
      (await c.get("twice", { count: 5 }))!.nextRuns.map((t) => t - t0),
      [60, 120],
    );
    const queued: string[] = [];
    for (let t = t0; t <= t0 + 600; t += 30) {
      c.set(t);
      queued.push(
        ...(await c.a.tick()).queued.map((run) =>
          `${run.schedule}@${run.time - t0}`
        ),
      );
    }
    assert.deepEqual(queued, [
      "twice@60",
      "bounded@90",
      "twice@120",
      "bounded@150",
      "bounded@210",
      "bounded@270",
      "bounded@330",
      "bounded@390",
    ]);
    const list = await c.list();
    assert.deepEqual(
      list.map((s) => [s.id, s.runs, s.ended, s.nextRuns.length]),
      [["bounded", 6, true, 0], ["twice", 2, true, 0]],
    );
  });

  Deno.test(`schedules (${name}): a paused schedule queues nothing; resumed, it skips the runs due while paused`, async () => {
    const t0 = at("2026-05-01T00:00:00Z");
    await using c = await cluster(url(), t0);
    await c.api.schedules.upsert({ id: "m", job: "report", every: 60 });
    c.set(t0 + 60);
    assert.deepEqual(runs(await c.a.tick()), [iso([t0 + 60])[0]]);
    assert.equal(await c.api.schedules.pause("m"), true);
    assert.equal(await c.api.schedules.pause("m"), false);
    assert.equal((await c.get("m"))!.paused, true);
    c.set(t0 + 120);
    assert.deepEqual(runs(await c.a.tick()), []);
    c.set(t0 + 121);
    assert.equal(await c.api.schedules.resume("m"), true);
    assert.deepEqual(runs(await c.a.tick()), []); // 120 was due while paused
    c.set(t0 + 180);
    assert.deepEqual(runs(await c.a.tick()), [iso([t0 + 180])[0]]);
    assert.equal(await c.api.schedules.remove("m"), true);
    assert.equal(await c.api.schedules.remove("m"), false);
    c.set(t0 + 240);
    assert.deepEqual(runs(await c.a.tick()), []);
    assert.equal(await c.get("m"), undefined);
  });

  Deno.test(`schedules (${name}): a leader killed between two runs: the new leader queues the next run, not the taken one again`, async () => {
    const t0 = at("2026-05-01T00:00:00Z");
    await using c = await cluster(url(), t0, 3);
    await c.api.schedules.upsert({ id: "s", job: "report", every: 2 });
    c.set(t0 + 2);
    assert.deepEqual(runs(await c.a.tick()), [iso([t0 + 2])[0]]);
    assert.equal((await c.b.tick()).leader, false);
    // a is killed (its lease, renewed at t0 + 2, ends at t0 + 5); b waits.
    c.set(t0 + 4.5);
    assert.equal((await c.b.tick()).leader, false);
    c.set(t0 + 5.5);
    const takeover = await c.b.tick();
    assert.equal(takeover.leader, true);
    // Due time 4 was missed in the handover: the latest, 4, is queued; 2
    // was taken by a and is not queued again.
    assert.deepEqual(runs(takeover), [iso([t0 + 4])[0]]);
    c.set(t0 + 6);
    assert.deepEqual(runs(await c.b.tick()), [iso([t0 + 6])[0]]);
    const tasks = await c.tasksOf("s");
    assert.deepEqual(tasks.map((task) => [task.due, task.scheduler]), [
      [iso([t0 + 2])[0], "a"],
      [iso([t0 + 4])[0], "b"],
      [iso([t0 + 6])[0], "b"],
    ]);
  });

  Deno.test(`schedules (${name}): a leader that died after queueing a run, before taking it: the next one takes it and queues nothing new`, async () => {
    const t0 = at("2026-05-01T00:00:00Z");
    await using c = await cluster(url(), t0, 3);
    await c.api.schedules.upsert({ id: "s", job: "report", every: 60 });
    c.set(t0 + 60);
    // The dead leader's half: the run queued under its derived id.
    await c.api.tasks.queue("report", {}, {
      id: `schedule:s:${(t0 + 60) * 1000}`,
      callback: false,
      metaParams: { scheduledAt: t0 + 60, scheduler: "dead", schedule: "s" },
    });
    const report = await c.b.tick();
    assert.deepEqual(runs(report), []);
    const info = (await c.get("s"))!;
    assert.equal(info.runs, 1);
    assert.equal(info.lastRun, t0 + 60);
    assert.deepEqual((await c.tasksOf("s")).map((task) => task.scheduler), [
      "dead",
    ]);
  });

  Deno.test(`schedules (${name}): two leaders at once (a split brain) queue each due time once`, async () => {
    const t0 = at("2026-05-01T00:00:00Z");
    await using c = await cluster(url(), t0);
    await c.api.schedules.upsert({ id: "s", job: "report", every: 10 });
    const leaders = ["x", "y", "z"].map((owner) =>
      new RuntimeSchedules({
        store: c.store,
        producer: c.api,
        owner,
        window: 6,
      })
    );
    for (let t = t0 + 10; t <= t0 + 50; t += 10) {
      c.set(t);
      const queued = await Promise.all(
        leaders.map((leader) => leader.queueDue(t)),
      );
      assert.equal(queued.flat().length, 1, `due time ${t - t0}`);
    }
    const tasks = await c.tasksOf("s");
    assert.deepEqual(
      tasks.map((task) => at(task.due) - t0),
      [10, 20, 30, 40, 50],
    );
    assert.equal((await c.get("s"))!.runs, 5);
  });
}
