/**
 * The task suite end to end (servers, producers, every mode) on a Redis
 * Cluster of six nodes and through Sentinel.
 */
import { injectRedisGarbage, NOT_A_TASK } from "./_garbage.ts";
import { TEST_NAMESPACE } from "./_redis.ts";
import {
  sendToPort,
  startRedisCluster,
  startRedisSentinel,
} from "./_redis_cluster.ts";
import { taskSuite } from "./_task_suite.ts";

Deno.test("tasks run end to end on a Redis Cluster of six nodes", async (t) => {
  await using cluster = await startRedisCluster();
  const owner = async (key: string) =>
    await cluster.primaryOf(await cluster.keySlot(key));
  await taskSuite(t, {
    dataStore: cluster.url(),
    serializer: "json",
    injectGarbage: (id, queue) =>
      injectRedisGarbage(
        {
          send: async (args) => sendToPort(await owner(String(args[1])), args),
        },
        TEST_NAMESPACE,
        { id, name: "addition", queue },
        NOT_A_TASK,
      ),
  });
});

Deno.test("tasks run end to end through Sentinel", async (t) => {
  await using sentinels = await startRedisSentinel();
  await taskSuite(t, {
    dataStore: sentinels.url(),
    serializer: "json",
    injectGarbage: (id, queue) =>
      injectRedisGarbage(
        {
          send: async (args) =>
            sendToPort(await sentinels.currentPrimary(), args),
        },
        TEST_NAMESPACE,
        { id, name: "addition", queue },
        NOT_A_TASK,
      ),
  });
});
