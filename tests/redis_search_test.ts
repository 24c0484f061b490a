/**
 * The Redis store's search, queue stats and progress, on a private
 * redis-server: the search index (`search`, one ZSET a queue) follows every
 * task from enqueue to drop, pages cover every task once (even thousands
 * of one `timeQueued`), and a page looks at a bounded number of tasks.
 */
import assert from "node:assert/strict";
import { delivered, waitFor } from "./_helpers.ts";
import { TaskStatus, type TaskStatusCode } from "../src/model/status.ts";
import type { ChannelMessage, TaskPage } from "../src/store/store.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { redisKeys } from "../src/store/redis/keys.ts";
import { FORGET_QUEUE } from "../src/store/redis/script_files.ts";
import { scriptCall } from "../src/store/redis/lua/script.ts";
import { TEXT_SCAN_MAX } from "../src/store/task_query.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { startRedis } from "./_redis.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

const T0 = 1_700_000_000.25;

/** A store in a namespace of its own, on a clock the test moves. */
async function openStore(
  serializer: "json" | "msgpack" = "json",
): Promise<{ store: RedisStore; namespace: string; clock: { t: number } }> {
  const namespace = `s${crypto.randomUUID().slice(0, 8)}`;
  const clock = { t: T0 + 1000 };
  const store = await RedisStore.open(redis.url(namespace), {
    serializer,
    resultTtl: 60,
    now: () => clock.t,
  });
  return { store, namespace, clock };
}

function task(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: newTaskId(),
    name: "addition",
    queue: "default",
    status: TaskStatus.QUEUED,
    timeQueued: T0,
    delay: 0,
    retry: 1,
    kwargs: {},
    meta: {},
    runInfo: {},
    ...overrides,
  };
}

const asking = {
  queues: ["default"],
  max: 100,
  worker: "worker-1",
  node: "host-1",
  leaseSeconds: 30,
};

/** Every page of a search, following `next`. */
async function allPages(
  store: RedisStore,
  query: Parameters<RedisStore["searchTasks"]>[0],
): Promise<TaskPage[]> {
  const pages: TaskPage[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.searchTasks({ ...query, cursor });
    pages.push(page);
    cursor = page.next;
  } while (cursor !== undefined && pages.length < 1000);
  return pages;
}

const ids = (page: TaskPage) => page.tasks.map((t) => t.id);

Deno.test("redis search: by job, status, queue, text, since and until, newest first", async () => {
  const { store } = await openStore();
  try {
    const a = task({ timeQueued: T0 + 1, kwargs: { city: "Paris" } });
    const b = task({ timeQueued: T0 + 2, name: "mul", kwargs: { x: 1 } });
    const c = task({ timeQueued: T0 + 3, queue: "other", kwargs: {} });
    const d = task({ timeQueued: T0 + 4, kwargs: { city: "Rome" } });
    await store.enqueue([a, b, c, d]);
    // a runs, then ends with a result; b is running.
    const [first] = await store.claim({ ...asking, max: 1 });
    assert.equal(first.id, a.id);
    assert.deepEqual(
      await store.finish([{
        ...first,
        task: {
          ...first.task!,
          status: TaskStatus.SUCCESS,
          result: "Bonjour PARIS",
          timeEnded: T0 + 10,
        },
      }]),
      [true],
    );
    const [second] = await store.claim({ ...asking, max: 1 });
    assert.equal(second.id, b.id);

    const search = async (query: Parameters<RedisStore["searchTasks"]>[0]) =>
      ids(await store.searchTasks(query));
    assert.deepEqual(await search({}), [d.id, c.id, b.id, a.id]);
    assert.deepEqual(await search({ job: "mul" }), [b.id]);
    assert.deepEqual(await search({ queue: "other" }), [c.id]);
    assert.deepEqual(await search({ queue: "nowhere" }), []);
    const status = async (...codes: TaskStatusCode[]) =>
      await search({ status: codes });
    assert.deepEqual(await status(TaskStatus.SUCCESS), [a.id]);
    assert.deepEqual(await status(TaskStatus.STARTED), [b.id]);
    assert.deepEqual(await status(TaskStatus.QUEUED), [d.id, c.id]);
    assert.deepEqual(
      await status(TaskStatus.SUCCESS, TaskStatus.STARTED),
      [b.id, a.id],
    );
    // Text: in kwargs or the result, ignoring case.
    assert.deepEqual(await search({ text: "paris" }), [a.id]);
    assert.deepEqual(await search({ text: "bonjour" }), [a.id]);
    assert.deepEqual(await search({ text: "ROME" }), [d.id]);
    assert.deepEqual(await search({ since: T0 + 2 }), [d.id, c.id, b.id]);
    assert.deepEqual(await search({ until: T0 + 3 }), [b.id, a.id]);
    assert.deepEqual(
      await search({ since: T0 + 2, until: T0 + 4, queue: "default" }),
      [b.id],
    );
    // A running task reads as `get` reads it.
    const [running] = (await store.searchTasks({ job: "mul" })).tasks;
    assert.deepEqual(running, await store.get(b.id));
    assert.equal(running.worker, "worker-1");
    const [done] = (await store.searchTasks({ text: "paris" })).tasks;
    assert.equal(done.result, "Bonjour PARIS");
    // Everything fits one page: no next.
    assert.equal((await store.searchTasks({})).next, undefined);
    await assert.rejects(
      () => store.searchTasks({ limit: 0 }),
      (error: Error) =>
        error instanceof TypeError && /limit/.test(error.message),
    );
    await assert.rejects(
      () => store.searchTasks({ cursor: "nope" }),
      (error: Error) =>
        error instanceof TypeError && /cursor/.test(error.message),
    );
  } finally {
    await store.close();
  }
});

