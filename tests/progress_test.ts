/**
 * `ctx.progress`: checked at the call, rate-limited (a tight loop of calls
 * makes a handful of store writes), written under the lease, announced as
 * `progress` events, kept in the record (`tasks.get`, `pq status`), from
 * every execution mode, on SQLite and on Redis.
 */
import assert from "node:assert/strict";
import { job, Task, type TaskProgress, TaskStatus } from "../mod.ts";
import { describeTask } from "../src/cli/status.ts";
import type { JobBackend, JobLogger } from "../src/runtime/job.ts";
import { PROGRESS_INTERVAL_MS, ProgressThrottle } from "../src/run/progress.ts";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import type { ReportKwargs, ReportResult } from "./fixtures/progress_jobs.ts";
import { delay, waitFor } from "./_helpers.ts";

const PROGRESS_JOBS = new URL("./fixtures/progress_jobs.ts", import.meta.url)
  .pathname;

const RECORD = {
  id: "0123456789abcdef0123456789abcdef",
  name: "pages",
  queue: "q",
  status: TaskStatus.STARTED,
  timeQueued: 1,
  timeStarted: 2,
  delay: 0,
  retry: 1,
  kwargs: {},
  meta: {},
  runInfo: {},
};

const SILENT: JobLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** A job context whose progress goes to `reported`. */
function context(reported: TaskProgress[]) {
  const Pages = job(function pages() {});
  return new Pages({
    backend: {} as JobBackend,
    task: new Task(RECORD),
    signal: new AbortController().signal,
    logger: SILENT,
    progress: (progress) => reported.push(progress),
  });
}

Deno.test("ctx.progress refuses a bad value with a TypeError naming it", () => {
  const reported: TaskProgress[] = [];
  const ctx = context(reported);
  const cases: Array<[unknown, unknown, RegExp]> = [
    [1.5, undefined, /'value' must be a number from 0 to 1: got 1\.5$/],
    [-0.1, undefined, /'value' must be a number from 0 to 1: got -0\.1$/],
    [NaN, undefined, /'value' must be a number from 0 to 1: got NaN$/],
    [Infinity, undefined, /got Infinity$/],
    ["x", undefined, /'value' must be a number from 0 to 1: got "x"$/],
    [0.5, "m".repeat(201), /'message' must be a string of at most 200/],
    [0.5, { message: 3 }, /'message' must be a string .*: got 3$/],
    [0.5, { data: "d".repeat(2000) }, /'data' must be JSON of at most 1024/],
    [0.5, { data: 10n }, /'data' must be JSON/],
    [0.5, 7, /its detail must be a message or \{ message\?, data\? \}: got 7/],
    [
      0.5,
      { mesage: "typo" },
      /Unknown option 'mesage'.*did you mean 'message'/,
    ],
  ];
  for (const [value, detail, message] of cases) {
    assert.throws(
      () => ctx.progress(value as number, detail as string),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, message);
        return true;
      },
      `${String(value)} ${String(detail)}`,
    );
  }
  assert.match(
    (() => {
      try {
        ctx.progress(2);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })(),
    /^Cannot report progress of task\.pages<0123456789abcdef0123456789abcdef>/,
  );
  assert.equal(reported.length, 0);
});

Deno.test("ctx.progress hands on the value, message, a copy of data and the time", () => {
  const reported: TaskProgress[] = [];
  const ctx = context(reported);
  const data = { page: 4 };
  const before = Date.now() / 1000;
  ctx.progress(0.4, { message: "page 4 of 10", data });
  data.page = 5;
  ctx.progress(0.5, "page 5 of 10");
  ctx.progress(1);
  assert.deepEqual(reported.map(({ time: _, ...rest }) => rest), [
    { value: 0.4, message: "page 4 of 10", data: { page: 4 } },
    { value: 0.5, message: "page 5 of 10" },
    { value: 1 },
  ]);
  assert.ok(reported.every((p) => p.time >= before));
});

Deno.test("a job context without a progress sink checks and drops", () => {
  const Quiet = job(function quiet() {});
  const ctx = new Quiet({
    backend: {} as JobBackend,
    task: new Task(RECORD),
    signal: new AbortController().signal,
    logger: SILENT,
  });
  ctx.progress(0.5);
  assert.throws(() => ctx.progress(1.5), TypeError);
});

