/**
 * Unit tests of the model: statuses, tasks, codecs, jobs, the registry and
 * event globs (pulsar-queue's test_api.py and more).
 */
import assert from "node:assert/strict";
import {
  Concurrency,
  EXCEPTION_STATES,
  FINISHED_STATES,
  FULL_RUN_STATES,
  Job,
  job,
  READY_STATES,
  statusString,
  Task,
  TaskStatus,
  UNFINISHED_STATES,
  UNREADY_STATES,
} from "../mod.ts";
import { codecFor } from "../src/model/codec.ts";
import { unsendableProblem } from "../src/model/kwargs_check.ts";
import { globToRegExp } from "../src/producer/event_hub.ts";
import { jobNameOf } from "../src/runtime/job.ts";
import { modeName } from "../src/model/execution_mode.ts";
import { slugifyJobName } from "../src/model/job_options.ts";
import { loadRegistry } from "../src/runtime/registry.ts";
import {
  newTaskId,
  parseTaskRecord,
  TASK_FIELDS,
  type TaskRecord,
} from "../src/model/task.ts";
import { tempDir } from "./_server.ts";
import { delay, queuedRecord } from "./_helpers.ts";

/** A QUEUED record of queue `q`, queued at 1000. */
function record(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return queuedRecord(1000, { queue: "q", ...overrides });
}

Deno.test("statusString names codes and is UNKNOWN otherwise", () => {
  assert.equal(statusString(1), "SUCCESS");
  assert.equal(statusString(6), "QUEUED");
  assert.equal(statusString(243134), "UNKNOWN");
  assert.equal(statusString("jhbjhbj"), "UNKNOWN");
  assert.equal(statusString("1"), "UNKNOWN");
});

Deno.test("state sets are pulsar-queue's", () => {
  assert.deepEqual([...FULL_RUN_STATES].sort(), [1, 2]);
  assert.deepEqual([...READY_STATES].sort(), [1, 2, 3]);
  assert.deepEqual([...EXCEPTION_STATES].sort(), [2, 3]);
  assert.deepEqual([...UNREADY_STATES].sort(), [4, 5, 6]);
  // pq's names of the same sets: "ready" means due to run in pq.
  assert.equal(FINISHED_STATES, READY_STATES);
  assert.equal(UNFINISHED_STATES, UNREADY_STATES);
});

Deno.test("a task has every field of a record, absent ones null, and gives them back", () => {
  const task = new Task(record({ result: 7 }));
  assert.deepEqual(Object.keys(task), [...TASK_FIELDS]);
  assert.deepEqual(Object.keys(task.toJSON()), [...TASK_FIELDS]);
  assert.equal(task.timeStarted, null);
  assert.equal(task.result, 7);
  assert.deepEqual(new Task(task.toJSON()), task);
  // A record's unknown keys are not carried into the task.
  const extra = new Task({ ...record(), extra: 1 } as TaskRecord);
  assert.equal(Object.hasOwn(extra, "extra"), false);
});

Deno.test("a task reads as task.<name><id><STATUS> and knows its expiry", () => {
  const task = new Task(record({ delay: 2, timeout: 3 }));
  assert.equal(String(task), `task.addition<${task.id}><QUEUED>`);
  assert.equal(task.expiry, 1005);
  assert.equal(task.done(), false);
  assert.equal(new Task(record()).expiry, null);
  assert.equal(new Task(record({ status: TaskStatus.REVOKED })).done(), true);
  assert.equal(new Task(record({ status: TaskStatus.RETRY })).done(), false);
});

