/**
 * The Manager: its hooks run in every role (arbiter, worker process,
 * producer), storeMessage sees every task event and heartbeat, queues()
 * adds queues to consume, and there is one per process.
 */
import assert from "node:assert/strict";
import { type ChannelMessage, Manager, PulsarQueue } from "../mod.ts";
import { managedStore } from "../src/runtime/managed_store.ts";
import { resolveSettings } from "../src/runtime/settings.ts";
import { TaskStatus } from "../src/model/status.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import {
  newTaskId,
  standInRecord,
  type TaskRecord,
} from "../src/model/task.ts";
import {
  type HookCall,
  readHookLog,
  RecordingManager,
} from "./_recording_manager.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const CONFIG = new URL("./_manager_config.ts", import.meta.url).pathname;

Deno.test("Manager hooks see every task event and heartbeat, in every role (CPUBOUND child too)", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
    config: CONFIG,
  }));
  const app = new PulsarQueue({
    manager: RecordingManager,
    dataStore,
    taskPaths: [EXAMPLE_JOBS],
  });
  const api = await app.api().start();
  const task = await api.tasks.queue("addition", { a: 4, b: 6 });
  assert.equal(task.statusString, "SUCCESS");
  // The queue the worker's Manager.queues() added is consumed.
  const managed = await api.tasks.queue("addition", { a: 1 }, {
    queue: "managed",
  });
  assert.equal(managed.statusString, "SUCCESS");
  assert.equal(managed.queue, "managed");
  // A CPUBOUND subprocess makes the config module's Manager too.
  const cpubound = await api.tasks.queue("cpubound");
  assert.equal(cpubound.statusString, "SUCCESS", String(cpubound.result));

  const ofTask = (calls: HookCall[], id: string) =>
    calls.filter((c) => c.hook === "storeMessage" && c.id === id);
  await eventually(
    async () => {
      const calls = await readHookLog(dataStore);
      return calls.some((c) => c.channel === "consumer") &&
        ofTask(calls, managed.id).some((c) => c.event === "done");
    },
    15,
    "the done event and a heartbeat in the manager's log",
  );
  const calls = await readHookLog(dataStore);
  for (const id of [task.id, managed.id]) {
    const seen = ofTask(calls, id).map((c) => `${c.role} ${c.event}`);
    // The producer tells its manager once the store has queued the task:
    // a worker that claims it at once may tell of "started" first.
    assert.deepEqual(seen.toSorted(), [
      "producer queued",
      "worker done",
      "worker started",
    ]);
    assert.ok(seen.indexOf("worker started") < seen.indexOf("worker done"));
  }
  const done = ofTask(calls, task.id).find((c) => c.event === "done");
  assert.equal(done?.status, 1);
  const beat = calls.find((c) =>
    c.channel === "consumer" && c.event === "status"
  );
  assert.equal(beat?.role, "worker");
  assert.ok(beat?.worker?.startsWith("worker-"));
  assert.ok(calls.some((c) => c.hook === "queues" && c.role === "worker"));

  await api.close();
  assert.equal((await server.stop()).code, 0, server.stderr());
  const after = await readHookLog(dataStore);
  const hooks = (role: string, hook: string) =>
    after.filter((c) => c.role === role && c.hook === hook).length;
  for (const role of ["arbiter", "worker", "producer", "child"]) {
    assert.equal(hooks(role, "start"), 1, `${role} started once`);
    assert.equal(hooks(role, "close"), 1, `${role} closed once`);
  }
});

Deno.test("one Manager per process: producers share it, the last close closes it", async () => {
  const made: string[] = [];
  class Counting extends Manager {
    constructor(...args: ConstructorParameters<typeof Manager>) {
      super(...args);
      made.push(`new ${this.role}`);
    }
    override start() {
      made.push("start");
      return Promise.resolve();
    }
    override close() {
      made.push("close");
      return Promise.resolve();
    }
  }
  const app = new PulsarQueue({
    manager: Counting,
    dataStore: "sqlite::memory:",
  });
  const first = await app.api().start();
  const second = await app.api().start();
  assert.deepEqual(made, ["new producer", "start"]);
  await first.close();
  assert.deepEqual(made, ["new producer", "start"]);
  await second.close();
  assert.deepEqual(made, ["new producer", "start", "close"]);
});

Deno.test("a manager that is not a Manager class is rejected, naming it", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new PulsarQueue({ manager: 42 as any }),
    {
      name: "TypeError",
      message:
        "The 'manager' of PulsarQueue options must be a class that extends Manager: got 42",
    },
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new PulsarQueue({ manager: class Other {} as any }),
    /must be a class that extends Manager: got function Other/,
  );
});

Deno.test("a failing storeMessage is logged and the task goes on", async () => {
  const events: string[] = [];
  class Broken extends Manager {
    override storeMessage(message: ChannelMessage): Promise<void> {
      events.push(message.event);
      return Promise.reject(new Error("audit database is down"));
    }
  }
  await using api = await new PulsarQueue({
    manager: Broken,
    dataStore: "sqlite::memory:",
    taskPaths: [EXAMPLE_JOBS],
  }).api().start();
  const task = await api.tasks.execute("addition", { a: 2, b: 3 });
  assert.equal(task.result, 5);
  const queued = await api.tasks.queue("addition", {}, { callback: false });
  assert.equal(queued.statusString, "QUEUED");
  // In-process execute publishes started and done; the queue, queued.
  assert.deepEqual(events, ["started", "done", "queued"]);
});

Deno.test("storeMessage sees tasks whose expired leases were reclaimed", async () => {
  let now = 1_700_000_000;
  await using raw = await SqliteStore.open(":memory:", {
    serializer: "json",
    resultTtl: 60,
    now: () => now,
  });
  const seen: string[] = [];
  class Watching extends Manager {
    override storeMessage(message: ChannelMessage): Promise<void> {
      const task = message.data as TaskRecord;
      seen.push(`${message.event} ${task.id} ${task.status}`);
      return Promise.resolve();
    }
  }
  const settings = resolveSettings({ args: [], env: {} });
  const store = managedStore(
    raw,
    new Watching({ settings: (await settings).settings, role: "worker" }),
  );
  const task = standInRecord(
    { id: newTaskId(), name: "addition", queue: "default" },
    now,
  );
  await store.enqueue([task]);
  // Calls that publish nothing go through as they are.
  assert.deepEqual(await store.queueNames(), ["default"]);
  const claim = () =>
    store.claim({
      queues: ["default"],
      max: 1,
      worker: "worker-1",
      node: "host-1",
      leaseSeconds: 10,
    });
  await claim();
  now += 11; // The worker died: its lease expires.
  await store.reclaim(1);
  await claim();
  now += 11;
  await store.reclaim(1); // Expired once too often: FAILURE.
  const { QUEUED, STARTED, FAILURE } = TaskStatus;
  assert.deepEqual(seen, [
    `queued ${task.id} ${QUEUED}`,
    `started ${task.id} ${STARTED}`,
    `queued ${task.id} ${QUEUED}`,
    `started ${task.id} ${STARTED}`,
    `done ${task.id} ${FAILURE}`,
  ]);
});
