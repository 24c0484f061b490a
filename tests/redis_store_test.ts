/**
 * The Redis store: the store contract on a private redis-server with both
 * serializers (each store in its own namespace).
 */
import { RedisStore } from "../src/store/redis_store.ts";
import type { Store } from "../src/store/store.ts";
import { startRedis } from "./_redis.ts";
import { type OpenContractStore, storeContract } from "./store_contract.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

function namespaceOf(store: Store): string {
  return new URL(store.url).searchParams.get("namespace")!;
}

const openRedis: OpenContractStore = (options) =>
  RedisStore.open(
    redis.url(
      options.sameAs
        ? namespaceOf(options.sameAs)
        : `c${crypto.randomUUID().slice(0, 8)}`,
    ),
    options,
  );

async function injectGarbage(
  store: Store,
  task: { id: string; name: string; queue: string },
  payload: Uint8Array,
): Promise<void> {
  const ns = namespaceOf(store);
  const send = (...args: Array<string | Uint8Array>) => redis.send(args);
  await send("SET", `${ns}:id:${task.id}`, task.queue);
  await send("HSET", `${ns}:{${task.queue}}:tasks`, task.id, payload);
  await send("LPUSH", `${ns}:{${task.queue}}:ready`, task.id);
}

storeContract("redis json", openRedis, { serializer: "json", injectGarbage });
storeContract("redis msgpack", openRedis, {
  serializer: "msgpack",
  injectGarbage,
});