Deno.test("redis search: pages cover every task once, with 120 tasks of one time", async () => {
  const { store, namespace } = await openStore("msgpack");
  try {
    const many = Array.from({ length: 120 }, () => task());
    const older = task({ timeQueued: T0 - 1 });
    const newer = task({ timeQueued: T0 + 1, queue: "other" });
    await store.enqueue([...many, older]);
    await store.enqueue([newer]);
    const pages = await allPages(store, { limit: 50 });
    assert.deepEqual(pages.map((page) => page.tasks.length), [50, 50, 22]);
    assert.equal(pages.at(-1)!.next, undefined);
    const seen = pages.flatMap(ids);
    assert.equal(new Set(seen).size, seen.length);
    // Newest first, then by id descending among tasks of one time.
    const sorted = [...many].map((t) => t.id).sort().reverse();
    assert.deepEqual(seen, [newer.id, ...sorted, older.id]);
    // A page goes on after its cursor's task even once that task is gone.
    const [page] = pages;
    const last = page.tasks.at(-1)!.id;
    const keys = redisKeys(namespace).queue("default");
    await redis.send(["ZREM", keys.search, last]);
    await redis.send(["HDEL", keys.tasks, last]);
    const after = await store.searchTasks({ limit: 50, cursor: page.next });
    assert.deepEqual(ids(after), ids(pages[1]));
    // One queue, small pages.
    const small = await allPages(store, { queue: "default", limit: 7 });
    assert.deepEqual(
      small.flatMap(ids),
      [...sorted, older.id].filter((id) => id !== last),
    );
    assert.equal(small.length, 18);
  } finally {
    await store.close();
  }
});

Deno.test("redis search: pages across queues merge in order", async () => {
  const { store } = await openStore();
  try {
    const queues = ["q1", "q2", "q3"];
    const all = Array.from(
      { length: 90 },
      (_, i) =>
        task({
          queue: queues[i % 3],
          // Some times shared across queues, some not.
          timeQueued: T0 + Math.floor(i / 4),
        }),
    );
    for (const queue of queues) {
      await store.enqueue(all.filter((t) => t.queue === queue));
    }
    const expected = [...all].sort((x, y) =>
      y.timeQueued - x.timeQueued || (y.id > x.id ? 1 : y.id < x.id ? -1 : 0)
    ).map((t) => t.id);
    for (const limit of [1, 4, 13, 90, 500]) {
      const pages = await allPages(store, { limit });
      assert.deepEqual(pages.flatMap(ids), expected, `limit ${limit}`);
    }
    const q2 = await allPages(store, { queue: "q2", limit: 6 });
    assert.deepEqual(
      q2.flatMap(ids),
      expected.filter((id) => all.find((t) => t.id === id)!.queue === "q2"),
    );
  } finally {
    await store.close();
  }
});

