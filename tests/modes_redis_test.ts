/** The execution modes on Redis (a private redis-server). */
import { startRedis } from "./_redis.ts";
import { modesSuite } from "./_modes_suite.ts";

Deno.test("every execution mode runs and stops tasks on Redis", async (t) => {
  await using redis = await startRedis();
  await modesSuite(t, redis.url());
});
