/**
 * The embedded SQLite store: the store contract on a temporary file with
 * both serializers, and what only a file shared by processes can show.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TaskStatus } from "../src/model/status.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import type { StoreOptions } from "../src/store/store.ts";
import { storeContract } from "./store_contract.ts";
import { openSqlite } from "./_contract_stores.ts";
import { injectGarbage } from "./_garbage.ts";
import { tempDir } from "./_server.ts";
import { queuedRecord, waitFor } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const STORE_MODULE =
  new URL("../src/store/sqlite/sqlite_store.ts", import.meta.url)
    .href;

storeContract("sqlite json", openSqlite, {
  serializer: "json",
  injectGarbage,
});
storeContract("sqlite msgpack", openSqlite, {
  serializer: "msgpack",
  injectGarbage,
});

/** A QUEUED record queued at `now`. */
const record = queuedRecord;

const claimRequest = {
  queues: ["default"],
  max: 10,
  worker: "w",
  node: "n",
  leaseSeconds: 10,
};

Deno.test("sqlite: two processes never claim the same task", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/shared.sqlite`;
  const options: StoreOptions = { serializer: "json", resultTtl: 600 };
  const total = 500;
  const ids = new Set<string>();
  {
    await using store = await SqliteStore.open(path, options);
    const now = Date.now() / 1000;
    const tasks = Array.from(
      { length: total },
      (_, i) => record(now, { kwargs: { i } }),
    );
    await store.enqueue(tasks);
    for (const task of tasks) ids.add(task.id);
  }

  // Each child claims in small batches, finishes them and prints the ids;
  // both start together when the file `go` appears.
  const child = `
    import { SqliteStore } from ${JSON.stringify(STORE_MODULE)};
    const dir = Deno.env.get("PQ_DIR");
    const me = Deno.env.get("PQ_CHILD");
    const store = await SqliteStore.open(dir + "/shared.sqlite", {
      serializer: "json",
      resultTtl: 600,
    });
    await Deno.writeTextFile(dir + "/ready-" + me, "");
    for (;;) {
      try {
        await Deno.stat(dir + "/go");
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const claimed = [];
    let unfinished = 0;
    for (;;) {
      const claims = await store.claim({
        queues: ["default"], max: 7, worker: "w" + me, node: "n",
        leaseSeconds: 600,
      });
      if (claims.length === 0) break;
      claimed.push(...claims.map((claim) => claim.id));
      const written = await store.finish(claims.map((claim) => ({
        id: claim.id,
        token: claim.token,
        task: { ...claim.task, status: 1, timeEnded: Date.now() / 1000 },
      })));
      unfinished += written.filter((ok) => !ok).length;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await store.close();
    if (unfinished) throw new Error(unfinished + " outcomes not written");
    await Deno.stdout.write(new TextEncoder().encode(claimed.join("\\n")));
  `;
  const children = ["1", "2"].map((me) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", `${ROOT}deno.json`, child],
      cwd: ROOT,
      env: { PQ_DIR: dir.path, PQ_CHILD: me },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn()
  );
  const ready = async () => {
    for (const me of ["1", "2"]) {
      try {
        await Deno.stat(`${dir.path}/ready-${me}`);
      } catch {
        return false;
      }
    }
    return true;
  };
  await waitFor(ready, { timeout: 60_000, what: "the children to start" });
  await Deno.writeTextFile(`${dir.path}/go`, "");
  const outputs = await Promise.all(children.map((child) => child.output()));
  const decoder = new TextDecoder();
  const claimed = outputs.map((output, i) => {
    assert.ok(
      output.success,
      `child ${i + 1} failed: ${decoder.decode(output.stderr)}`,
    );
    return decoder.decode(output.stdout).split("\n").filter(Boolean);
  });

  const [first, second] = claimed.map((list) => new Set(list));
  assert.equal(first.size, claimed[0].length, "a child claimed a task twice");
  assert.equal(second.size, claimed[1].length, "a child claimed a task twice");
  assert.deepEqual([...first].filter((id) => second.has(id)), []);
  assert.deepEqual(new Set([...first, ...second]), ids);

  await using store = await SqliteStore.open(path, options);
  assert.deepEqual(await queueSizes(store, ["default"]), [0]);
  const statuses = new Set(
    await Promise.all(
      [...ids].map(async (id) => (await store.get(id))?.status),
    ),
  );
  assert.deepEqual(statuses, new Set([TaskStatus.SUCCESS]));
});

Deno.test("sqlite: a running task whose revoke was requested never runs again", async () => {
  await using dir = await tempDir();
  let t = 1000;
  await using store = await SqliteStore.open(`${dir.path}/s.sqlite`, {
    serializer: "json",
    resultTtl: 600,
    now: () => t,
  });
  const expiring = record(t);
  const released = record(t);
  await store.enqueue([expiring, released]);
  const claims = await store.claim(claimRequest);
  assert.equal(await store.revoke(expiring.id), "requested");
  assert.equal(await store.revoke(released.id), "requested");

  await store.release([claims[1]]);
  t += 11;
  // Ended REVOKED: neither redelivered nor failed, but changed.
  assert.deepEqual(await store.reclaim(5), {
    redelivered: 0,
    failed: 0,
    changed: [expiring.id],
  });
  for (const id of [expiring.id, released.id]) {
    const task = await store.get(id);
    assert.equal(task?.status, TaskStatus.REVOKED);
    assert.equal(task?.timeEnded, t - (id === released.id ? 11 : 0));
  }
  assert.deepEqual(await store.claim(claimRequest), []);
});

Deno.test("sqlite: reopening a file keeps its tasks and schema", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.sqlite`;
  const options: StoreOptions = { serializer: "msgpack", resultTtl: 600 };
  const task = record(Date.now() / 1000);
  {
    await using store = await SqliteStore.open(path, options);
    assert.equal(store.url, `sqlite:${path}`);
    await store.enqueue([task]);
  }
  {
    await using store = await SqliteStore.open(path, options);
    assert.deepEqual(await store.get(task.id), task);
  }
  const db = new DatabaseSync(path);
  const { journal_mode } = db.prepare("PRAGMA journal_mode").get() as {
    journal_mode: string;
  };
  assert.equal(journal_mode, "wal");
  db.exec("PRAGMA user_version = 99");
  db.close();
  await assert.rejects(
    SqliteStore.open(path, options),
    /schema version 99/,
  );
});

/** The indexes of the tasks table: name → the SQL that made it. */
function taskIndexes(db: DatabaseSync): Record<string, string> {
  const rows = db.prepare(
    `SELECT name, sql FROM sqlite_master WHERE type = 'index'
     AND tbl_name = 'tasks' AND sql IS NOT NULL ORDER BY name`,
  ).all() as { name: string; sql: string }[];
  return Object.fromEntries(rows.map((row) => [row.name, row.sql]));
}

Deno.test("sqlite: each task row is in the index of its state only (bulk queueing writes the claim index alone)", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.sqlite`;
  (await SqliteStore.open(path, { serializer: "json", resultTtl: 60 }))
    .close();
  const db = new DatabaseSync(path);
  try {
    const indexes = taskIndexes(db);
    assert.deepEqual(Object.keys(indexes), [
      "tasks_claim",
      "tasks_expiry",
      "tasks_group_due",
      "tasks_groups",
      "tasks_running",
      "tasks_search",
    ]);
    assert.match(indexes.tasks_claim, /WHERE state = 'queued'$/);
    // The rows of groups only (fair queues): a task without one is not there.
    for (const name of ["tasks_group_due", "tasks_groups"]) {
      assert.match(
        indexes[name],
        /WHERE state = 'queued' AND grp IS NOT NULL$/,
      );
    }
    assert.match(indexes.tasks_running, /WHERE state = 'running'$/);
    assert.match(indexes.tasks_search, /WHERE state = 'finished'$/);
    assert.match(indexes.tasks_expiry, /WHERE expires_at IS NOT NULL$/);
  } finally {
    db.close();
  }
});

Deno.test("sqlite: a file of schema version 5 trades its indexes over every row for the partial ones on open, and its tasks of every state go on", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.sqlite`;
  let t = 1000;
  const options: StoreOptions = {
    serializer: "json",
    resultTtl: 600,
    now: () => t,
  };
  const [done, running, queued] = ["done", "running", "queued"].map((k, i) =>
    record(t - 3 + i, { kwargs: { k } })
  );
  {
    await using store = await SqliteStore.open(path, options);
    await store.enqueue([done, running]);
    const claims = await store.claim(claimRequest);
    assert.deepEqual(claims.map((claim) => claim.id), [done.id, running.id]);
    await store.finish([{
      id: claims[0].id,
      token: claims[0].token,
      task: {
        ...claims[0].task!,
        status: TaskStatus.SUCCESS,
        result: "ok",
        timeEnded: t,
      },
    }]);
    await store.enqueue([queued]);
  }
  // Back to version 5, as an older pq left it: its five indexes.
  const old = new DatabaseSync(path);
  old.exec(
    `DROP INDEX tasks_claim; DROP INDEX tasks_running;
     DROP INDEX tasks_search;
     CREATE INDEX tasks_claim
       ON tasks (queue, state, priority DESC, due_at, seq);
     CREATE INDEX tasks_lease ON tasks (state, lease_until);
     CREATE INDEX tasks_slots ON tasks (name, state, lease_until);
     CREATE INDEX tasks_search ON tasks (time_queued, id);
     PRAGMA user_version = 5;`,
  );
  old.close();
  {
    await using store = await SqliteStore.open(path, options);
    // Search finds the tasks of every state, newest first.
    assert.deepEqual(
      (await store.searchTasks({})).tasks.map((task) => task.id),
      [queued.id, running.id, done.id],
    );
    assert.deepEqual(
      (await store.searchTasks({ status: [TaskStatus.SUCCESS] })).tasks
        .map((task) => task.result),
      ["ok"],
    );
    assert.deepEqual(await queueSizes(store, ["default"]), [1]);
    assert.deepEqual(await store.queueNames(), ["default"]);
    const [stats] = await store.queueStats(["default"]);
    assert.deepEqual([stats.ready, stats.running], [1, 1]);
    // The running task's lease ends: reclaim finds it and queues it again.
    t += 20;
    const report = await store.reclaim(3);
    assert.deepEqual(report.changed, [running.id]);
    assert.deepEqual(
      (await store.claim(claimRequest)).map((claim) => claim.id),
      [running.id, queued.id],
    );
  }
  const db = new DatabaseSync(path);
  try {
    const { user_version } = db.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    assert.equal(user_version, 7);
    assert.deepEqual(Object.keys(taskIndexes(db)), [
      "tasks_claim",
      "tasks_expiry",
      "tasks_group_due",
      "tasks_groups",
      "tasks_running",
      "tasks_search",
    ]);
    assert.match(taskIndexes(db).tasks_claim, /WHERE state = 'queued'$/);
    const { integrity_check } = db.prepare("PRAGMA integrity_check")
      .get() as { integrity_check: string };
    assert.equal(integrity_check, "ok");
  } finally {
    db.close();
  }
});

Deno.test("sqlite: an in-memory store works in one process", async () => {
  await using store = await SqliteStore.open(":memory:", {
    serializer: "json",
    resultTtl: 600,
  });
  assert.equal(store.url, "sqlite::memory:");
  const task = record(Date.now() / 1000);
  await store.enqueue([task]);
  const [claim] = await store.claim(claimRequest);
  assert.equal(claim.id, task.id);
});

Deno.test("sqlite: events older than a minute are pruned", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.sqlite`;
  let t = 1000;
  await using store = await SqliteStore.open(path, {
    serializer: "json",
    resultTtl: 600,
    now: () => t,
  });
  await store.publish({ channel: "c", event: "old", data: 1 });
  t += 30;
  await store.publish({ channel: "c", event: "recent", data: 2 });
  t += 31;
  await store.reclaim(5);
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare("SELECT event FROM events").all();
    assert.deepEqual(rows.map((row) => row.event), ["recent"]);
  } finally {
    db.close();
  }
});

Deno.test("sqlite: a queue-less task is refused with its id", async () => {
  await using store = await SqliteStore.open(":memory:", {
    serializer: "json",
    resultTtl: 600,
  });
  const task = record(1000, { queue: null });
  await assert.rejects(
    store.enqueue([task]),
    (error: Error) =>
      error instanceof TypeError && error.message.includes(task.id),
  );
});

Deno.test("sqlite: processes that open one new file at the same moment all open it", async () => {
  const fixture =
    new URL("./fixtures/open_sqlite_at.ts", import.meta.url).pathname;
  for (let round = 0; round < 2; round++) {
    await using dir = await tempDir();
    const at = String(Date.now() + 2000);
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", fixture, `${dir.path}/pq.sqlite`, at],
          stdout: "piped",
          stderr: "piped",
        }).output()),
    );
    const said = runs.map((run) => new TextDecoder().decode(run.stdout).trim());
    assert.deepEqual(said, Array(8).fill("ok"));
  }
});

Deno.test("sqlite: reclaim and expireLeases given queues leave the leases of other queues alone", async () => {
  let t = 1_700_000_000;
  await using store = await SqliteStore.open(":memory:", {
    serializer: "json",
    resultTtl: 600,
    now: () => t,
  });
  const mine = record(t);
  const other = record(t, { queue: "other" });
  await store.enqueue([mine, other]);
  const claims = await store.claim({
    ...claimRequest,
    queues: ["default", "other"],
  });
  assert.equal(claims.length, 2);

  // A dead worker's leases in its queues end; the other queue's stays.
  assert.equal(await store.expireLeases("w", ["default"]), 1);
  assert.deepEqual(await store.reclaim(5, ["other"]), {
    redelivered: 0,
    failed: 0,
    changed: [],
  });
  assert.equal((await store.get(other.id))?.status, TaskStatus.STARTED);
  assert.deepEqual(await store.reclaim(5, ["default"]), {
    redelivered: 1,
    failed: 0,
    changed: [mine.id],
  });

  // Both leases expired: a reclaim of one queue leaves the other's lease.
  await store.claim(claimRequest);
  t += 11;
  assert.deepEqual(await store.reclaim(5, ["other", "other"]), {
    redelivered: 1,
    failed: 0,
    changed: [other.id],
  });
  assert.equal((await store.get(mine.id))?.status, TaskStatus.STARTED);
  // Without queues, every queue's.
  assert.deepEqual(await store.reclaim(5), {
    redelivered: 1,
    failed: 0,
    changed: [mine.id],
  });
});
