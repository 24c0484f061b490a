/**
 * The Redis store through Sentinel (`redis+sentinel://` URLs: a primary
 * found through its sentinels): the store contract, and a primary killed
 * under a store, whose replica the sentinels promote and the store follows.
 */
import assert from "node:assert/strict";
import { StoreConnectionError } from "../mod.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { queuedRecord, redisOpener } from "./_contract_stores.ts";
import { injectRedisGarbage, namespaceOf } from "./_garbage.ts";
import { sendToPort, startRedisSentinel } from "./_redis_cluster.ts";
import { storeContract } from "./store_contract.ts";

const sentinels = await startRedisSentinel();
globalThis.addEventListener("unload", () => sentinels.stopSync());

/** Sends a command to the primary the sentinels name now. */
async function sendToPrimary(
  args: Array<string | Uint8Array>,
): Promise<string> {
  return sendToPort(await sentinels.currentPrimary(), args);
}

storeContract("redis sentinel", redisOpener(sentinels), {
  serializer: "json",
  injectGarbage: (store, task, payload) =>
    injectRedisGarbage(
      { send: sendToPrimary },
      namespaceOf(store),
      task,
      payload,
    ),
});

const options = { serializer: "json", resultTtl: 60 } as const;

Deno.test("redis sentinel: a primary the sentinels do not know is a clear error", async () => {
  const url = sentinels.url().replace(`/${sentinels.masterName}`, "/nosuch");
  await assert.rejects(
    RedisStore.open(url, options),
    (error: unknown) =>
      error instanceof StoreConnectionError &&
      /knows no primary 'nosuch'/.test(error.message),
  );
  await assert.rejects(
    RedisStore.open("redis+sentinel://127.0.0.1:1/", options),
    /a sentinel URL names its primary/,
  );
});

// Last: it fails the primary over, for good.
Deno.test("redis sentinel: the store follows a failover to the promoted replica, and what it acknowledged with durability=replicated is there", async () => {
  const namespace = `f${crypto.randomUUID().slice(0, 8)}`;
  // Each write acknowledged once the replica has it too.
  const url = `${sentinels.url(namespace)}&durability=replicated`;
  await using store = await RedisStore.open(url, {
    ...options,
    connectTimeout: 20,
  });
  const before = queuedRecord(Date.now() / 1000, { queue: "failover" });
  await store.enqueue([before]);
  const old = await sentinels.currentPrimary();
  sentinels.signal(old, "SIGKILL");
  const promoted = await sentinels.waitForFailover(old);
  assert.notEqual(promoted, old);
  // The promoted replica has the task acknowledged before; with no replica
  // of its own, a write is not acknowledged, and said so.
  assert.equal((await store.get(before.id))?.id, before.id);
  const after = queuedRecord(Date.now() / 1000, { queue: "failover" });
  await assert.rejects(
    store.enqueue([after]),
    (error: unknown) =>
      error instanceof StoreConnectionError &&
      /no replica acknowledged a write/.test(error.message),
  );
});
