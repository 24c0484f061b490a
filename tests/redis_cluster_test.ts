/**
 * The Redis store on a real Redis Cluster of six nodes (three primaries,
 * each with a replica), reached through seed nodes in the URL: the store
 * contract, with queues whose keys live on different primaries; a worker
 * woken by a task of any of its queues, wherever it lives; and a primary
 * killed under the store, whose replica takes over.
 */
import assert from "node:assert/strict";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { injectRedisGarbage, namespaceOf } from "./_garbage.ts";
import { sendToPort, startRedisCluster } from "./_redis_cluster.ts";
import { waitFor } from "./_helpers.ts";
import { storeContract } from "./store_contract.ts";
import { claimRequest, queuedRecord, redisOpener } from "./_contract_stores.ts";

const cluster = await startRedisCluster();
globalThis.addEventListener("unload", () => cluster.stopSync());

/** Sends a command to the primary that owns its key, as a raw write. */
async function sendToOwner(args: Array<string | Uint8Array>): Promise<string> {
  const key = String(args[1]);
  return sendToPort(await cluster.primaryOf(await cluster.keySlot(key)), args);
}

storeContract("redis cluster", redisOpener(cluster), {
  serializer: "json",
  injectGarbage: (store, task, payload) =>
    injectRedisGarbage(
      { send: sendToOwner },
      namespaceOf(store),
      task,
      payload,
    ),
});

const options = { serializer: "json", resultTtl: 60 } as const;

Deno.test("redis cluster: the queues of the test live on different primaries", async () => {
  const queues = await cluster.queuesOnDistinctPrimaries(3, "spread");
  const owners = await Promise.all(
    queues.map(async (queue) =>
      cluster.primaryOf(await cluster.keySlot(`{${queue}}`))
    ),
  );
  assert.equal(new Set(owners).size, 3);
});

Deno.test("redis cluster: a waiting worker wakes for a task of any of its queues, on any primary", async () => {
  const queues = await cluster.queuesOnDistinctPrimaries(3, "wake");
  const namespace = `w${crypto.randomUUID().slice(0, 8)}`;
  await using worker = await RedisStore.open(cluster.url(namespace), options);
  await using producer = await RedisStore.open(cluster.url(namespace), options);
  // Each queue in turn: the worker waits on all three; a task queued in
  // one of them ends the wait long before its 10 s.
  for (const queue of [...queues, ...queues]) {
    assert.deepEqual(await worker.claim(claimRequest({ queues })), []);
    const started = Date.now();
    const waiting = worker.waitForTasks(queues, 10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await producer.enqueue([queuedRecord(Date.now() / 1000, { queue })]);
    await waiting;
    const waited = Date.now() - started;
    assert.ok(waited < 5000, `woke for ${queue} after ${waited} ms`);
    const claim = await worker.claim(claimRequest({ queues, max: 10 }));
    assert.equal(claim.length, 1, `the task of ${queue} claimed`);
    assert.equal(claim[0].task?.queue, queue);
  }
});

// Last: it fails a primary over, for good.
Deno.test("redis cluster: a primary killed under the store: its replica takes over, and what was acknowledged with durability=replicated is there", async () => {
  const queues = await cluster.queuesOnDistinctPrimaries(3, "failover");
  const namespace = `f${crypto.randomUUID().slice(0, 8)}`;
  const open = (url: string) =>
    RedisStore.open(url, { ...options, connectTimeout: 20 });
  await using replicated = await open(
    `${cluster.url(namespace)}&durability=replicated`,
  );
  await using store = await open(cluster.url(namespace));
  const before = queues.map((queue) =>
    queuedRecord(Date.now() / 1000, { queue })
  );
  await replicated.enqueue(before);
  const victim = await cluster.primaryOf(
    await cluster.keySlot(`{${queues[0]}}`),
  );
  cluster.signal(victim, "SIGKILL");
  const promoted = await cluster.waitForFailover(victim);
  assert.notEqual(promoted, victim);
  // Every task acknowledged before is there, the failed-over one too, and
  // the store claims and queues on every primary, the promoted one too (a
  // claim passes over a node it last saw down, until it reads the new map).
  const claimed: string[] = [];
  await waitFor(async () => {
    const claims = await store.claim(claimRequest({ queues, max: 10 }));
    claimed.push(...claims.map((claim) => claim.id));
    return claimed.length >= before.length;
  }, { timeout: 10_000, what: "the tasks acknowledged before, claimed" });
  assert.deepEqual(claimed.sort(), before.map((task) => task.id).sort());
  for (const queue of queues) {
    const task = queuedRecord(Date.now() / 1000, { queue });
    await store.enqueue([task]);
    assert.equal((await store.get(task.id))?.queue, queue);
  }
  // With no replica left on the promoted primary, a replicated write there
  // is refused, said as such; the other primaries still have theirs.
  await assert.rejects(
    replicated.enqueue([queuedRecord(Date.now() / 1000, { queue: queues[0] })]),
    /no replica acknowledged a write/,
  );
  await replicated.enqueue([
    queuedRecord(Date.now() / 1000, { queue: queues[1] }),
  ]);
});
