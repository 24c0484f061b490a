/**
 * Pausing a queue: a paused queue is not claimed (other queues still
 * serve), producers still queue in it, its state is in the store (seen by
 * another store on the same data) and published on channel `queue`; a
 * worker waiting on it is not woken (nor handed tasks) for new tasks, and
 * is woken at once by a resume, which gives the tasks in their order. On
 * SQLite, Redis, a SplitStore and a managed store; then `pq pause` and
 * `pq resume` against a real server, and bad names refused at the boundary.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { type ChannelMessage, Manager } from "../mod.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import { TaskStatus } from "../src/model/status.ts";
import type { ClaimRequest, Store } from "../src/store/store.ts";
import type { TaskRecord } from "../src/model/task.ts";
import {
  managedOpener,
  openSqlite,
  redisOpener,
  splitOpener,
} from "./_contract_stores.ts";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  pq,
  producerFor,
  type Run,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import type { OpenContractStore } from "./store_contract.ts";
import { delay, queuedRecord } from "./_helpers.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

/** A new QUEUED task of `queue`, queued now (real time). */
function task(queue: string, seconds = 0): TaskRecord {
  return queuedRecord(Date.now() / 1000, { queue, delay: seconds, kwargs: {} });
}

/** A worker's claim of `queues`. */
function claimOf(
  queues: string[],
  more: Partial<ClaimRequest> = {},
): ClaimRequest {
  return {
    queues,
    max: 10,
    worker: "w1",
    node: "n1",
    leaseSeconds: 30,
    ...more,
  };
}

/** Opens stores of `open` for one test (real time); closes them at its end. */
function storesOf(open: OpenContractStore) {
  const stores: Store[] = [];
  return {
    async open(sameAs?: Store): Promise<Store> {
      const store = await open({ serializer: "json", resultTtl: 3600, sameAs });
      stores.push(store);
      return store;
    },
    async [Symbol.asyncDispose]() {
      for (const store of stores.reverse()) await store.close();
    },
  };
}

/** Keeps every message it is told of. */
class Recorder extends Manager {
  readonly heard: ChannelMessage[] = [];
  override storeMessage(message: ChannelMessage): Promise<void> {
    this.heard.push(message);
    return Promise.resolve();
  }
}

