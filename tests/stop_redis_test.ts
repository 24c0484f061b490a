/** Stopping tasks for good on Redis (a private redis-server). */
import { startRedis } from "./_redis.ts";
import { stopSuite } from "./_stop_suite.ts";

Deno.test("revokes, stuck Web Workers and maxMemory on Redis", async (t) => {
  await using redis = await startRedis();
  await stopSuite(t, redis.url());
});