Deno.test("redis search: dropped and flushed tasks leave the index", async () => {
  const { store, namespace, clock } = await openStore();
  const keys = redisKeys(namespace).queue("default");
  const card = async () => Number(await redis.cli("ZCARD", keys.search));
  try {
    const finished = [task(), task()];
    await store.enqueue(finished);
    assert.equal(await card(), 2);
    const claims = await store.claim(asking);
    const retry = task({ timeQueued: T0 + 5, status: TaskStatus.RETRY });
    await store.finish(claims.map((claim, i) => ({
      ...claim,
      task: { ...claim.task!, status: TaskStatus.FAILURE },
      retry: i === 0 ? retry : undefined,
    })));
    // Finished and kept, and the retry queued.
    assert.equal(await card(), 3);
    assert.deepEqual(
      ids(await store.searchTasks({ status: [TaskStatus.FAILURE] })).sort(),
      finished.map((t) => t.id).sort(),
    );
    assert.deepEqual(
      ids(await store.searchTasks({ status: [TaskStatus.RETRY] })),
      [retry.id],
    );
    // The retry is flushed; the finished ones expire.
    assert.equal(await store.flush(["default"]), 1);
    assert.equal(await card(), 2);
    clock.t += 61;
    await store.reclaim(3, ["default"]);
    assert.deepEqual(await store.searchTasks({}), { tasks: [] });
    assert.equal(await card(), 0);
    assert.equal(await redis.cli("EXISTS", keys.search), "0");
  } finally {
    await store.close();
  }
});

Deno.test("redis search: an unreadable or missing record is passed over", async () => {
  const { store, namespace } = await openStore();
  const keys = redisKeys(namespace).queue("default");
  try {
    const good = task();
    await store.enqueue([good]);
    await redis.send(["HSET", keys.tasks, "bad", "{not a task"]);
    await redis.send(["ZADD", keys.search, String(T0 + 1), "bad"]);
    await redis.send(["ZADD", keys.search, String(T0 + 2), "gone"]);
    assert.deepEqual(ids(await store.searchTasks({})), [good.id]);
    const page = await store.searchTasks({ limit: 1 });
    assert.deepEqual(ids(page), [good.id]);
  } finally {
    await store.close();
  }
});

Deno.test("redis search: a page looks at a bounded number of tasks", async () => {
  const { store } = await openStore();
  try {
    const total = TEXT_SCAN_MAX + 30;
    const tasks = Array.from(
      { length: total },
      (_, i) => task({ timeQueued: T0 + i, kwargs: { n: i } }),
    );
    await store.enqueue(tasks);
    // The oldest is the one match: the first page stops at the bound.
    const first = await store.searchTasks({ text: '"n":0}' });
    assert.deepEqual(first.tasks, []);
    assert.ok(first.next);
    const second = await store.searchTasks({
      text: '"n":0}',
      cursor: first.next,
    });
    assert.deepEqual(ids(second), [tasks[0].id]);
    assert.equal(second.next, undefined);
  } finally {
    await store.close();
  }
});

Deno.test("redis queueStats: sizes and the latency of the oldest due task", async () => {
  const { store, clock } = await openStore();
  try {
    assert.deepEqual(await store.queueStats(), []);
    const now = clock.t;
    await store.enqueue([
      task({ timeQueued: now - 30 }),
      task({ timeQueued: now - 10 }),
      task({ timeQueued: now - 5 }),
      task({ timeQueued: now, delay: 100 }),
      task({ timeQueued: now, queue: "other" }),
    ]);
    const [running] = await store.claim({ ...asking, max: 1 });
    assert.ok(running);
    assert.deepEqual(await store.queueStats(), [
      { queue: "default", ready: 2, delayed: 1, running: 1, latency: 10 },
      { queue: "other", ready: 1, delayed: 0, running: 0, latency: 0 },
    ]);
    clock.t += 5;
    assert.deepEqual(await store.queueStats(["other", "none"]), [
      { queue: "other", ready: 1, delayed: 0, running: 0, latency: 5 },
      { queue: "none", ready: 0, delayed: 0, running: 0, latency: 0 },
    ]);
    // A delayed task now due is ready, waiting since it became due.
    clock.t = now + 130;
    const [stats] = await store.queueStats(["default"]);
    assert.deepEqual(stats, {
      queue: "default",
      ready: 3,
      delayed: 0,
      running: 1,
      latency: 140,
    });
    // A claim takes due delayed tasks first, then the oldest ready one.
    await store.claim({ ...asking, max: 2 });
    const [after] = await store.queueStats(["default"]);
    assert.equal(after.ready, 1);
    assert.equal(after.latency, 135); // queued at now - 5
  } finally {
    await store.close();
  }
});