/** Registers the pause tests of a store, named `<name>: <behaviour>`. */
function pauseSuite(name: string, open: OpenContractStore): void {
  Deno.test(`${name}: a paused queue is not claimed while others serve; producers still queue; resume gives its tasks in order`, async () => {
    await using stores = storesOf(open);
    const producer = await stores.open();
    const worker = await stores.open(producer);
    const [first, second, other] = [task("q"), task("q"), task("other")];
    await producer.enqueue([first]);
    await producer.enqueue([second]);
    await producer.enqueue([other]);
    assert.equal(await producer.pauseQueue("q"), true);
    assert.equal(await producer.pauseQueue("q"), false, "paused already");
    const third = task("q");
    await producer.enqueue([third]);
    assert.deepEqual(await queueSizes(producer, ["q"]), [3]);
    // Another store on the same data sees the pause.
    assert.deepEqual(await worker.pausedQueues(), ["q"]);
    const request = claimOf(["q", "other"]);
    assert.deepEqual(
      (await worker.claim(request)).map((claim) => claim.id),
      [other.id],
    );
    assert.deepEqual(await worker.claim(request), []);
    const [stats] = await worker.queueStats(["q"]);
    assert.equal(stats.ready, 3);
    assert.equal(stats.running, 0);
    assert.equal((await producer.get(first.id))?.status, TaskStatus.QUEUED);
    assert.equal(await worker.resumeQueue("q"), true);
    assert.equal(await worker.resumeQueue("q"), false, "not paused");
    assert.deepEqual(await producer.pausedQueues(), []);
    assert.deepEqual(
      (await worker.claim(request)).map((claim) => claim.id),
      [first.id, second.id, third.id],
    );
  });

  Deno.test(`${name}: pausedQueues lists every paused queue, sorted`, async () => {
    await using stores = storesOf(open);
    const store = await stores.open();
    for (const queue of ["b", "a", "{app}.c"]) {
      assert.equal(await store.pauseQueue(queue), true);
    }
    await store.enqueue([task("a")]);
    const again = await stores.open(store);
    assert.deepEqual(await again.pausedQueues(), ["a", "b", "{app}.c"]);
    assert.equal(await again.resumeQueue("b"), true);
    assert.deepEqual(await store.pausedQueues(), ["a", "{app}.c"]);
  });

  Deno.test(`${name}: a worker waiting on a paused queue is not woken by its tasks, and is woken at once by resume`, async () => {
    await using stores = storesOf(open);
    const producer = await stores.open();
    const worker = await stores.open(producer);
    assert.equal(await producer.pauseQueue("q"), true);
    // Due in 0.3 s, while the worker waits: no reason to wake either.
    const delayed = task("q", 0.3);
    await producer.enqueue([delayed]);
    const request = claimOf(["q"], { waitSeconds: 10 });
    assert.deepEqual(await worker.claim(request), []);
    let wokeAt = 0;
    const waiting = worker.waitForTasks(["q"], 10).then((claims) => {
      wokeAt = Date.now();
      return claims;
    });
    // No event says the wait has begun: 0.1 s for it to.
    await delay(100);
    const fresh = task("q");
    await producer.enqueue([fresh]);
    // A wake would come at once for the fresh task, and 0.3 s after it was
    // made for the delayed one: watched for until 0.3 s past that (there is
    // no event for a wake that does not come).
    await delay(500);
    assert.equal(wokeAt, 0, "woken while its queue is paused");
    // Nothing was claimed or handed over for it.
    const [stats] = await producer.queueStats(["q"]);
    assert.deepEqual([stats.ready, stats.running], [2, 0]);
    assert.equal((await producer.get(fresh.id))?.status, TaskStatus.QUEUED);
    const resumedAt = Date.now();
    assert.equal(await producer.resumeQueue("q"), true);
    const handed = await waiting;
    assert.ok(
      wokeAt - resumedAt < 1000,
      `woken ${wokeAt - resumedAt} ms after the resume`,
    );
    const claims = [
      ...handed,
      ...await worker.claim({ ...request, waitSeconds: 0 }),
    ];
    assert.deepEqual(
      claims.map((claim) => claim.id).sort(),
      [delayed.id, fresh.id].sort(),
    );
  });

  Deno.test(`${name}: a pause and a resume are published on channel queue, once each`, async () => {
    await using stores = storesOf(open);
    const store = await stores.open();
    const listener = await stores.open(store);
    const heard: ChannelMessage[] = [];
    const unsubscribe = await listener.subscribe(
      "queue",
      (message) => heard.push(message),
    );
    assert.equal(await store.pauseQueue("q"), true);
    assert.equal(await store.pauseQueue("q"), false);
    assert.equal(await store.resumeQueue("q"), true);
    assert.equal(await store.resumeQueue("q"), false);
    // A message published after them comes after any repeat of theirs.
    await store.publish({ channel: "queue", event: "end", data: "q" });
    await eventually(() => heard.length >= 3, 5, "the events");
    assert.deepEqual(heard, [
      { channel: "queue", event: "paused", data: "q" },
      { channel: "queue", event: "resumed", data: "q" },
      { channel: "queue", event: "end", data: "q" },
    ]);
    await unsubscribe();
  });

  Deno.test(`${name}: a queue name that is empty or not a string is refused, naming it`, async () => {
    await using stores = storesOf(open);
    const store = await stores.open();
    await assert.rejects(store.pauseQueue(""), {
      name: "TypeError",
      message:
        `Cannot pause queue as 'queue' must be a non-empty string: got ""`,
    });
    await assert.rejects(store.resumeQueue(3 as unknown as string), {
      name: "TypeError",
      message:
        "Cannot resume queue as 'queue' must be a non-empty string: got 3",
    });
    assert.deepEqual(await store.pausedQueues(), []);
  });
}

pauseSuite("sqlite", openSqlite);
pauseSuite("split sqlite", splitOpener(openSqlite, openSqlite));
pauseSuite("redis", redisOpener(redis));
pauseSuite("split redis", splitOpener(redisOpener(redis), openSqlite));

Deno.test("managed: the manager hears a pause and a resume, once each", async () => {
  const manager = new Recorder({ settings: defaultSettings(), role: "worker" });
  await using stores = storesOf(managedOpener(openSqlite, manager));
  const store = await stores.open();
  assert.equal(await store.pauseQueue("q"), true);
  assert.equal(await store.pauseQueue("q"), false);
  assert.equal(await store.resumeQueue("q"), true);
  assert.equal(await store.resumeQueue("q"), false);
  assert.deepEqual(
    manager.heard.filter((message) => message.channel === "queue"),
    [
      { channel: "queue", event: "paused", data: "q" },
      { channel: "queue", event: "resumed", data: "q" },
    ],
  );
});

Deno.test({
  name:
    "redis: a waiting worker is handed no task of a paused queue, and still gets another queue's",
  async fn() {
    await using stores = storesOf(redisOpener(redis));
    const producer = await stores.open();
    const worker = await stores.open(producer);
    assert.equal(await producer.pauseQueue("q"), true);
    // Registers as waiting on both queues (the hand-over).
    const request = claimOf(["q", "r"], { waitSeconds: 10 });
    assert.deepEqual(await worker.claim(request), []);
    const paused = task("q");
    await producer.enqueue([paused]);
    const [stats] = await producer.queueStats(["q"]);
    assert.deepEqual([stats.ready, stats.running], [1, 0]);
    // Its registration is intact: a task of the other queue is handed over.
    const other = task("r");
    await producer.enqueue([other]);
    const handed = await worker.waitForTasks(["q", "r"], 5);
    assert.deepEqual(handed.map((claim) => claim.id), [other.id]);
    assert.equal((await producer.get(paused.id))?.status, TaskStatus.QUEUED);
  },
});

