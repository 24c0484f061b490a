/** The task suite on Redis (a private redis-server), with each serializer. */
import assert from "node:assert/strict";
import { redisKeys } from "../src/store/redis/keys.ts";
import { injectRedisGarbage, NOT_A_TASK } from "./_garbage.ts";
import { startRedis, TEST_NAMESPACE } from "./_redis.ts";
import {
  eventually,
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
      injectGarbage: (id, queue) =>
        injectRedisGarbage(redis, TEST_NAMESPACE, {
          id,
          name: "addition",
          queue,
        }, NOT_A_TASK),
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
  // The default queue's finished tasks are on the broker only.
  const done = redisKeys(TEST_NAMESPACE).queue("pulsarqueue").done;
  assert.notEqual(await broker.cli("EXISTS", done), "0");
  assert.equal(await data.cli("EXISTS", done), "0");
  // A worker's status, as one would beat it (a malformed one is dropped).
  const status = {
    worker: "w",
    node: "n",
    pid: 1,
    queues: ["q"],
    maxConcurrentTasks: 1,
    concurrentTasks: [],
    processed: 0,
    cores: 1,
    time: 1,
    until: 2,
    jobs: [],
  };
  let heard: unknown;
  // The server's own worker beats on this channel too: wait for ours.
  await api.onEvents("consumer", "status", (_c, _e, info) => {
    if ((info as { worker?: unknown })?.worker === "w") heard = info;
  });
  await data.cli(
    "PUBLISH",
    redisKeys(TEST_NAMESPACE).channel("consumer"),
    `status\n${JSON.stringify(status)}`,
  );
  await eventually(() => heard !== undefined, 10, "the status published");
  assert.deepEqual(heard, status);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("tasks run end to end on a Redis Cluster node (cross-slot rules on)", async (t) => {
  await using redis = await startRedis({ cluster: true });
  await taskSuite(t, {
    dataStore: redis.url(),
    serializer: "json",
    injectGarbage: (id, queue) =>
      injectRedisGarbage(redis, TEST_NAMESPACE, {
        id,
        name: "addition",
        queue,
      }, NOT_A_TASK),
  });
});
