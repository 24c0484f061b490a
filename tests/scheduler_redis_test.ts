/** The scheduler tests of `scheduler_test.ts` on Redis (a private redis-server). */
import { startRedis } from "./_redis.ts";
import { schedulerSuite } from "./_scheduler_suite.ts";

Deno.test("scheduler on real servers, Redis", async (t) => {
  await using redis = await startRedis();
  let n = 0;
  await schedulerSuite(t, () => redis.url(`pqsched${n++}`));
});