Deno.test("api.queues refuses a bad queue name with a TypeError naming it", async () => {
  await using dir = await tempDir();
  await using api = await producerFor({
    dataStore: `sqlite:${dir.path}/pq.sqlite`,
  });
  await assert.rejects(api.queues.pause(""), {
    name: "TypeError",
    message: `Cannot pause queue as 'queue' must be a non-empty string: got ""`,
  });
  await assert.rejects(api.queues.resume(undefined as unknown as string), {
    name: "TypeError",
    message:
      "Cannot resume queue as 'queue' must be a non-empty string: got undefined",
  });
  assert.equal(await api.queues.pause("emails"), true);
  assert.deepEqual(await api.queues.paused(), ["emails"]);
  assert.equal(await api.queues.resume("emails"), true);
  assert.deepEqual(await api.queues.paused(), []);
});

Deno.test("pq pause and pq resume refuse an empty queue name (exit 2), before opening any store", async () => {
  await using dir = await tempDir();
  const store = `sqlite:${dir.path}/none.sqlite`;
  for (const command of ["pause", "resume"]) {
    const empty = await pq(store, command, "fast", "");
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(
      empty.stderr,
      new RegExp(
        `Cannot ${command} queue as 'queue' must be a non-empty string: got ""`,
      ),
    );
    assert.match(empty.stderr, new RegExp(`Usage: pq ${command} <queue>`));
    const none = await pq(store, command);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /needs at least 1 argument: got none/);
  }
  // Nothing was opened, so nothing was made.
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("--help lists pq pause and pq resume, and pq help each", async () => {
  const help = await pq("sqlite::memory:", "--help");
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^ {2}pause\s+Pause the queues/m);
  assert.match(help.stdout, /^ {2}resume\s+Resume paused queues/m);
  for (const command of ["pause", "resume"]) {
    const one = await pq("sqlite::memory:", "help", command);
    assert.equal(one.code, 0, one.stderr);
    assert.match(
      one.stdout,
      new RegExp(`^Usage: pq ${command} <queue> \\[queue \\.\\.\\.\\]`),
    );
  }
});

/** The status of a task, read with `pq status --json`. */
async function statusOf(store: string, id: string): Promise<string> {
  const run = await pq(store, "status", id, "--json");
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout).statusString;
}

/**
 * `pq pause` keeps a task queued on a running server, `pq queues` shows the
 * pause, and `pq resume` has it run.
 */
async function pauseOnServer(store: string): Promise<void> {
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore: store,
    taskPaths: EXAMPLE_JOBS,
    taskQueues: "pulsarqueue,other",
  }));
  await server.ready();
  const paused = await pq(store, "pause", "pulsarqueue");
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(
    paused.stdout,
    /^Paused queue pulsarqueue: workers stop taking its tasks$/m,
  );
  const again = await pq(store, "pause", "pulsarqueue", "--json");
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), {
    queues: ["pulsarqueue"],
    changed: [],
  });
  const queued: Run = await pq(
    store,
    "queue",
    "addition",
    "a=1",
    "b=2",
    "--json",
  );
  assert.equal(queued.code, 0, queued.stderr);
  const id = JSON.parse(queued.stdout).id;
  const queues = JSON.parse((await pq(store, "queues", "--json")).stdout);
  assert.deepEqual(queues.pulsarqueue, { tasks: 1, paused: true });
  assert.match((await pq(store, "queues")).stdout, /^pulsarqueue\s+1\s+yes$/m);
  // The server takes a task of another queue queued after it, and leaves it.
  {
    await using api = await producerFor({ dataStore: store });
    const other = await api.tasks.queue("addition", { a: 1, b: 1 }, {
      queue: "other",
    });
    assert.equal(other.statusString, "SUCCESS", String(other.result));
  }
  assert.equal(await statusOf(store, id), "QUEUED");
  const resumed = await pq(store, "resume", "pulsarqueue");
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stdout,
    /^Resumed queue pulsarqueue: workers take its tasks again$/m,
  );
  await eventually(
    async () => await statusOf(store, id) === "SUCCESS",
    10,
    "the task to run after the resume",
  );
  const after = JSON.parse((await pq(store, "queues", "--json")).stdout);
  assert.deepEqual(after.pulsarqueue, { tasks: 0, paused: false });
  const notPaused = await pq(store, "resume", "pulsarqueue");
  assert.match(notPaused.stdout, /^Queue pulsarqueue was not paused$/m);
  assert.equal((await server.stop()).code, 0, server.stderr());
}

Deno.test("pq pause keeps a task queued on a running server; pq resume runs it (SQLite)", async () => {
  await using dir = await tempDir();
  await pauseOnServer(`sqlite:${dir.path}/pq.sqlite`);
});

Deno.test({
  name:
    "pq pause keeps a task queued on a running server; pq resume runs it (Redis)",
  async fn() {
    await pauseOnServer(redis.url("pqpause"));
  },
});
