/**
 * Heartbeats: every worker publishes its status on channel `consumer`,
 * event `status`, every 2 s; `api.workers()` lists the live workers and
 * drops one that stopped beating.
 */
import assert from "node:assert/strict";
import { HEARTBEAT_SECONDS, PulsarQueue, type WorkerStatus } from "../mod.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

Deno.test("each worker beats every 2 s with its status, and api.workers() lists the live ones", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 2,
    concurrentTasks: 3,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  await using api = await producerFor({ dataStore });
  const beats = new Map<string, WorkerStatus[]>();
  await api.onEvents("consumer", "status", (_channel, _event, data) => {
    const status = data as WorkerStatus;
    beats.set(status.worker, [...beats.get(status.worker) ?? [], status]);
  });
  // A running task shows in its worker's heartbeat.
  const slow = api.tasks.queue("asynchronous", { lag: 5 });
  await eventually(
    () =>
      [...beats.values()].some((list) =>
        list.some((b) => b.concurrentTasks.includes(slow.id))
      ),
    15,
    "a heartbeat that lists the running task",
  );
  await eventually(
    () => beats.size === 2 && [...beats.values()].every((l) => l.length >= 3),
    20,
    "three heartbeats of each of the two workers",
  );
  for (const [worker, list] of beats) {
    assert.match(worker, /^worker-\d+$/);
    const last = list.at(-1)!;
    assert.equal(last.pid, Number(worker.slice("worker-".length)));
    assert.equal(last.node, Deno.hostname().toLowerCase());
    assert.equal(last.maxConcurrentTasks, 3);
    assert.deepEqual(last.queues, [last.node, "pulsarqueue"]);
    assert.equal(last.cores, navigator.hardwareConcurrency);
    for (let i = 1; i < list.length; i++) {
      const gap = list[i].time - list[i - 1].time;
      // Every 2 s: never sooner (a little slack for clock rounding).
      assert.ok(gap >= HEARTBEAT_SECONDS - 0.1, `gap of ${gap} s`);
    }
  }
  const workers = await api.workers();
  assert.deepEqual(workers.map((w) => w.worker), [...beats.keys()].sort());
  const done = await slow;
  assert.equal(done.statusString, "SUCCESS");
  await eventually(
    async () =>
      (await api.workers()).some((w) =>
        w.worker === done.worker && w.processed >= 1 &&
        w.concurrentTasks.length === 0
      ),
    10,
    "a heartbeat of the task's worker after the task ended",
  );
  assert.equal((await server.stop()).code, 0, server.stderr());
});

Deno.test("a fresh producer hears the workers within one heartbeat; a killed worker is dropped", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 2,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  // Wait until both workers run (each beats as it starts).
  {
    await using watcher = await producerFor({ dataStore });
    await eventually(
      async () => (await watcher.workers()).length === 2,
      20,
      "two live workers",
    );
  }
  await using api = await producerFor({ dataStore });
  const before = await api.workers();
  assert.equal(before.length, 2, "the first call waits to hear every worker");
  const killed = before[0];
  Deno.kill(killed.pid, "SIGKILL");
  await eventually(
    async () => {
      const names = (await api.workers()).map((w) => w.worker);
      return !names.includes(killed.worker) && names.length === 2;
    },
    30,
    "the killed worker dropped and its replacement listed",
  );
  const after = await api.workers();
  assert.ok(after.some((w) => w.worker === before[1].worker));
  assert.equal((await server.stop()).code, 0, server.stderr());
});

Deno.test("a server with workers 0 beats from its own process and stops beating on shutdown", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  const stop = new AbortController();
  const server = new PulsarQueue({
    workers: 0,
    dataStore,
    taskPaths: [EXAMPLE_JOBS],
    taskPoolTimeout: 0.05,
    gracePeriod: 1,
  }).start({ args: [], signal: stop.signal });
  await using api = await producerFor({ dataStore });
  let beats = 0;
  await api.onEvents("consumer", "status", () => beats++);
  await eventually(() => beats >= 1, 10, "a heartbeat");
  const [worker] = await api.workers();
  assert.equal(worker.worker, `arbiter-${Deno.pid}`);
  assert.equal(worker.pid, Deno.pid);
  stop.abort();
  await server;
  // Stopped: no timer is left (the sanitizers check) and no beat comes.
  const count = beats;
  await new Promise((resolve) =>
    setTimeout(resolve, (HEARTBEAT_SECONDS + 0.5) * 1000)
  );
  assert.equal(beats, count);
});