Deno.test("redis setProgress: written under the lease, announced, refused without it", async () => {
  const { store } = await openStore("msgpack");
  const events: ChannelMessage[] = [];
  const unsubscribe = await store.subscribe("task", (message) => {
    if (message.event === "progress") events.push(message);
  });
  try {
    const t = task();
    await store.enqueue([t]);
    const [claim] = await store.claim(asking);
    const progress = { value: 0.5, message: "half", data: { n: 1 }, time: T0 };
    assert.equal(await store.setProgress(claim, progress), true);
    const stored = await store.get(t.id);
    assert.deepEqual(stored?.progress, progress);
    assert.equal(stored?.status, TaskStatus.STARTED);
    await waitFor(() => events.length > 0, { timeout: 1000 })
      .catch(() => undefined);
    assert.equal(events.length, 1);
    const record = events[0].data as TaskRecord;
    assert.equal(record.id, t.id);
    assert.deepEqual(record.progress, progress);
    assert.equal(record.status, TaskStatus.STARTED);
    assert.equal(record.worker, "worker-1");
    // Searchable with it.
    assert.deepEqual(
      (await store.searchTasks({ status: [TaskStatus.STARTED] })).tasks[0]
        .progress,
      progress,
    );
    // Another token, or a lease that ended, writes nothing.
    const later = { ...progress, value: 0.9 };
    assert.equal(
      await store.setProgress({ id: t.id, token: `${claim.token}x` }, later),
      false,
    );
    assert.equal(
      await store.setProgress({ id: "nope", token: claim.token }, later),
      false,
    );
    await store.release([claim]);
    assert.equal(await store.setProgress(claim, later), false);
    assert.deepEqual((await store.get(t.id))?.progress, progress);
    // Any progress event of them would be delivered before a marker.
    await delivered(store, "task");
    assert.equal(events.length, 1);
  } finally {
    await unsubscribe();
    await store.close();
  }
});

Deno.test("redis queue registry: queues found without SCAN, empty ones forgotten, old data found once", async () => {
  const { store, namespace, clock } = await openStore();
  const other = await RedisStore.open(redis.url(namespace), {
    serializer: "json",
    resultTtl: 60,
    now: () => clock.t,
  });
  const registry = redisKeys(namespace).queues;
  try {
    // A queue another store queued in is listed and searched.
    const mailed = task({ queue: "mail" });
    await other.enqueue([mailed]);
    await store.enqueue([task()]);
    assert.deepEqual(await store.queueNames(), ["default", "mail"]);
    assert.equal(
      (await store.searchTasks({ job: "addition" })).tasks.length,
      2,
    );
    assert.equal(
      Number(await redis.cli("ZSCORE", registry, "mail")),
      clock.t,
    );
    // Registered once a minute while queueing, not once a task.
    clock.t += 30;
    await other.enqueue([task({ queue: "mail" })]);
    assert.equal(
      Number(await redis.cli("ZSCORE", registry, "mail")),
      clock.t - 30,
    );

    // "mail" emptied: its tasks ended and dropped after their retention.
    const claims = await other.claim({ ...asking, queues: ["mail"] });
    assert.equal(claims.length, 2);
    await other.finish(claims.map((claim) => ({
      id: claim.id,
      token: claim.token,
      task: { ...claim.task!, status: TaskStatus.SUCCESS, timeEnded: clock.t },
    })));
    clock.t += 120;
    await other.reclaim(3, ["mail"]);
    assert.equal(
      await redis.cli("EXISTS", redisKeys(namespace).queue("mail").search),
      "0",
    );
    // Listed no more at once (no tasks), dropped from the registry once its
    // registration is 10 minutes old.
    assert.deepEqual(await store.queueNames(), ["default"]);
    assert.notEqual(await redis.cli("ZSCORE", registry, "mail"), "");
    clock.t += 600;
    assert.deepEqual(await store.queueNames(), ["default"]);
    assert.equal(await redis.cli("ZSCORE", registry, "mail"), "");
    // "default" still holds its task: kept, however old.
    assert.notEqual(await redis.cli("ZSCORE", registry, "default"), "");

    // A namespace without a registry (an older pq's) is found by SCAN once.
    await redis.cli("DEL", registry);
    assert.deepEqual(await store.queueNames(), ["default"]);
    assert.notEqual(await redis.cli("ZSCORE", registry, "default"), "");
  } finally {
    await other.close();
    await store.close();
  }
});

Deno.test("redis queue registry: a queue registered again since it was read is kept", async () => {
  const { store, namespace } = await openStore();
  try {
    const registry = redisKeys(namespace).queues;
    await redis.cli("ZADD", registry, "100", "q");
    // Registered again (score 200) after the caller read 100: kept.
    await redis.cli("ZADD", registry, "200", "q");
    const { keys, argv } = scriptCall(FORGET_QUEUE, { registry }, {
      queue: "q",
      registered: "100",
    });
    const evaluated = await redis.cli(
      "EVAL",
      FORGET_QUEUE.source,
      String(keys.length),
      ...keys,
      ...argv.map(String),
    );
    assert.equal(evaluated, "0");
    assert.equal(await redis.cli("ZSCORE", registry, "q"), "200");
  } finally {
    await store.close();
  }
});