Deno.test("the throttle writes the first at once, then the latest once per interval", async () => {
  const written: number[] = [];
  const at: number[] = [];
  const start = performance.now();
  const throttle = new ProgressThrottle((p) => {
    written.push(p.value);
    at.push(performance.now() - start);
  }, { intervalMs: 100 });
  for (let i = 1; i <= 10_000; i++) {
    throttle.push({ value: i / 10_000, time: 0 });
  }
  assert.deepEqual(written, [0.0001], "the first is written at once");
  await waitFor(() => written.length >= 2, { what: "the interval's write" });
  assert.deepEqual(written, [0.0001, 1], "the latest at the interval's end");
  // Spread over 0.5 s or more: one write per interval, never closer.
  const spreadStart = performance.now();
  for (let i = 0; i < 50; i++) {
    throttle.push({ value: i / 50, time: 0 });
    await delay(10);
  }
  const spreadMs = performance.now() - spreadStart;
  await waitFor(() => written.at(-1) === 49 / 50, { what: "the last write" });
  const most = 2 + Math.floor(spreadMs / 100) + 2;
  assert.ok(written.length <= most, `writes: ${written.length} > ${most}`);
  assert.equal(written.at(-1), 49 / 50, "the last value is written");
  for (let i = 1; i < at.length; i++) {
    assert.ok(at[i] - at[i - 1] >= 95, `writes ${at[i - 1]} and ${at[i]}`);
  }
  assert.equal((await throttle.close({ flush: false }))?.value, 49 / 50);
});

Deno.test("closing the throttle drops or flushes the pending value; later pushes do nothing", async () => {
  const dropped: number[] = [];
  const drop = new ProgressThrottle((p) => dropped.push(p.value), {
    intervalMs: 1000,
  });
  drop.push({ value: 0.1, time: 0 });
  drop.push({ value: 0.2, time: 0 });
  assert.equal((await drop.close({ flush: false }))?.value, 0.2);
  drop.push({ value: 0.3, time: 0 });
  assert.deepEqual(dropped, [0.1]);
  assert.equal(drop.latest?.value, 0.2);

  const flushed: number[] = [];
  const flush = new ProgressThrottle((p) => flushed.push(p.value), {
    intervalMs: 1000,
  });
  flush.push({ value: 0.1, time: 0 });
  flush.push({ value: 0.2, time: 0 });
  await flush.close({ flush: true });
  flush.push({ value: 0.3, time: 0 });
  assert.deepEqual(flushed, [0.1, 0.2]);
});

Deno.test("a failing write is reported, one write at a time, and the throttle goes on", async () => {
  const errors: unknown[] = [];
  let inFlight = 0;
  let most = 0;
  let calls = 0;
  const start = performance.now();
  const throttle = new ProgressThrottle(async () => {
    calls++;
    most = Math.max(most, ++inFlight);
    await delay(60); // slower than the interval
    inFlight--;
    throw new Error("store away");
  }, { intervalMs: 10, onError: (error) => errors.push(error) });
  for (let i = 0; i < 20; i++) {
    throttle.push({ value: i / 20, time: 0 });
    await delay(5);
  }
  await throttle.close({ flush: false });
  const elapsed = performance.now() - start;
  assert.equal(most, 1);
  // Back to back, as each write takes longer than the interval.
  assert.ok(
    calls >= 2 && calls <= Math.ceil(elapsed / 60),
    `${calls} calls in ${elapsed} ms`,
  );
  assert.equal(errors.length, calls);
});

Deno.test("pq status shows a progress row", () => {
  const task = new Task({
    ...RECORD,
    progress: { value: 0.4, message: "page 4 of 10", time: 3 },
  });
  assert.match(describeTask(task), /\n {2}progress\s+40% page 4 of 10\n/);
  const noisy = new Task({
    ...RECORD,
    progress: { value: 0.29, data: { page: 29 }, time: 3 },
  });
  assert.match(describeTask(noisy), /progress\s+29% \{"page":29\}\n/);
  assert.doesNotMatch(describeTask(new Task(RECORD)), /progress/);
});

