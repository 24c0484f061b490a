/**
 * The Redis store: the store contract on a private redis-server with both
 * serializers (each store in its own namespace).
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { delay, queuedRecord, waitFor } from "./_helpers.ts";
import { TaskStatus } from "../src/model/status.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { redisKeys } from "../src/store/redis/keys.ts";
import { redisOpener } from "./_contract_stores.ts";
import { injectRedisGarbage, namespaceOf } from "./_garbage.ts";
import { startRedis } from "./_redis.ts";
import { storeContract, type StoreContractOptions } from "./store_contract.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

const openRedis = redisOpener(redis);
/** Writes into the store's keys, as a foreign or broken writer might. */
const injectGarbage: StoreContractOptions["injectGarbage"] = (
  store,
  task,
  payload,
) => injectRedisGarbage(redis, namespaceOf(store), task, payload);

storeContract("redis json", openRedis, { serializer: "json", injectGarbage });
storeContract("redis msgpack", openRedis, {
  serializer: "msgpack",
  injectGarbage,
});

/** A store of its own namespace, and one more on the same namespace. */
async function twoStores(): Promise<[RedisStore, RedisStore, string]> {
  const namespace = `h${crypto.randomUUID().slice(0, 8)}`;
  const open = () =>
    RedisStore.open(redis.url(namespace), {
      serializer: "json",
      resultTtl: 60,
    });
  return [await open(), await open(), namespace];
}

/** A QUEUED record of id `id` in `queue`, queued now (real time). */
function queued(id: string, queue = "default"): TaskRecord {
  return queuedRecord(Date.now() / 1000, { id, queue, kwargs: {} });
}

const asking = {
  queues: ["vm", "default"],
  max: 5,
  worker: "worker-1",
  node: "host-1",
  leaseSeconds: 30,
  waitSeconds: 10,
};

Deno.test("redis: a task queued while a worker waits is handed to it with its wake-up", async () => {
  const [store, producer] = await twoStores();
  try {
    assert.deepEqual(await store.claim(asking), []);
    const waiting = store.waitForTasks(asking.queues, 10);
    // No event says the wait has begun: 50 ms for it to.
    await delay(50);
    const id = newTaskId();
    await producer.enqueue([queued(id)]);
    const handed = await waiting;
    assert.deepEqual(handed.map((claim) => [claim.queue, claim.id]), [
      ["default", id],
    ]);
    assert.equal(handed[0].task?.status, TaskStatus.STARTED);
    assert.equal(handed[0].task?.worker, "worker-1");
    // Claimed under a lease in the store, as a claim would have.
    assert.equal((await producer.get(id))?.status, TaskStatus.STARTED);
    assert.deepEqual(await queueSizes(producer, ["default"]), [0]);
    // One hand-over per registration: the next task waits for a claim.
    const next = newTaskId();
    await producer.enqueue([queued(next)]);
    assert.deepEqual(await queueSizes(producer, ["default"]), [1]);
    assert.deepEqual((await store.claim(asking)).map((c) => c.id), [next]);
  } finally {
    await store.close();
    await producer.close();
  }
});

Deno.test("redis: a task handed to a wait that ended is announced started by the claim that takes it", async () => {
  const [store, producer] = await twoStores();
  const started: TaskRecord[] = [];
  const unsubscribe = await producer.subscribe("task", (message) => {
    if (message.event === "started") started.push(message.data as TaskRecord);
  });
  try {
    // Registered as a waiter, then never waits (its wait was cut short):
    // the task is handed to its inbox, and its next claim reads it there.
    assert.deepEqual(await store.claim(asking), []);
    const id = newTaskId();
    await producer.enqueue([queued(id)]);
    const claims = await store.claim(asking);
    assert.deepEqual(claims.map((claim) => claim.id), [id]);
    await waitFor(() => started.some((task) => task.id === id));
    const [event] = started.filter((task) => task.id === id);
    assert.equal(event.status, TaskStatus.STARTED);
    assert.equal(event.worker, "worker-1");
    assert.equal(event.timeStarted, claims[0].task?.timeStarted);
  } finally {
    await unsubscribe();
    await store.close();
    await producer.close();
  }
});