Deno.test("task ids are 32 hex digits, unique, UUIDv7: their time first, so later ones sort after", async () => {
  const before = Date.now();
  const ids = new Set(Array.from({ length: 1000 }, newTaskId));
  const after = Date.now();
  assert.equal(ids.size, 1000);
  for (const id of ids) {
    assert.match(id, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    const time = parseInt(id.slice(0, 12), 16);
    assert.ok(time >= before && time <= after, `${time} in ${before}-${after}`);
  }
  const first = newTaskId();
  await delay(2);
  assert.ok(newTaskId() > first, "an id made 2 ms later sorts after");
});

for (const name of ["json", "msgpack"] as const) {
  Deno.test(`the ${name} codec round-trips a task record`, () => {
    const codec = codecFor(name);
    const value = new Task(record({ result: { nested: [1, "two", null] } }));
    const decoded = codec.decode(codec.encode(value));
    assert.deepEqual(decoded, JSON.parse(JSON.stringify(value)));
    const parsed = parseTaskRecord(decoded);
    assert.ok(parsed.ok);
  });

  Deno.test(`the ${name} codec rejects bytes that are not its encoding`, () => {
    const codec = codecFor(name);
    assert.throws(() => codec.decode(new Uint8Array([0xc1, 0xff, 0x00])));
  });
}

Deno.test("a malformed record is reported with the field that is wrong", () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...record(), kwargs: 3 }, /field 'kwargs'/],
    [{ ...record(), id: "not an id" }, /field 'id'/],
    [{ ...record(), status: 99 }, /field 'status'/],
    [{ ...record(), delay: -1 }, /field 'delay'/],
    ["a string", /field '\(record\)'/],
  ];
  for (const [value, pattern] of cases) {
    const parsed = parseTaskRecord(value);
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.match(parsed.reason, pattern);
  }
});

Deno.test("job names follow pulsar-queue's slug rule", () => {
  assert.equal(slugifyJobName("Addition"), "addition");
  assert.equal(slugifyJobName("RunPyCode"), "runpycode");
  assert.equal(slugifyJobName("queue_from_task"), "queue.from.task");
  assert.equal(slugifyJobName("bla foo"), "bla.foo");
  assert.equal(slugifyJobName("read.text"), "read.text");
  assert.equal(slugifyJobName("  It's  a--name_ "), "its.a.name");
});

Deno.test("job() makes a Job class named after the function or option", () => {
  const blaFoo = job(
    { name: "bla foo" },
    (_ctx, { value = 0 }: { value?: number }) => 6 + value,
  );
  assert.ok(blaFoo.prototype instanceof Job);
  assert.equal(jobNameOf(blaFoo), "bla.foo");
  const named = job(function read_text() {});
  assert.equal(jobNameOf(named), "read.text");
  assert.throws(() => job(() => 1), /without a name/);
  assert.throws(
    () => job({ name: "x", timeout: -1 }, () => 1),
    /Invalid option 'timeout' of job 'x'.*-1/,
  );
  assert.throws(
    () => job({ name: "x", concurrency: 7 as 1 }, () => 1),
    /Invalid option 'concurrency'/,
  );
});

Deno.test("job() refuses an unknown option, naming it and the known ones", () => {
  assert.throws(
    () =>
      job(
        { name: "x", throttle: { tasks: 10, per: 1 } } as never,
        () => 1,
      ),
    {
      name: "TypeError",
      message:
        "Unknown option 'throttle' of job 'x'; known options: name, concurrency, timeout, maxRetries, retryDelay, maxConcurrency, priority, rateLimit, rateLimitKey, group, groupConcurrency, defaultQueue, doc, runEvery, anchor, cron, schema, permissions",
    },
  );
  assert.throws(
    () => job({ name: "y", timout: 5 } as never, () => 1),
    {
      message:
        /^Unknown option 'timout' of job 'y' \(did you mean 'timeout'\?\)/,
    },
  );
});

Deno.test("the modes are named as the README names them", () => {
  assert.equal(modeName(Concurrency.ASYNC_IO), "ASYNC_IO");
  assert.equal(modeName(Concurrency.THREAD_IO), "THREAD_IO");
  assert.equal(modeName(Concurrency.CPUBOUND), "CPUBOUND");
});

Deno.test("a class job's name comes from jobName or the class name", () => {
  class CpuBoundWithAsync extends Job {
    static override concurrency = Concurrency.CPUBOUND;
  }
  class Renamed extends Job {
    static override jobName = "my.job";
  }
  assert.equal(jobNameOf(CpuBoundWithAsync), "cpuboundwithasync");
  assert.equal(jobNameOf(Renamed), "my.job");
});

