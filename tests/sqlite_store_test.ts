/**
 * The embedded SQLite store: the store contract on a temporary file with
 * both serializers, and what only a file shared by processes can show.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TaskStatus } from "../src/status.ts";
import { SqliteStore } from "../src/store/sqlite_store.ts";
import type { StoreOptions } from "../src/store/store.ts";
import { newTaskId, type TaskRecord } from "../src/task.ts";
import { storeContract } from "./store_contract.ts";
import { openSqlite } from "./_contract_stores.ts";
import { injectGarbage } from "./_garbage.ts";
import { tempDir } from "./_server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const STORE_MODULE = new URL("../src/store/sqlite_store.ts", import.meta.url)
  .href;

storeContract("sqlite json", openSqlite, {
  serializer: "json",
  injectGarbage,
});
storeContract("sqlite msgpack", openSqlite, {
  serializer: "msgpack",
  injectGarbage,
});

function record(now: number, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: newTaskId(),
    name: "addition",
    queue: "default",
    status: TaskStatus.QUEUED,
    timeQueued: now,
    delay: 0,
    retry: 1,
    kwargs: { a: 1 },
    meta: {},
    runInfo: {},
    ...overrides,
  };
}

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
  const deadline = Date.now() + 60_000;
  while (!await ready()) {
    assert.ok(Date.now() < deadline, "children did not start");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
  assert.deepEqual(await store.sizes(["default"]), [0]);
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