/** Runs the progress steps against a server on `dataStore`. */
async function progressSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using server = startServer(serverArgs({
    workers: 1,
    concurrentTasks: 6,
    threadWorkers: 2,
    dataStore,
    taskPaths: PROGRESS_JOBS,
    taskPoolTimeout: 0.05,
    logLevel: "error",
  }));
  await using api = await producerFor({
    dataStore,
    taskPaths: [PROGRESS_JOBS],
  });
  const events = new Map<string, TaskProgress[]>();
  await api.onEvents("task", "progress", (_channel, _event, task) => {
    const { id, progress } = task as Task;
    if (!events.has(id)) events.set(id, []);
    if (progress) events.get(id)!.push(progress);
  });

  // It holds still until its gate opens: the test reads its last word in
  // its record meanwhile.
  const kwargs: ReportKwargs = {
    calls: 10_000,
    steps: 100,
    stepMs: 8,
    hold: 0,
  };
  for (
    const [name, mode] of [
      ["report.async", "ASYNC_IO"],
      ["report.thread", "THREAD_IO (a Web Worker)"],
      ["report.process", "CPUBOUND (a subprocess)"],
    ]
  ) {
    await t.step(
      `${mode}: 10,100 reports make a handful of writes, newest last`,
      async () => {
        await using dir = await tempDir();
        const gate = `${dir.path}/gate`;
        const queued = await api.tasks.queue(name, { ...kwargs, gate }, {
          callback: false,
        });
        // While it holds still, its record has its last word.
        await eventually(
          async () => {
            const task = await api.tasks.get(queued.id);
            return task?.status === TaskStatus.STARTED &&
              task.progress?.value === 1;
          },
          30,
          `the last progress of ${name} in its record`,
        );
        const running = await api.tasks.get(queued.id);
        assert.equal(running?.progress?.message, "step 100 of 100");
        assert.deepEqual(running?.progress?.data, { step: 100 });
        await Deno.writeTextFile(gate, "");
        const done = await queued.doneCallback!;
        assert.equal(done.statusString, "SUCCESS", String(done.result));
        assert.equal(done.progress?.value, 1, "the final record keeps it");
        const { reported, seconds } = done.result as ReportResult;
        assert.equal(reported, 10_100);
        const seen = events.get(queued.id) ?? [];
        const values = seen.map((p) => p.value);
        // One at once, then at most one per interval, and the trailing one
        // (one more for the timers of two throttles, over there and here).
        const most = Math.floor(seconds * 1000 / PROGRESS_INTERVAL_MS) + 3;
        assert.ok(
          seen.length >= 2 && seen.length <= most,
          `${seen.length} writes in ${seconds.toFixed(2)} s: ${values}`,
        );
        for (let i = 1; i < values.length; i++) {
          assert.ok(values[i] > values[i - 1], `increasing: ${values}`);
        }
        assert.equal(values.at(-1), 1, "the last value is written");
      },
    );
  }

  await t.step(
    "a bad value fails the task with a TypeError naming it",
    async () => {
      for (
        const [name, kwargs, got] of [
          ["report.bad", { value: 1.5 }, "got 1.5"],
          ["report.bad", { nan: true }, "got NaN"],
          ["report.bad", { value: "x" }, 'got "x"'],
          ["report.bad.thread", { value: 1.5 }, "got 1.5"],
        ] as const
      ) {
        const task = await api.tasks.queue(name, kwargs);
        assert.equal(task.statusString, "FAILURE", name);
        assert.equal(
          task.result,
          `Cannot report progress of task.${name}<${task.id}><STARTED> as 'value' must be a number from 0 to 1: ${got}`,
        );
        assert.match(task.exception ?? "", /^TypeError: /);
        assert.equal(task.progress, null);
      }
    },
  );

  await t.step("execute (in the producer) announces progress too", async () => {
    const task = await api.tasks.execute("report.async", {
      calls: 10,
      steps: 2,
      stepMs: 1,
      hold: 0,
    });
    assert.equal(task.statusString, "SUCCESS");
    assert.equal(task.progress?.value, 1);
    await eventually(
      () => (events.get(task.id) ?? []).length >= 1,
      5,
      "a progress event of the executed task",
    );
  });

  assert.equal((await server.stop()).code, 0, server.stderr());
}

Deno.test("progress from every mode on the embedded store", async (t) => {
  await using dir = await tempDir();
  await progressSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});

Deno.test({
  name: "progress from every mode on Redis",
  async fn(t) {
    await using redis = await startRedis();
    await progressSuite(t, redis.url());
  },
});