Deno.test("the registry loads files and folders, skipping _ files", async () => {
  await using dir = await tempDir();
  const mod = new URL("../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    `${dir.path}/one.ts`,
    `import { job, Job } from "${mod}";
     export const alpha = job(function alpha() { return 1; });
     export class Base extends Job { static override abstract = true; }
     export class Beta extends Base {}
     export const notAJob = 3;`,
  );
  await Deno.writeTextFile(
    `${dir.path}/_private.ts`,
    `import { job } from "${mod}"; export const hidden = job(function hidden() {});`,
  );
  const registry = await loadRegistry([`${dir.path}/`]);
  assert.deepEqual(registry.names(), ["alpha", "beta"]);
  const single = await loadRegistry(["./one.ts"], dir.path);
  assert.deepEqual(single.names(), ["alpha", "beta"]);
});

Deno.test("the registry names the module that fails to import", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/bad.ts`, `throw new Error("boom");`);
  await assert.rejects(
    loadRegistry([dir.path]),
    /Cannot load jobs from .*bad\.ts.*boom/,
  );
  await assert.rejects(
    loadRegistry([`${dir.path}/missing.ts`]),
    /Cannot load jobs from .*missing\.ts/,
  );
});

Deno.test("two jobs with one name are an error", async () => {
  await using dir = await tempDir();
  const mod = new URL("../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    `${dir.path}/a.ts`,
    `import { job } from "${mod}"; export const a = job({ name: "same" }, () => 1);`,
  );
  await Deno.writeTextFile(
    `${dir.path}/b.ts`,
    `import { job } from "${mod}"; export const b = job({ name: "same" }, () => 2);`,
  );
  await assert.rejects(
    loadRegistry([dir.path]),
    /job 'same'.*another job has that name/,
  );
});

Deno.test("event globs match as pulsar's channels", () => {
  assert.ok(globToRegExp("*").test("done"));
  assert.ok(globToRegExp("d?ne").test("done"));
  assert.ok(globToRegExp("[sd]*").test("started"));
  assert.ok(!globToRegExp("done").test("done2"));
  assert.ok(!globToRegExp("do.e").test("done"));
  assert.ok(globToRegExp("a.b").test("a.b"));
});

Deno.test("a value is sendable exactly when both codecs give it back unchanged", () => {
  class Point {
    x = 1;
  }
  const sendable: unknown[] = [
    {},
    { a: [1, -2.5, "s", true, null, { b: [] }] },
    Object.assign(Object.create(null), { a: 1 }),
    { nested: { deeper: { deepest: [[["x"]]] } } },
  ];
  for (const value of sendable) {
    assert.equal(unsendableProblem(value, "kwargs"), undefined);
    for (const name of ["json", "msgpack"] as const) {
      const codec = codecFor(name);
      // Spread: a null-prototype object comes back with Object's.
      assert.deepEqual({ ...codec.decode(codec.encode(value)) as object }, {
        ...value as object,
      });
    }
  }
  const refused: Array<[unknown, string]> = [
    [[1, , 3], "kwargs[1] is a hole of a sparse array"],
    [{ p: new Point() }, "kwargs.p is a Point, which JSON sends as a plain"],
    [
      { e: new RangeError("x") },
      "kwargs.e is a RangeError, which JSON sends as {}: send error.message",
    ],
    [{ p: Promise.resolve(1) }, "kwargs.p is a Promise: await it"],
    [{ s: new String("x") }, "kwargs.s is a String object: send the primitive"],
    [{ r: /a/g }, "kwargs.r is a RegExp"],
    [{ n: -Infinity }, "kwargs.n is -Infinity, which JSON sends as null"],
    [{ [Symbol("k")]: 1 }, "kwargs has a symbol key, which JSON drops"],
    [{ a: { "b c": [{ d: () => 0 }] } }, 'kwargs.a["b c"][0].d is a function'],
  ];
  for (const [value, start] of refused) {
    const problem = unsendableProblem(value, "kwargs");
    assert.ok(problem?.startsWith(start), `${start}: got ${problem}`);
    // What is refused is what a codec changes (or cannot encode).
    for (const name of ["json", "msgpack"] as const) {
      const codec = codecFor(name);
      assert.throws(
        () => assert.deepEqual(codec.decode(codec.encode(value)), value),
        `${start}: ${name} gives it back changed`,
      );
    }
  }
});
