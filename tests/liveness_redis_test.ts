/** Liveness on Redis (a private redis-server). */
import { startRedis } from "./_redis.ts";
import { livenessSuite } from "./_liveness_suite.ts";

Deno.test("killed servers and blocked event loops on Redis", async (t) => {
  await using redis = await startRedis();
  await livenessSuite(t, redis.url());
});
