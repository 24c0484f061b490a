/** The task suite on Redis (a private redis-server), with each serializer. */
import assert from "node:assert/strict";
import { startRedis } from "./_redis.ts";
import {
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
} from "./_server.ts";
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

Deno.test("with messageBroker, queues live on the broker and other channels on the data store", async () => {
  await using data = await startRedis();
  await using broker = await startRedis();
  const settings = {
    dataStore: data.url(),
    messageBroker: broker.url(),
  };
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore: settings.dataStore,
    messageBroker: settings.messageBroker,
    taskPaths: EXAMPLE_JOBS,
  }));
  await using api = await producerFor(settings);
  const task = await api.tasks.queue("addition", { a: 2, b: 5 });
  assert.equal(task.result, 7);
  assert.notEqual(await broker.cli("EXISTS", "pqtest:{pulsarqueue}:done"), "0");
  assert.equal(await data.cli("EXISTS", "pqtest:{pulsarqueue}:done"), "0");
  const heard = Promise.withResolvers<unknown>();
  await api.onEvents(
    "consumer",
    "status",
    (_c, _e, info) => heard.resolve(info),
  );
  await data.cli("PUBLISH", "pqtest:consumer", 'status\n{"worker":"w"}');
  assert.deepEqual(await heard.promise, { worker: "w" });
  assert.equal((await server.stop()).code, 0);
});

Deno.test("tasks run end to end on a Redis Cluster node (cross-slot rules on)", async (t) => {
  await using redis = await startRedis({ cluster: true });
  await taskSuite(t, {
    dataStore: redis.url(),
    serializer: "json",
    async injectGarbage(id, queue) {
      await redis.cli("SET", `pqtest:id:${id}`, queue);
      await redis.cli("HSET", `pqtest:{${queue}}:tasks`, id, "{not a task");
      await redis.cli("LPUSH", `pqtest:{${queue}}:ready`, id);
      await redis.cli("LPUSH", `pqtest:{${queue}}:marker`, "r");
    },
  });
});