Deno.test("redis: tasks handed to a worker that died come back when its beat ends", async () => {
  const [store, producer, namespace] = await twoStores();
  try {
    // A registration whose worker never comes to take what it is handed.
    const keys = redisKeys(namespace);
    await redis.send([
      "HSET",
      keys.waiting,
      "gone",
      JSON.stringify([5, 30, "dead-worker", "host-2"]),
    ]);
    await redis.send([
      "ZADD",
      keys.queue("default").waiters,
      String(Date.now() / 1000 + 60),
      "gone",
    ]);
    const id = newTaskId();
    await producer.enqueue([queued(id)]);
    const running = await producer.get(id);
    assert.equal(running?.status, TaskStatus.STARTED);
    assert.deepEqual(await store.claim(asking), []);
    // What a live process does when the worker's beat stops.
    assert.equal(await store.expireLeases("dead-worker", ["default"]), 1);
    await store.reclaim(3, ["default"]);
    const claims = await store.claim(asking);
    assert.deepEqual(claims.map((claim) => claim.id), [id]);
    assert.equal(claims[0].redeliveries, 1);
  } finally {
    await store.close();
    await producer.close();
  }
});

Deno.test("redis: a registration that cannot be read is dropped, and queueing goes on", async () => {
  const [store, producer, namespace] = await twoStores();
  try {
    const keys = redisKeys(namespace);
    for (const [waiter, info] of [["bad", "not json"], ["odd", "[0,30,1]"]]) {
      await redis.send(["HSET", keys.waiting, waiter, info]);
      await redis.send([
        "ZADD",
        keys.queue("default").waiters,
        String(Date.now() / 1000 + 60),
        waiter,
      ]);
    }
    const id = newTaskId();
    await producer.enqueue([queued(id)]);
    assert.equal((await producer.get(id))?.status, TaskStatus.QUEUED);
    assert.equal(await redis.send(["HLEN", keys.waiting]), ":0");
    assert.deepEqual((await store.claim(asking)).map((c) => c.id), [id]);
  } finally {
    await store.close();
    await producer.close();
  }
});

Deno.test("redis: a task has no key of its own: another store finds it by id in any queue, revoked, finished or flushed", async () => {
  const [store, other, namespace] = await twoStores();
  const record = (id: string, queue: string, delay: number): TaskRecord => ({
    ...queued(id, queue),
    delay,
  });
  try {
    const [revoked, finished, flushed] = [
      newTaskId(),
      newTaskId(),
      newTaskId(),
    ];
    await store.enqueue([record(revoked, "default", 600)]);
    await store.enqueue([record(finished, "{app}.other", 0)]);
    await store.enqueue([record(flushed, "third", 600)]);
    // Every key the store wrote is a queue's, or the registry of queues
    // (and the set of queues whose status history is read).
    const keys = String(
      await redis.cli("--scan", "--pattern", `${namespace}:*`),
    )
      .split("\n").filter(Boolean).sort();
    const queueKeyNames = new Set(
      ["default", "{app}.other", "third"].flatMap((queue) =>
        Object.values(redisKeys(namespace).queue(queue))
      ),
    );
    assert.deepEqual(
      keys.filter((key) => !queueKeyNames.has(key)),
      [redisKeys(namespace).counted, redisKeys(namespace).queues],
    );
    assert.equal((await other.get(finished))?.queue, "{app}.other");
    assert.equal(await other.revoke(revoked), "revoked");
    assert.equal((await other.get(revoked))?.status, TaskStatus.REVOKED);
    const [claim] = await other.claim({
      queues: ["{app}.other"],
      max: 1,
      worker: "w",
      node: "n",
      leaseSeconds: 30,
    });
    assert.equal((await store.get(finished))?.status, TaskStatus.STARTED);
    assert.deepEqual(
      await other.finish([{
        id: claim.id,
        token: claim.token,
        task: { ...claim.task!, status: TaskStatus.SUCCESS, result: 3 },
      }]),
      [true],
    );
    assert.equal((await store.get(finished))?.result, 3);
    assert.equal(await store.flush(["third"]), 1);
    assert.equal(await other.get(flushed), undefined);
    assert.equal(await other.revoke(flushed), "unknown");
    assert.equal(await other.get(newTaskId()), undefined);
  } finally {
    await store.close();
    await other.close();
  }
});
