/**
 * The Redis store over TLS (`rediss://`, with `ca=` the CA file of a
 * server whose certificate no system CA signed): the store contract on a
 * private redis-server that serves TLS, and the errors of a bad `ca`.
 */
import assert from "node:assert/strict";
import { StoreConnectionError } from "../mod.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { redisOpener } from "./_contract_stores.ts";
import { injectRedisGarbage, namespaceOf } from "./_garbage.ts";
import { startRedis } from "./_redis.ts";
import { storeContract } from "./store_contract.ts";

const redis = await startRedis({ tls: true });
globalThis.addEventListener("unload", () => redis.stopSync());

storeContract("redis tls", redisOpener(redis), {
  serializer: "json",
  // Written on the server's plain port, read by the store over TLS.
  injectGarbage: (store, task, payload) =>
    injectRedisGarbage(redis, namespaceOf(store), task, payload),
});

const options = { serializer: "json", resultTtl: 60 } as const;

Deno.test("redis tls: a server whose CA is not given is refused", async () => {
  const url = redis.url().replace(/&ca=[^&]*/, "");
  assert.match(url, /^rediss:/);
  await assert.rejects(
    RedisStore.open(url, { ...options, connectTimeout: 2 }),
  );
});

Deno.test("redis tls: a bad ca is said as such", async () => {
  const missing = redis.url().replace(/&ca=[^&]*/, "&ca=/nonexistent/ca.pem");
  await assert.rejects(
    RedisStore.open(missing, options),
    (error: unknown) =>
      error instanceof StoreConnectionError &&
      /cannot read its CA file '\/nonexistent\/ca\.pem'/.test(error.message),
  );
  const plain = redis.url().replace(/^rediss:/, "redis:");
  await assert.rejects(
    RedisStore.open(plain, options),
    (error: unknown) =>
      error instanceof StoreConnectionError &&
      /'ca' is for TLS, whose scheme is rediss:\/\//.test(error.message),
  );
});

Deno.test("redis tls: servername names what the certificate must carry", async () => {
  // The certificate is for 127.0.0.1 and localhost; the URL's host is the IP.
  const named = (name: string) => `${redis.url()}&servername=${name}`;
  await using store = await RedisStore.open(named("localhost"), options);
  assert.deepEqual(await store.queueNames(), []);
  await assert.rejects(
    RedisStore.open(named("other.example"), { ...options, connectTimeout: 2 }),
    StoreConnectionError,
  );
  await assert.rejects(
    RedisStore.open(
      `${
        redis.url().replace(/^rediss:/, "redis:").replace(/&ca=[^&]*/, "")
      }&servername=localhost`,
      options,
    ),
    /'servername' is for TLS/,
  );
});
