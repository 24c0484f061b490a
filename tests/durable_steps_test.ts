/**
 * Durable steps, in-process: `ctx.step` checks its name, its function and
 * its result, refuses a name twice in a run, returns a stored step's result
 * without running it; a run stores each step before going on, stops when a
 * step is not stored (the lease lost), never writes a step while a progress
 * write is in flight, and hands its steps to its retry.
 */
import assert from "node:assert/strict";
import { job, Task, TaskStatus } from "../mod.ts";
import type { JobBackend, JobLogger } from "../src/runtime/job.ts";
import { runTask } from "../src/run/run_task.ts";
import { parseTaskRecord, type TaskRecord } from "../src/model/task.ts";
import { StepNotStored, type TaskStep } from "../src/model/task_step.ts";

const RECORD: TaskRecord = {
  id: "0123456789abcdef0123456789abcdef",
  name: "order",
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

const SILENT: JobLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A job context on `record` whose stored steps go to `saved`. */
function context(saved: TaskStep[], record: TaskRecord = RECORD) {
  const Order = job(function order() {});
  return new Order({
    backend: {} as JobBackend,
    task: new Task(record),
    signal: new AbortController().signal,
    logger: SILENT,
    step: (step) => {
      saved.push(step);
      return Promise.resolve();
    },
  });
}

Deno.test("ctx.step stores its result once its function returned, and returns it", async () => {
  const saved: TaskStep[] = [];
  const ctx = context(saved);
  const charge = await ctx.step("charge", () => ({ id: "ch_1" }));
  assert.deepEqual(charge, { id: "ch_1" });
  assert.equal(await ctx.step("email", async () => {}), undefined);
  assert.deepEqual(saved.map(({ name, result }) => ({ name, result })), [
    { name: "charge", result: { id: "ch_1" } },
    { name: "email", result: undefined },
  ]);
  assert.equal("result" in saved[1], false, "undefined is stored as none");
  for (const step of saved) assert.ok(step.timeStarted <= step.timeEnded);
});

Deno.test("ctx.step returns a stored step's result without running it", async () => {
  const saved: TaskStep[] = [];
  const stored = {
    name: "charge",
    result: "ch_1",
    timeStarted: 1,
    timeEnded: 2,
  };
  const ctx = context(saved, { ...RECORD, steps: [stored] });
  let ran = 0;
  assert.equal(await ctx.step("charge", () => ran++), "ch_1");
  assert.equal(await ctx.step("email", () => ran++), 0);
  assert.equal(ran, 1, "only the step not stored ran");
  assert.deepEqual(saved.map((step) => step.name), ["email"]);
});

Deno.test("ctx.step refuses a name twice in a run, a bad name, a non-function and a result JSON cannot carry", async () => {
  const saved: TaskStep[] = [];
  const ctx = context(saved);
  await ctx.step("charge", () => 1);
  await assert.rejects(
    ctx.step("charge", () => 2),
    (error: Error) =>
      error instanceof TypeError &&
      /^Cannot run step 'charge' of task\.order<0123456789abcdef0123456789abcdef><STARTED> as a step of that name already ran in this run: step names must be unique within a run \(add what tells the calls apart, e\.g\. 'charge:2'\)$/
        .test(error.message),
  );
  await assert.rejects(
    ctx.step("", () => 1),
    /Cannot run step '' .* as its name must be a non-empty string: got ""/,
  );
  await assert.rejects(
    ctx.step("x".repeat(201), () => 1),
    /as its name must be at most 200 characters: got 201/,
  );
  await assert.rejects(
    // @ts-expect-error: a bad call from JavaScript
    ctx.step("pay", "not a function"),
    /Cannot run step 'pay' .* as its function must be a function: got "not a function"/,
  );
  await assert.rejects(
    ctx.step("count", () => new Map([[1, 2]])),
    /Cannot run step 'count' .* as the result of step 'count' is a Map/,
  );
  await assert.rejects(
    ctx.step("nan", () => [1, NaN]),
    /the result of step 'nan'\[1\] is NaN/,
  );
  assert.deepEqual(saved.map((step) => step.name), ["charge"]);
});

Deno.test("a step whose function throws stores nothing, and its error goes on", async () => {
  const saved: TaskStep[] = [];
  const ctx = context(saved);
  await assert.rejects(
    ctx.step("charge", () => {
      throw new Error("card declined");
    }),
    /card declined/,
  );
  assert.deepEqual(saved, []);
});

Deno.test("a record's steps are checked when read: a malformed list is named", () => {
  const step = { name: "a", timeStarted: 1, timeEnded: 2 };
  assert.equal(parseTaskRecord({ ...RECORD, steps: [step] }).ok, true);
  assert.equal(parseTaskRecord({ ...RECORD, steps: null }).ok, true);
  for (
    const steps of [{}, [{ name: "a" }], [step, step], [{ ...step, name: 3 }]]
  ) {
    const parsed = parseTaskRecord({ ...RECORD, steps });
    assert.equal(parsed.ok, false, JSON.stringify(steps));
    if (!parsed.ok) {
      assert.match(
        parsed.reason,
        /^Malformed task record: field 'steps' must be a list of steps/,
      );
    }
  }
});

/** A job of two steps that counts its side effects. */
const effects: string[] = [];
const Order = job(
  { name: "order", maxRetries: 2 },
  async (ctx, { fail }: { fail?: boolean }) => {
    const charge = await ctx.step("charge", () => {
      effects.push("charge");
      return "ch_1";
    });
    if (fail && ctx.task.retry === 1) throw new Error("mail server down");
    await ctx.step("email", () => void effects.push("email"));
    return charge;
  },
);

Deno.test("a run stores its steps through its context, keeps them in its final record and hands them to its retry", async () => {
  effects.length = 0;
  const stored: TaskStep[] = [];
  const first = await runTask({ ...RECORD, kwargs: { fail: true } }, Order, {
    backend: {} as JobBackend,
    now: () => 10,
    saveStep: (step) => {
      stored.push(step);
      return Promise.resolve(true);
    },
  });
  assert.equal(first.task.status, TaskStatus.RETRY);
  assert.deepEqual(first.task.steps?.map((s) => s.name), ["charge"]);
  assert.deepEqual(first.retry?.steps, first.task.steps);
  assert.deepEqual(stored, first.task.steps);
  // The retry charges no more.
  const second = await runTask(
    { ...first.retry!, status: TaskStatus.STARTED },
    Order,
    { backend: {} as JobBackend, now: () => 11 },
  );
  assert.equal(second.task.status, TaskStatus.SUCCESS);
  assert.equal(second.task.result, "ch_1");
  assert.deepEqual(effects, ["charge", "email"]);
  assert.deepEqual(second.task.steps?.map((s) => s.name), ["charge", "email"]);
});

Deno.test("a step not stored (its lease lost) stops the run: the next step never runs", async () => {
  effects.length = 0;
  const outcome = await runTask(RECORD, Order, {
    backend: {} as JobBackend,
    now: () => 10,
    saveStep: () => Promise.resolve(false),
  });
  assert.equal(outcome.task.status, TaskStatus.RETRY);
  assert.match(
    String(outcome.task.result),
    /^Cannot store step 'charge' of task\.order<.*> as its lease was lost: the task runs again elsewhere, from its last stored step; this run stops here$/,
  );
  assert.equal(outcome.task.exception?.startsWith("StepNotStored:"), true);
  assert.deepEqual(effects, ["charge"]);
  assert.equal(outcome.task.steps ?? null, null, "nothing kept of it");
  const away = await runTask(RECORD, Order, {
    backend: {} as JobBackend,
    now: () => 10,
    saveStep: () => Promise.reject(new Error("connection refused")),
  });
  assert.match(
    String(away.task.result),
    /Cannot store step 'charge' .*: connection refused; the job stops here/,
  );
  assert.ok(new StepNotStored("x") instanceof Error);
});

Deno.test("a step is not written while a progress write is in flight: both replace the record", async () => {
  const writes: string[] = [];
  const progressWritten = Promise.withResolvers<void>();
  const Reporting = job({ name: "order" }, async (ctx) => {
    ctx.progress(0.5, "half");
    await ctx.step("charge", () => "ch_1");
  });
  const running = runTask(RECORD, Reporting, {
    backend: {} as JobBackend,
    now: () => 10,
    progress: async () => {
      writes.push("progress started");
      await progressWritten.promise;
      writes.push("progress written");
    },
    saveStep: () => {
      writes.push("step");
      return Promise.resolve(true);
    },
  });
  // The step waits for the progress write, however long it takes.
  await new Promise((ok) => setTimeout(ok, 50));
  assert.deepEqual(writes, ["progress started"]);
  progressWritten.resolve();
  const outcome = await running;
  assert.equal(
    outcome.task.status,
    TaskStatus.SUCCESS,
    String(outcome.task.result),
  );
  assert.deepEqual(writes, ["progress started", "progress written", "step"]);
});
