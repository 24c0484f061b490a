/**
 * Beats and heartbeats: every worker writes its beat to the store (every
 * second while busy, 3 s while idle) and publishes its status on channel
 * `consumer`, event `status`, when it changes; `api.workers()` reads the
 * live workers from the store at once and drops one that stopped beating.
 */
import assert from "node:assert/strict";
import { PulsarQueue, type WorkerStatus } from "../mod.ts";
import { parseWorkerStatus } from "../src/model/worker_status.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

Deno.test("each worker beats and publishes its status when it changes; api.workers() lists the live ones", async () => {
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
    const status = data;
    beats.set(status.worker, [...beats.get(status.worker) ?? [], status]);
  });
  await eventually(
    async () => (await api.workers()).length === 2,
    20,
    "two live workers",
  );
  // A running task shows in its worker's status, published as it changes.
  const slow = api.tasks.queue("asynchronous", { lag: 3 });
  await eventually(
    () =>
      [...beats.values()].some((list) =>
        list.some((b) => b.concurrentTasks.includes(slow.id))
      ),
    15,
    "a status that lists the running task",
  );
  const now = Date.now() / 1000;
  for (const worker of await api.workers()) {
    assert.match(worker.worker, /^worker-\d+$/);
    assert.equal(worker.pid, Number(worker.worker.slice("worker-".length)));
    assert.equal(worker.node, Deno.hostname().toLowerCase());
    assert.equal(worker.maxConcurrentTasks, 3);
    assert.deepEqual(worker.queues, [worker.node, "pulsarqueue"]);
    assert.equal(worker.cores, navigator.hardwareConcurrency);
    assert.ok(worker.until > now, "alive until a time to come");
    assert.ok(worker.jobs.some((job) => job.name === "addition"));
    // Uptime and memory, for the dashboard and pq workers.
    assert.ok(worker.started! > now - 60 && worker.started! <= now);
    assert.ok(worker.memory! > 1 << 20, `memory ${worker.memory}`);
  }
  const done = await slow;
  assert.equal(done.statusString, "SUCCESS");
  await eventually(
    async () =>
      (await api.workers()).some((w) =>
        w.worker === done.worker && w.processed >= 1 &&
        w.concurrentTasks.length === 0
      ),
    10,
    "the status of the task's worker after the task ended",
  );
  assert.ok(
    beats.get(done.worker!)!.some((b) =>
      b.processed >= 1 && b.concurrentTasks.length === 0
    ),
    "published as it changed",
  );
  assert.equal((await server.stop()).code, 0, server.stderr());
  assert.deepEqual(await api.workers(), [], "stopped workers leave at once");
});

Deno.test("a SIGKILLed worker is dropped and its replacement listed", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 2,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  await using api = await producerFor({ dataStore });
  await eventually(
    async () => (await api.workers()).length === 2,
    20,
    "two live workers",
  );
  const before = await api.workers();
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

Deno.test("a server with workers 0 beats from its own process and leaves on shutdown", async () => {
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
  await eventually(
    async () => (await api.workers()).length === 1,
    10,
    "a live worker",
  );
  const [worker] = await api.workers();
  assert.equal(worker.worker, `arbiter-${Deno.pid}`);
  assert.equal(worker.pid, Deno.pid);
  const task = await api.tasks.queue("addition", { a: 1, b: 2 });
  assert.equal(task.result, 3);
  stop.abort();
  await server;
  // Stopped: no timer or thread is left (the sanitizers check), and its
  // beat is gone from the store.
  assert.deepEqual(await api.workers(), []);
});

Deno.test("a status keeps a well-formed start time and memory, and drops bad ones", () => {
  const status = {
    worker: "worker-1",
    node: "host",
    pid: 1,
    queues: ["q"],
    maxConcurrentTasks: 4,
    concurrentTasks: [],
    processed: 0,
    cores: 2,
    time: 1000,
    until: 1006,
    jobs: [],
  };
  assert.deepEqual(
    parseWorkerStatus({ ...status, started: 990, memory: 5e7 }),
    { ...status, started: 990, memory: 5e7 },
  );
  // An older worker's status has neither; a bad one is left out, the
  // status kept.
  assert.deepEqual(parseWorkerStatus(status), status);
  assert.deepEqual(
    parseWorkerStatus({ ...status, started: "soon", memory: -1 }),
    status,
  );
});
