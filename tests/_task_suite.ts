/**
 * pulsar-queue's TaskQueueApp tests (reference §11.3), run against a real
 * server process on a store, by each store's test file.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { waitFor } from "./_helpers.ts";
import { Task, TaskFuture, TaskNotAvailable, TaskStatus } from "../mod.ts";
import { configure, reset } from "@logtape/logtape";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
} from "./_server.ts";

/** A store the suite runs on. */
export interface SuiteStore {
  /** The store URL. */
  dataStore: string;
  /** The serializer. */
  serializer: "json" | "msgpack";
  /** Writes unreadable bytes as a queued task of `queue` with this id. */
  injectGarbage(id: string, queue: string): Promise<void>;
}

/** Runs the suite as steps of one test. */
export async function taskSuite(
  t: Deno.TestContext,
  store: SuiteStore,
): Promise<void> {
  const { serializer } = store;
  const settings = {
    dataStore: store.dataStore,
    messageSerializer: serializer,
    taskQueues: ["testq1", "testq2"],
    defaultTaskQueue: "testq1",
  };
  await using server = startServer([
    ...serverArgs({
      workers: 1,
      concurrentTasks: 10,
      dataStore: settings.dataStore,
      messageSerializer: serializer,
      taskPaths: EXAMPLE_JOBS,
      taskQueues: "testq1,testq2",
      defaultTaskQueue: "testq1",
      taskPoolTimeout: 0.05,
      // Leases renewed every second: a revoke reaches a running job fast.
      leaseTimeout: 3,
    }),
  ]);
  await using api = await producerFor(settings);

  await t.step("a simple task returns its result", async () => {
    const task = await api.tasks.queue("addition", { a: 40, b: 50 });
    assert.equal(task.status, TaskStatus.SUCCESS);
    assert.equal(task.statusString, "SUCCESS");
    assert.equal(task.result, 90);
    assert.ok(String(task).startsWith("task.addition<"));
    assert.equal(task.done(), true);
    assert.equal(task.queue, "testq1");
    assert.match(task.worker ?? "", /^worker-\d+$/);
    assert.equal(task.node, api.nodeName);
    assert.ok(task.timeStarted! >= task.timeQueued);
    assert.ok(task.timeEnded! >= task.timeStarted!);
  });

  await t.step("the future has the task id at once", async () => {
    const future = api.tasks.queue("addition", { a: 1, b: 1 });
    assert.ok(future instanceof TaskFuture);
    assert.match(future.id, /^[0-9a-f]{32}$/);
    assert.equal((await future).id, future.id);
  });

  await t.step("an async job is awaited", async () => {
    const task = await api.tasks.queue("asynchronous", { lag: 0.5 });
    assert.equal(task.statusString, "SUCCESS");
    assert.ok((task.result as number) >= 0.49);
  });

  await t.step(
    "a job that throws ends as FAILURE with its stack",
    async () => {
      const task = await api.tasks.queue("testperiodicerror", {
        msg: "testing",
      });
      assert.equal(task.status, TaskStatus.FAILURE);
      assert.equal(task.result, "testing");
      assert.equal(task.exception, "Error: testing");
      assert.ok(task.stacktrace && task.stacktrace.length > 1);
    },
  );

  await t.step(
    "worker info lists the local queue and the task queues",
    async () => {
      const task = await api.tasks.queue("workerinfo");
      assert.equal(task.statusString, "SUCCESS");
      const info = task.result as { tasks: { queues: string[] } };
      assert.deepEqual(info.tasks.queues, [api.nodeName, "testq1", "testq2"]);
    },
  );

  await t.step("execute runs in this process without a queue", async () => {
    const future = api.tasks.execute("addition", { a: 3, b: -4 });
    assert.ok(future.id);
    const task = await future;
    assert.equal(task.statusString, "SUCCESS");
    assert.equal(task.result, -1);
    assert.equal(task.worker, null);
    assert.equal(task.queue, null);
  });

  await t.step("queueLocal runs on this host's queue", async () => {
    const task = await api.tasks.queueLocal("testlocalqueue");
    assert.equal(task.statusString, "SUCCESS");
    assert.equal(task.queue, api.nodeName);
    const queues = task.result as string[];
    assert.equal(queues[0], api.nodeName);
    assert.equal(queues.length, 3);
  });

  await t.step("callback false resolves when queued", async () => {
    const task = await api.tasks.queue("asynchronous", { lag: 0.2 }, {
      callback: false,
    });
    assert.match(task.id, /^[0-9a-f]{32}$/);
    assert.equal(task.statusString, "QUEUED");
    const done = await task.doneCallback!;
    assert.equal(done.id, task.id);
    assert.equal(done.statusString, "SUCCESS");
  });

  await t.step("a delayed task starts after its delay", async () => {
    const task = await api.tasks.queue("addition", { a: 1 }, { delay: 1 });
    assert.equal(task.statusString, "SUCCESS");
    assert.equal(task.delay, 1);
    assert.ok(task.timeStarted! - task.timeQueued >= 1);
  });

  await t.step(
    "bad kwargs are refused before anything is queued, naming the key",
    async () => {
      const before = await queueSizes(api.store, ["testq1"]);
      await assert.rejects(
        Promise.resolve(api.tasks.queue("asynchronous", { sleep: 2 })),
        {
          name: "TypeError",
          message:
            /^Cannot queue task: Invalid arguments for job 'asynchronous': .*"sleep"/,
        },
      );
      await assert.rejects(
        api.tasks.queueMany("addition", [{ a: 1 }, { aa: 4 }]),
        { message: /Invalid arguments for job 'addition': .*"aa"/ },
      );
      assert.deepEqual(await queueSizes(api.store, ["testq1"]), before);
    },
  );

  await t.step("bad kwargs that reach a worker end as FAILURE", async () => {
    // A producer without the job's code cannot check them: the worker does.
    const record = await api.prepareTask("asynchronous", { lag: 0 });
    const task = await api.queue(
      new Task({ ...record, kwargs: { sleep: 2 } }),
    );
    assert.equal(task.status, TaskStatus.FAILURE);
    assert.match(
      String(task.result),
      /Invalid arguments for job 'asynchronous'/,
    );
    assert.match(String(task.result), /sleep/);
  });

  await t.step("an unknown job rejects with TaskNotAvailable", async () => {
    await assert.rejects(
      Promise.resolve(api.tasks.queue("jsdbcjsdhbc")),
      (error: unknown) =>
        error instanceof TaskNotAvailable &&
        error.message === "Task jsdbcjsdhbc is not registered",
    );
  });

  await t.step(
    "an unknown job name gets the names that are close",
    async () => {
      await assert.rejects(
        Promise.resolve(api.tasks.queue("additon", { a: 1 })),
        (error: unknown) =>
          error instanceof TaskNotAvailable &&
          error.message ===
            "Task additon is not registered (did you mean 'addition'?)",
      );
    },
  );

  await t.step(
    "unknown queue options are refused with the known ones",
    async () => {
      await assert.rejects(
        Promise.resolve(api.tasks.queue("addition", {}, { delya: 5 } as never)),
        {
          name: "TypeError",
          message:
            /^Unknown option 'delya' of tasks\.queue \(did you mean 'delay'\?\); known options: callback, delay, queue, timeout, metaParams, priority, id, dedupe, rateLimitKey, group, groupConcurrency$/,
        },
      );
      await assert.rejects(
        api.tasks.queueMany("addition", [{}], { callback: false } as never),
        { message: /^Unknown option 'callback' of tasks\.queueMany/ },
      );
    },
  );

  await t.step(
    "a producer without the job code queues a job a live worker has",
    async () => {
      await using bare = await producerFor({ ...settings, taskPaths: [] });
      const [worker] = await bare.workers();
      assert.ok(
        worker.jobs.some((job) => job.name === "addition"),
        "the worker advertises its jobs",
      );
      const task = await bare.tasks.queue("addition", { a: 4, b: 6 });
      assert.equal(task.result, 10);
      assert.equal(task.queue, "testq1");
      // Its schema is not here: the worker checks the kwargs.
      const bad = await bare.tasks.queue("addition", { aa: 4 });
      assert.equal(bad.statusString, "FAILURE");
      assert.match(String(bad.result), /"aa"/);
      await assert.rejects(
        Promise.resolve(bare.tasks.queue("hello")),
        (error: unknown) =>
          error instanceof TaskNotAvailable &&
          /^Task hello is not registered \(this process loaded no job code: pass --task-paths/
            .test(error.message),
      );
      await assert.rejects(
        Promise.resolve(bare.tasks.queue("workerpids")),
        {
          message:
            "Task workerpids is not registered (did you mean 'workerpid'?)",
        },
      );
    },
  );

  await t.step(
    "waiting on a queue that no live worker consumes is warned about",
    async () => {
      const warnings: string[] = [];
      await configure({
        reset: true,
        sinks: {
          capture: (record) => warnings.push(record.message.join("")),
        },
        loggers: [
          {
            category: ["pq", "producer"],
            lowestLevel: "warning",
            sinks: ["capture"],
          },
          {
            category: ["logtape", "meta"],
            lowestLevel: "error",
            sinks: ["capture"],
          },
        ],
      });
      try {
        const future = api.tasks.queue("addition", {}, { queue: "nowhere" });
        future.then(undefined, () => undefined);
        await eventually(() => warnings.length > 0, 10, "a warning");
        assert.match(
          warnings[0],
          /No live worker consumes queue nowhere: task addition<[0-9a-f]{32}> waits until one does \(queues consumed now: .*testq1, testq2\)/,
        );
        assert.equal(await api.tasks.revoke(future.id), "revoked");
        assert.equal((await future).statusString, "REVOKED");
      } finally {
        await reset();
      }
    },
  );

  await t.step("bad queue options reject with the value", async () => {
    await assert.rejects(
      Promise.resolve(api.tasks.queue("addition", {}, { delay: -1 })),
      {
        name: "TypeError",
        message:
          "Cannot queue task as 'delay' must be a non-negative number: got -1",
      },
    );
    await assert.rejects(
      Promise.resolve(
        api.tasks.queue("addition", [] as unknown as Record<string, unknown>),
      ),
      /'kwargs' must be an object/,
    );
    await assert.rejects(
      api.tasks.queueMany("addition", { a: 1 } as unknown as []),
      /'kwargsList' must be an array: got \{"a":1\}/,
    );
    await assert.rejects(
      api.tasks.queueMany("addition", [
        { a: 1 },
        [] as unknown as Record<string, unknown>,
      ]),
      /'kwargs' must be an object/,
    );
  });

  await t.step(
    "a task that times out is REVOKED and its job stopped",
    async () => {
      const task = await api.tasks.queue("asynchronous", { lag: 10 }, {
        timeout: 1,
      });
      assert.equal(task.status, TaskStatus.REVOKED);
      assert.ok(task.timeEnded! - task.timeQueued >= 1);
      assert.ok(task.timeEnded! - task.timeQueued < 5);
      assert.ok(task.expiry);
      assert.equal(task.expiry, task.timeQueued + 1);
    },
  );

  await t.step("retries end with the final attempt", async () => {
    const doneEvents: Task[] = [];
    const onDone = (_c: string, _e: string, task: Task) => {
      doneEvents.push(task);
    };
    await api.onEvents("task", "done", onDone);
    const queued = await api.tasks.queue("subtraction", { a: 1, b: "foo" }, {
      delay: 0.2,
      callback: false,
      metaParams: { maxRetries: 3, retryDelay: 0.2 },
    });
    assert.equal(queued.statusString, "QUEUED");
    const final = await queued.doneCallback!;
    assert.equal(final.retry, 3);
    assert.equal(final.status, TaskStatus.FAILURE);
    assert.notEqual(final.id, queued.id);
    // The chain of attempts, linked by fromTask, from the first to the last.
    const chain = [];
    let id: string | null = final.id;
    while (id) {
      const attempt: Task | undefined = doneEvents.find((task) =>
        task.id === id
      ) ??
        await api.tasks.get(id);
      assert.ok(attempt, `attempt ${id} is known`);
      chain.unshift(attempt);
      id = attempt.fromTask;
    }
    assert.equal(chain.length, 3);
    assert.equal(chain[0].id, queued.id);
    assert.deepEqual(chain.map((task) => task.statusString), [
      "RETRY",
      "RETRY",
      "FAILURE",
    ]);
    await api.removeEventCallback("task", "done", onDone);
  });

  await t.step(
    "an exponential backoff: each retry's delay in its record",
    async () => {
      const queued = await api.tasks.queue("subtraction", { a: 1, b: "foo" }, {
        callback: false,
        metaParams: {
          maxRetries: 4,
          retryDelay: { type: "exponential", base: 0.1, max: 0.3 },
        },
      });
      const final = await queued.doneCallback!;
      assert.equal(final.retry, 4);
      const delays: number[] = [];
      for (let id: string | null = final.id; id;) {
        const attempt: Task | undefined = await api.tasks.get(id);
        assert.ok(attempt, `attempt ${id} is known`);
        delays.unshift(attempt.delay);
        // Each retry waited its delay after the attempt before it ended.
        if (attempt.fromTask) {
          const before = await api.tasks.get(attempt.fromTask);
          assert.ok(attempt.timeStarted! >= before!.timeEnded! + attempt.delay);
        }
        id = attempt.fromTask;
      }
      assert.deepEqual(delays, [0, 0.1, 0.2, 0.3]);
    },
  );

  await t.step(
    "max concurrency holds tasks over the limit until a slot frees",
    async () => {
      const tasks = await Promise.all(
        Array.from(
          { length: 5 },
          () => api.tasks.queue("maxconcurrency", { lag: 1 }),
        ),
      );
      assert.ok(tasks.every((task) => task.statusString === "SUCCESS"));
      const starts = tasks.map((task) => task.timeStarted!).sort();
      const ends = tasks.map((task) => task.timeEnded!).sort();
      // The 4th and 5th started only after one of the first three ended.
      assert.ok(starts[3] >= ends[0] - 0.05);
      assert.ok(starts[4] >= ends[1] - 0.05);
    },
  );

  await t.step("a task queued from a task names its parent", async () => {
    const task = await api.tasks.queue("queue.from.task");
    assert.equal(task.statusString, "SUCCESS");
    const child = task.result as { fromTask: string; status: number };
    assert.equal(child.fromTask, task.id);
    assert.equal(child.status, TaskStatus.SUCCESS);
  });

  await t.step("jobList describes the registered jobs", () => {
    const jobs = Object.fromEntries(api.tasks.jobList());
    assert.equal(jobs.addition.type, "regular");
    assert.equal(jobs.addition.doc, "Adds `a` and `b`.");
    assert.equal(jobs.testperiodicerror.type, "periodic");
    assert.equal(jobs.addition.concurrency, null);
    assert.deepEqual(
      api.tasks.jobList(["addition", "nope"]).map(([n]) => n),
      [
        "addition",
      ],
    );
  });

  await t.step(
    "a malformed record in a queue ends as FAILURE and the worker goes on",
    async () => {
      const id = "f".repeat(32);
      await store.injectGarbage(id, "testq1");
      let stored = await api.tasks.get(id).catch(() => undefined);
      await waitFor(async () => {
        stored = await api.tasks.get(id).catch(() => undefined);
        return stored?.statusString === "FAILURE";
      }, { timeout: 5000 }).catch(() => undefined);
      assert.equal(stored?.statusString, "FAILURE");
      assert.match(
        String(stored?.result),
        /Cannot decode task record|Malformed task record/,
      );
      const after = await api.tasks.queue("addition", { a: 2, b: 2 });
      assert.equal(after.result, 4);
    },
  );

  await t.step("revoke stops a queued task and a running one", async () => {
    const queued = await api.tasks.queue("addition", { a: 1 }, {
      callback: false,
      delay: 30,
    });
    assert.equal(await api.tasks.revoke(queued.id), "revoked");
    const never = await queued.doneCallback!;
    assert.equal(never.statusString, "REVOKED");
    assert.equal(never.timeStarted, null);

    const running = api.tasks.queue("asynchronous", { lag: 20 });
    const started = Promise.withResolvers<void>();
    await api.onEvents("task", running.id, (_c, _e, task) => {
      if (task.status === TaskStatus.STARTED) started.resolve();
    });
    await started.promise;
    assert.equal(await api.tasks.revoke(running.id), "requested");
    const stopped = await running;
    assert.equal(stopped.statusString, "REVOKED");
    assert.ok(stopped.timeEnded! - stopped.timeStarted! < 5, "stopped early");
    assert.equal(stopped.runInfo.cancelled, true, "the job saw its signal");
    assert.equal(await api.tasks.revoke(running.id), "finished");
    assert.equal(await api.tasks.revoke("0".repeat(32)), "unknown");
  });

  await t.step("a closed producer refuses new tasks", async () => {
    const other = await producerFor(settings);
    assert.equal(other.closing(), false);
    await other.close();
    assert.equal(other.closing(), true);
    await assert.rejects(
      Promise.resolve(other.tasks.queue("addition")),
      /Cannot queue task as the producer is closing/,
    );
  });

  const status = await server.stop();
  assert.equal(status.code, 0, server.stderr());
}
