/**
 * What an idle embedded store costs, counted rather than timed: its change
 * loop reads no events and no tasks while nothing changes, and a store
 * that a worker beats on with nothing queued keeps its files bounded.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { StoreOptions } from "../src/store/store.ts";
import { tempDir } from "./_server.ts";
import { delay, queuedRecord, waitFor } from "./_helpers.ts";

const options: StoreOptions = { serializer: "json", resultTtl: 600 };

/** A QUEUED record queued at `now`. */
const record = queuedRecord;

/** Resolves once `check` is true; fails after 5 s. */
function until(check: () => boolean): Promise<void> {
  return waitFor(check, { timeout: 5000 });
}

Deno.test({
  name:
    "sqlite: an idle store watches its WAL file and reads nothing until another process commits",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/idle.sqlite`;
    await using store = await SqliteStore.open(path, options);
    await using other = await SqliteStore.open(path, options);
    // The loop's counts, read afresh at each call.
    const counters = () => store.changeLoopStats;
    const heard: unknown[] = [];
    const unsubscribe = await store.subscribe("c", (m) => heard.push(m.data));
    const stop = new AbortController();
    let woken = false;
    const waiting = store.waitForTasks(["default"], 60, stop.signal).then(
      () => woken = true,
    );
    const start = counters();

    // Nothing happens: no look but the occasional fallback, and no reads
    // (watched for 0.3 s: there is no event for what does not happen).
    await delay(300);
    assert.ok(counters().looks - start.looks <= 1, `${counters().looks} looks`);

    // The WAL file is touched without a commit (as when a look comes before
    // the writer made its commit visible): looks, but no reads.
    for (let i = 0; i < 5; i++) {
      const changes = counters().fileChanges;
      const now = new Date();
      Deno.utimeSync(`${path}-wal`, now, now);
      await until(() => counters().fileChanges > changes);
    }
    await until(() => counters().looks - start.looks >= 5);
    assert.equal(counters().reads, start.reads);
    assert.equal(woken, false);

    // Another process commits: now the loop reads, and delivers.
    await other.publish({ channel: "c", event: "e", data: 1 });
    await until(() => heard.length === 1);
    assert.ok(counters().reads > start.reads);

    // A delayed task is not due: the waiter keeps waiting; a ready one
    // wakes it.
    const now = Date.now() / 1000;
    await other.enqueue([record(now, { delay: 3600 })]);
    const reads = counters().reads;
    await until(() => counters().reads > reads);
    assert.equal(woken, false);
    await other.enqueue([record(now)]);
    await waiting;
    assert.equal(woken, true);
    stop.abort();
    await unsubscribe();
  },
});

Deno.test({
  name:
    "sqlite: a store busy committing polls instead of hearing every write of its WAL file, and watches again once quiet",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/busy.sqlite`;
    await using store = await SqliteStore.open(path, options);
    await using other = await SqliteStore.open(path, options);
    // The loop's counts, read afresh at each call.
    const counters = () => store.changeLoopStats;
    const heard: unknown[] = [];
    const unsubscribe = await store.subscribe("c", (m) => heard.push(m.data));
    const start = counters();
    // 300 commits of its own in a row, the event loop turning between them:
    // each writes the WAL file, and a watcher would hear every write.
    for (let i = 0; i < 300; i++) {
      await store.publish({ channel: "c", event: "e", data: i });
      await delay(0);
    }
    await until(() => heard.length === 300);
    assert.ok(
      counters().fileChanges - start.fileChanges < 30,
      `${counters().fileChanges - start.fileChanges} writes heard`,
    );
    // Quiet again: it watches, and hears the next write at once (0.1 s to
    // settle, then 0.2 s watched for looks: no event for what does not come).
    await delay(100);
    const changes = counters().fileChanges;
    const looks = counters().looks;
    await delay(200);
    assert.ok(
      counters().looks - looks <= 1,
      `${counters().looks - looks} looks`,
    );
    const now = new Date();
    Deno.utimeSync(`${path}-wal`, now, now);
    await until(() => counters().fileChanges > changes);
    // Another process's commit is delivered.
    await other.publish({ channel: "c", event: "e", data: "other" });
    await until(() => heard.at(-1) === "other");
    await unsubscribe();
  },
});

