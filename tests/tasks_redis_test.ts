/** The task suite on Redis (a private redis-server), with each serializer. */
import { startRedis } from "./_redis.ts";
import { taskSuite } from "./_task_suite.ts";

for (const serializer of ["json", "msgpack"] as const) {
  Deno.test(`tasks run end to end on Redis (${serializer})`, async (t) => {
    await using redis = await startRedis();
    await taskSuite(t, {
      dataStore: redis.url(),
      serializer,
      async injectGarbage(id, queue) {
        await redis.cli("SET", `pqtest:id:${id}`, queue);
        await redis.cli("HSET", `pqtest:{${queue}}:tasks`, id, "{not a task");
        await redis.cli("LPUSH", `pqtest:{${queue}}:ready`, id);
        await redis.cli("LPUSH", `pqtest:{${queue}}:marker`, "1");
      },
    });
  });
}
