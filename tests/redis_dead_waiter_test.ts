/**
 * Redis: a worker found dead while it waits (a process frozen in its
 * blocking pop) neither keeps its registration as a waiter nor takes the
 * next wake-up from a live one. Its connection stays blocked on the server
 * (here: a wait nobody stops), and Redis serves the oldest blocked client
 * first.
 */
import assert from "node:assert/strict";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import type { Claim } from "../src/store/store.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { queuedRecord } from "./_contract_stores.ts";
import { startRedis } from "./_redis.ts";
import { eventually } from "./_server.ts";

function queued(id: string): TaskRecord {
  return queuedRecord({ t: Date.now() / 1000 }, { id, kwargs: {} });
}

/** Resolves with what `wait` gave within `seconds`, else "still waiting". */
function within<T>(wait: Promise<T>, seconds: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    wait,
    new Promise<"still waiting">((resolve) =>
      timer = setTimeout(() => resolve("still waiting"), seconds * 1000)
    ),
  ]).finally(() => clearTimeout(timer));
}

Deno.test("redis: a dead waiter's registration ends, its blocked pop is woken, and a live waiter gets the next task", async () => {
  await using redis = await startRedis();
  const open = () =>
    RedisStore.open(redis.url(), { serializer: "json", resultTtl: 60 });
  const [frozen, live, producer] = [await open(), await open(), await open()];
  const blocked = async () =>
    Number(
      /blocked_clients:(\d+)/.exec(await redis.cli("INFO", "clients"))![1],
    );
  const asking = (worker: string) => ({
    queues: ["default"],
    max: 5,
    worker,
    node: "host-1",
    leaseSeconds: 30,
    waitSeconds: 30,
  });
  try {
    // The frozen worker waits first: the oldest blocked client.
    assert.deepEqual(await frozen.claim(asking("frozen-worker")), []);
    const frozenWait = frozen.waitForTasks(["default"], 30);
    await eventually(async () => await blocked() === 1, 10, "one blocked");
    assert.deepEqual(await live.claim(asking("live-worker")), []);
    const liveWait = live.waitForTasks(["default"], 30);
    await eventually(async () => await blocked() === 2, 10, "two blocked");

    // What the beat that finds it dead does.
    assert.equal(await producer.expireLeases("frozen-worker", ["default"]), 0);
    assert.deepEqual(await within(frozenWait, 10), [], "its pop was woken");
    // A task queued now goes to the live waiter, not to the dead one.
    const id = newTaskId();
    await producer.enqueue([queued(id)]);
    const handed = await within<Claim[]>(liveWait, 10);
    assert.notEqual(handed, "still waiting", "the live waiter woke");
    const claims = handed === "still waiting" || handed.length > 0
      ? handed
      : await live.claim(asking("live-worker"));
    assert.deepEqual(
      (claims as Claim[]).map((claim) => [claim.id, claim.task?.worker]),
      [[id, "live-worker"]],
    );
  } finally {
    await Promise.all([frozen.close(), live.close(), producer.close()]);
  }
});
