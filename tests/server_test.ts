/**
 * The server process model: worker recycling, a killed worker, graceful
 * shutdown, many producers, bad settings. Real processes, real store.
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../mod.ts";
import {
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

Deno.test("a worker is replaced after maxRequests tasks", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 1,
    concurrentTasks: 20,
    maxRequests: 10,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  await using api = await producerFor({ dataStore });
  const tasks = await Promise.all(
    Array.from(
      { length: 18 },
      () => api.tasks.queue("asynchronous", { lag: Math.random() / 2 }),
    ),
  );
  assert.ok(tasks.every((task) => task.statusString === "SUCCESS"));
  assert.equal(new Set(tasks.map((task) => task.worker)).size, 2);
  const failing = await Promise.all(
    Array.from(
      { length: 6 },
      () => api.tasks.queue("subtraction", { a: "x" }),
    ),
  );
  assert.ok(failing.every((task) => task.statusString === "FAILURE"));
  assert.equal(new Set(failing.map((task) => task.worker)).size, 2);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("a task of a worker killed with SIGKILL completes elsewhere", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 2,
    concurrentTasks: 1,
    leaseTimeout: 1,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  await using api = await producerFor({ dataStore });
  const started = Promise.withResolvers<string>();
  const future = api.tasks.queue("workerpid", { lag: 2 });
  await api.onEvents("task", future.id, (_channel, _event, task) => {
    const { status, worker } = task as { status: number; worker: string };
    if (status === TaskStatus.STARTED) started.resolve(worker);
  });
  const firstWorker = await started.promise;
  const killedPid = Number(firstWorker.replace("worker-", ""));
  Deno.kill(killedPid, "SIGKILL");
  const task = await future;
  assert.equal(task.statusString, "SUCCESS");
  assert.notEqual(task.worker, firstWorker);
  assert.notEqual(task.result, killedPid);
  // The arbiter replaced the killed worker: two workers serve again.
  const pids = new Set<number>();
  for (let round = 0; round < 10 && pids.size < 2; round++) {
    const batch = await Promise.all(
      Array.from(
        { length: 4 },
        () => api.tasks.queue("workerpid", { lag: 0.3 }),
      ),
    );
    for (const done of batch) pids.add(done.result as number);
  }
  assert.equal(pids.size, 2);
  assert.ok(!pids.has(killedPid));
  assert.equal((await server.stop()).code, 0);
});

Deno.test("a worker process stops when its arbiter is killed with SIGKILL", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
  }));
  await using api = await producerFor({ dataStore });
  const workerPid = (await api.tasks.queue("workerpid", {})).result as number;
  assert.ok(await processExists(workerPid));
  server.process.kill("SIGKILL");
  await server.process.status;
  // Its stdin, a pipe from the arbiter, ended: it stops on its own.
  for (let i = 0; i < 150 && await processExists(workerPid); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (await processExists(workerPid)) {
    Deno.kill(workerPid, "SIGKILL"); // Not left behind by a failing test.
    assert.fail("the worker process outlived its arbiter by 15 s");
  }
  assert.match(
    server.stderr(),
    /The arbiter is gone: this worker process stops/,
  );
});

/** True while a process of `pid` runs (and is no zombie). */
async function processExists(pid: number): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(status);
  } catch {
    return false;
  }
}

Deno.test("SIGTERM drains within the grace period and loses nothing", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  const args = serverArgs({
    workers: 1,
    gracePeriod: 0.5,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  });
  await using api = await producerFor({ dataStore });
  let unfinished: string;
  {
    await using server = startServer(args);
    const quick = api.tasks.queue("asynchronous", { lag: 0.2 });
    const slow = api.tasks.queue("asynchronous", { lag: 3 });
    unfinished = slow.id;
    const started = Promise.withResolvers<void>();
    await api.onEvents("task", slow.id, (_c, event) => {
      if (event === slow.id) started.resolve();
    });
    await started.promise;
    assert.equal((await quick).statusString, "SUCCESS");
    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr());
    const stored = await api.tasks.get(unfinished);
    assert.equal(stored?.statusString, "QUEUED");
    // Started again on the next server:
    await using next = startServer(args);
    const done = await slow;
    assert.equal(done.statusString, "SUCCESS");
    assert.equal((await next.stop()).code, 0);
  }
});

Deno.test("two producers × 500 tasks on 2 workers run each task exactly once", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  const ledger = `${dir.path}/ledger.txt`;
  await using server = startServer(serverArgs({
    workers: 2,
    concurrentTasks: 50,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
  }));
  const script = `
    import { PulsarQueue } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const api = await new PulsarQueue({ taskPaths: [${
    JSON.stringify(EXAMPLE_JOBS)
  }], dataStore: ${JSON.stringify(dataStore)} }).api().start();
    const tasks = await Promise.all(Array.from({ length: 500 }, (_, i) => api.tasks.queue("ledger", { path: ${
    JSON.stringify(ledger)
  }, i })));
    console.log(JSON.stringify(tasks.map((t) => [t.id, t.statusString, t.result])));
    await api.close();
  `;
  const producers = [0, 1].map(() =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      stdout: "piped",
      stderr: "piped",
    }).output()
  );
  const outputs = await Promise.all(producers);
  const results: Array<[string, string, number]> = [];
  for (const output of outputs) {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    results.push(...JSON.parse(new TextDecoder().decode(output.stdout)));
  }
  assert.equal(results.length, 1000);
  assert.ok(results.every(([, status]) => status === "SUCCESS"));
  const ids = new Set(results.map(([id]) => id));
  assert.equal(ids.size, 1000);
  const runs = (await Deno.readTextFile(ledger)).trim().split("\n");
  assert.equal(runs.length, 1000, "every task ran exactly once");
  assert.deepEqual(new Set(runs), ids);
  assert.equal((await server.stop()).code, 0);
});

for (
  const [args, pattern] of [
    [["--workers=-1"], /workers.*"-1"/],
    [["--workers", "two"], /workers.*"two"/],
    [["--message-serializer", "xml"], /messageSerializer.*"xml"/],
    [["--data-store", "postgres://x"], /dataStore.*postgres/],
    [["--no-such-flag"], /no-such-flag/],
    [["--concurrent-tasks", "0"], /concurrentTasks.*"0"/],
  ] as const
) {
  Deno.test(`a bad setting exits with status 2: ${args.join(" ")}`, async () => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, stderr);
    assert.match(stderr, pattern);
  });
}

Deno.test("a job module that fails to import stops start-up with its name", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/broken.ts`, "export const x = ;\n");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "--task-paths",
      dir.path,
      "--data-store",
      `sqlite:${dir.path}/pq.sqlite`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1);
  assert.match(stderr, /Cannot load jobs from .*broken\.ts/);
});

Deno.test("--help lists every setting and exits 0", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0);
  const text = new TextDecoder().decode(output.stdout);
  for (
    const flag of [
      "--workers",
      "--concurrent-tasks",
      "--data-store",
      "--task-paths",
    ]
  ) {
    assert.ok(text.includes(flag), flag);
  }
});