Deno.test("sqlite: without a watcher the loop polls the data version only", async () => {
  // In memory there is no WAL file to watch: the loop looks on a timer.
  await using store = await SqliteStore.open(":memory:", options);
  // The loop's counts, read afresh at each call.
  const counters = () => store.changeLoopStats;
  const unsubscribe = await store.subscribe("c", () => {});
  const stop = new AbortController();
  const waiting = store.waitForTasks(["default"], 60, stop.signal);
  const start = counters();
  await until(() => counters().looks - start.looks >= 10);
  assert.equal(counters().reads, start.reads);
  assert.equal(counters().fileChanges, 0);
  stop.abort();
  await waiting;
  await unsubscribe();
});

Deno.test("sqlite: a store's own events reach its own subscribers", async () => {
  // Its own commits do not change its data version; the store knows them.
  await using dir = await tempDir();
  await using store = await SqliteStore.open(`${dir.path}/own.sqlite`, options);
  const heard: unknown[] = [];
  const unsubscribe = await store.subscribe("c", (m) => heard.push(m.data));
  for (let i = 0; i < 3; i++) {
    await store.publish({ channel: "c", event: "e", data: i });
    await until(() => heard.length === i + 1);
  }
  assert.deepEqual(heard, [0, 1, 2]);
  await unsubscribe();
});

/** A worker's status as it beats, with a few jobs advertised (~1.5 KB). */
function status(worker: string, time: number) {
  return {
    worker,
    node: "host",
    pid: 1,
    queues: ["host", "default"],
    maxConcurrentTasks: 4,
    concurrentTasks: [],
    processed: 0,
    cores: 2,
    time,
    until: time + 7.5,
    jobs: Array.from({ length: 12 }, (_, i) => ({
      name: `job.number.${i}`,
      defaultQueue: null,
      timeout: 60,
      maxConcurrency: null,
    })),
  };
}

Deno.test("sqlite: an idle worker's status events and reclaims do not grow the files", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/beats.sqlite`;
  let t = 1_700_000_000;
  await using store = await SqliteStore.open(path, {
    ...options,
    now: () => t,
  });
  // A reader of another connection, as a producer or the dashboard.
  const reader = new DatabaseSync(path);
  const sizes = () => {
    const size = (file: string) => {
      try {
        return Deno.statSync(file).size;
      } catch {
        return 0;
      }
    };
    return { db: size(path), wal: size(`${path}-wal`) };
  };
  let lastReclaim = t;
  // Two workers: a status every 2 s each, a reclaim every 5 s each, as
  // an idle server did; one beat is 2 s of the clock.
  const beat = async () => {
    for (const worker of ["w1", "w2"]) {
      await store.publish({
        channel: "consumer",
        event: "status",
        data: status(worker, t),
      });
    }
    reader.prepare("SELECT count(*) AS n FROM events").get();
    t += 2;
    if (t - lastReclaim >= 5) {
      lastReclaim = t;
      await store.reclaim(5);
      await store.reclaim(5);
    }
  };
  try {
    // Past the events' retention: the table holds a minute of events.
    for (let i = 0; i < 100; i++) await beat();
    const warm = sizes();
    for (let i = 0; i < 1000; i++) await beat();
    const end = sizes();
    assert.ok(end.db <= warm.db, `db ${warm.db} -> ${end.db} bytes`);
    assert.ok(end.wal <= warm.wal, `wal ${warm.wal} -> ${end.wal} bytes`);
    // A few reclaims' worth of commits, far below SQLite's 4 MB.
    assert.ok(end.wal <= 256 * 1024, `wal ${end.wal} bytes`);
    const { n } = reader.prepare("SELECT count(*) AS n FROM events").get() as {
      n: number;
    };
    // 2 per 2 s for a minute, plus up to a prune interval (15 s).
    assert.ok(n <= 2 * (60 + 15 + 5) / 2, `${n} events kept`);
  } finally {
    reader.close();
  }
});
