/**
 * Failover under load, short: a server runs ledger tasks (bench/_ledger.ts,
 * the fault suite's) while a Redis Cluster's primary or Sentinel's primary
 * is SIGKILLed (with `durability=replicated`, the killed node restarted
 * once its replica is promoted, as a supervisor would: it rejoins as a
 * replica, without which the promoted primary refuses every write), or a
 * lone server hangs (SIGSTOP, then SIGCONT). Every task completes, none is
 * lost; a task may run twice (at least once is the contract). No timing is
 * asserted (`deno task bench:faults` measures them): the machine is shared.
 * @module
 */
import assert from "node:assert/strict";
import { Ledger, LEDGER_JOBS } from "../bench/_ledger.ts";
import { delay, waitFor } from "./_helpers.ts";
import { startRedis } from "./_redis.ts";
import { startRedisCluster, startRedisSentinel } from "./_redis_cluster.ts";
import { producerFor, startServer, tempDir } from "./_server.ts";

/** Tasks of each test, and their sleep in seconds. */
const TASKS = 150;
const LAG = 0.02;

/** Seconds a run may take to complete every task after the fault. */
const DRAIN_S = 45;

/**
 * Leases of 6 s: a claim whose reply was lost (in flight when the server
 * died or hung, or refused for want of a replica after it ran) leased tasks
 * that no one runs until their lease ends, then they run again.
 */
const LEASE_S = 6;

/**
 * Starts one server (`--workers 0`, 10 tasks at once) on `dataStore`
 * consuming `queues`, queues the tasks over them, and resolves once a third
 * of them completed; `fault()` then runs, and every task must complete.
 * Resolves with the ledger's completions.
 */
async function underLoad(
  dataStore: string,
  queues: string[],
  fault: () => Promise<void>,
) {
  await using dir = await tempDir();
  const ledger = new Ledger(dir.path, "failover");
  await using server = startServer([
    "--workers",
    "0",
    "--concurrent-tasks",
    "10",
    "--lease-timeout",
    String(LEASE_S),
    "--data-store",
    dataStore,
    "--task-paths",
    LEDGER_JOBS,
    "--task-queues",
    queues.join(","),
  ]);
  await server.ready();
  {
    await using api = await producerFor({
      dataStore,
      taskPaths: [LEDGER_JOBS],
    });
    await ledger.queue(api, TASKS, { lag: LAG, queues });
  }
  await waitFor(async () => await ledger.count() >= TASKS / 3, {
    timeout: 30_000,
    interval: 5,
    what: "a third of the tasks to complete",
  });
  const atFault = await ledger.count();
  assert.ok(atFault < TASKS, "tasks were left at the fault");
  await fault();
  const done = await ledger.drained(TASKS, DRAIN_S);
  const { lost } = await ledger.tally(TASKS);
  assert.ok(
    done && lost.length === 0,
    `${lost.length} tasks of ${TASKS} never completed (${atFault} had at ` +
      `the fault): ${lost.slice(0, 10).join(", ")}; the server logged:\n` +
      server.stderr().slice(-4000),
  );
  return { completions: await ledger.read() };
}

Deno.test("a Cluster primary SIGKILLed under load, replicated: no task is lost", async () => {
  await using cluster = await startRedisCluster();
  const queues = await cluster.queuesOnDistinctPrimaries(3, "failover-");
  const victim = await cluster.primaryOf(
    await cluster.keySlot(`{${queues[0]}}`),
  );
  // The failed queue last: a worker claims its queues in order, so it
  // still holds tasks at the fault.
  await underLoad(
    `${cluster.url()}&durability=replicated`,
    [...queues.slice(1), queues[0]],
    async () => {
      cluster.signal(victim, "SIGKILL");
      await cluster.waitForFailover(victim);
      // Back as a replica of the promoted node: writes are acknowledged.
      await cluster.restart(victim);
    },
  );
});

Deno.test("a Sentinel primary SIGKILLed under load, replicated: no task is lost", async () => {
  await using sentinels = await startRedisSentinel();
  const victim = sentinels.primaryPort;
  await underLoad(
    `${sentinels.url()}&durability=replicated`,
    ["failover-0", "failover-1"],
    async () => {
      sentinels.signal(victim, "SIGKILL");
      await sentinels.waitForFailover(victim);
      // The sentinels make it a replica of the promoted one (in about 10 s).
      await sentinels.restart(victim);
    },
  );
});

Deno.test("a Redis server hung 3 s under load (SIGSTOP, SIGCONT): no task is lost, tasks complete after it", async () => {
  await using redis = await startRedis();
  const pid = Number(
    (await redis.cli("INFO", "server")).match(/process_id:(\d+)/)?.[1],
  );
  assert.ok(pid > 0, "the server's pid");
  let resumedAt = 0;
  const { completions } = await underLoad(
    redis.url(),
    ["failover-0", "failover-1"],
    async () => {
      Deno.kill(pid, "SIGSTOP");
      try {
        await delay(3000);
      } finally {
        Deno.kill(pid, "SIGCONT");
        resumedAt = Date.now();
      }
    },
  );
  assert.ok(
    completions.some(({ began }) => began >= resumedAt),
    "tasks begun after SIGCONT completed",
  );
});
