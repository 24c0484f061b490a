/** Durable steps against real servers on Redis (a private redis-server). */
import { startRedis } from "./_redis.ts";
import { durableStepsSuite } from "./_durable_steps_suite.ts";

Deno.test("durable steps run once across retries and a killed worker on Redis", async (t) => {
  await using redis = await startRedis();
  await durableStepsSuite(t, redis.url());
});
