/** A frozen worker process on Redis (a private redis-server). */
import { startRedis } from "./_redis.ts";
import { frozenWorkerSuite } from "./_frozen_suite.ts";

Deno.test("a frozen worker process's tasks run elsewhere on Redis; resumed, it changes no result", async () => {
  await using redis = await startRedis();
  await frozenWorkerSuite(redis.url());
});
