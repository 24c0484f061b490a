/**
 * Values checked where they are typed, replayed as a new user met them
 * (issue 23), through `api.tasks.queue` on SQLite and on Redis: kwargs a
 * codec would change or cannot encode, meta params with a typo or a bad
 * value, a caller's id held by a task of another job, and a job the live
 * workers lack (added since they started: warned once, queued all the
 * same; on the command line, on stderr).
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { PulsarQueue, sig } from "../mod.ts";
import type { Producer } from "../src/producer/producer.ts";
import type { WorkerStatus } from "../src/model/worker_status.ts";
import { startRedis } from "./_redis.ts";
import { runPq, serverArgs, startServer, tempDir } from "./_server.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

const JOBS = new URL("./fixtures/checks_jobs/", import.meta.url).pathname;
const LONG_ONLY = `${JOBS}long.ts`;

/** The stores each test runs on: a new one each time. */
const STORES: Array<[string, (dir: string) => string]> = [
  ["SQLite", (dir) => `sqlite:${dir}/pq.sqlite`],
  ["Redis", () => redis.url(`pqchecks${crypto.randomUUID().slice(0, 8)}`)],
];

/** Registers `fn` once per store, with a started producer of the jobs. */
function storeTest(
  name: string,
  fn: (api: Producer, dataStore: string) => Promise<void>,
): void {
  for (const [label, url] of STORES) {
    Deno.test(`${label}: ${name}`, async () => {
      await using dir = await tempDir();
      const dataStore = url(dir.path);
      await using api = await new PulsarQueue({ taskPaths: [JOBS], dataStore })
        .api().start();
      await fn(api, dataStore);
    });
  }
}

/** Asserts nothing of `job` is stored. */
async function nothingQueued(api: Producer, job: string): Promise<void> {
  const page = await api.tasks.search({ job });
  assert.deepEqual(page.tasks.map((task) => task.id), [], "nothing queued");
}

/** Asserts queueing `hello` with these kwargs and options rejects so. */
async function refused(
  api: Producer,
  kwargs: Record<string, unknown>,
  message: string | RegExp,
  options: Record<string, unknown> = {},
): Promise<void> {
  const future = api.tasks.queue("hello", kwargs, {
    callback: false,
    ...options,
  });
  await assert.rejects(Promise.resolve(future), (error: Error) => {
    assert.equal(error.name, "TypeError");
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

storeTest(
  "kwargs a codec would change or cannot encode are refused with the job, the key path and what to send; nothing is queued",
  async (api) => {
    const circular: Record<string, unknown> = { name: "ann" };
    circular.self = circular;
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { who: () => 1, n: NaN },
        "kwargs.who is a function, which JSON drops: send the data it would give",
      ],
      [
        { n: NaN },
        "kwargs.n is NaN, which JSON sends as null: send null or a finite number",
      ],
      [
        { user: { birthday: new Date(0) } },
        "kwargs.user.birthday is a Date, which JSON sends as a string: send date.toISOString() (and new Date(text) in the job)",
      ],
      [
        { who: new Map([["name", "ann"]]) },
        "kwargs.who is a Map, which JSON sends as {}: send Object.fromEntries(map) (string keys) or [...map] (its entries)",
      ],
      [
        { big: 2n ** 64n },
        "kwargs.big is a BigInt, which JSON cannot encode: send a string (String(n)) or, when it fits, a number (Number(n))",
      ],
      [
        { user: circular },
        "kwargs.user.self refers back to kwargs.user (a circular reference), which JSON cannot encode: send a copy without the cycle",
      ],
      [
        { tags: new Set(["a"]) },
        "kwargs.tags is a Set, which JSON sends as {}: send [...set]",
      ],
      [
        { list: [1, undefined] },
        "kwargs.list[1] is undefined in an array, which JSON sends as null: send null",
      ],
      [
        { "first name": { bytes: new Uint8Array(2) } },
        'kwargs["first name"].bytes is a Uint8Array, which JSON sends as an object of its indexes: send Array.from(bytes) or a base64 string',
      ],
      [
        { at: new URL("https://example.com/") },
        "kwargs.at is a URL, which JSON sends as its toJSON(): send that (value.toJSON()), or a plain object",
      ],
      [
        { id: Symbol("id") },
        "kwargs.id is a symbol, which JSON drops: send a string",
      ],
    ];
    for (const [kwargs, problem] of cases) {
      await refused(
        api,
        kwargs,
        `Cannot queue task of job 'hello' as ${problem}`,
      );
    }
    // A value inside metaParams too: it is stored with the task.
    await refused(
      api,
      {},
      "Cannot queue task of job 'hello' as metaParams.since is a Date, which JSON sends as a string: send date.toISOString() (and new Date(text) in the job)",
      { metaParams: { since: new Date(0) } },
    );
    await nothingQueued(api, "hello");
    // JSON values, shared references and undefined object keys are sent.
    const shared = { city: "Rome" };
    const task = await api.tasks.queue("hello", {
      who: "ann",
      home: shared,
      work: shared,
      nickname: undefined,
      list: [1, "a", null, { ok: true }],
    }, { callback: false });
    assert.deepEqual((await api.tasks.get(task.id))?.kwargs, {
      who: "ann",
      home: { city: "Rome" },
      work: { city: "Rome" },
      list: [1, "a", null, { ok: true }],
    });
  },
);

storeTest(
  "queueMany, a job's ctx.queue and a workflow's sig refuse such kwargs too",
  async (api) => {
    await assert.rejects(
      api.tasks.queueMany("hello", [{ who: "ann" }, { who: "bob", n: NaN }]),
      {
        name: "TypeError",
        message:
          "Cannot queue task of job 'hello' as kwargsList[1].n is NaN, which JSON sends as null: send null or a finite number",
      },
    );
    await nothingQueued(api, "hello");
    // ctx.queue in a job run here, in each mode (from a subprocess the call
    // crosses as JSON): the job fails with the message.
    for (
      const name of ["greet.later", "greet.later.thread", "greet.later.cpu"]
    ) {
      const run = await api.tasks.execute(name);
      assert.equal(run.statusString, "FAILURE", `${name}: ${run.result}`);
      assert.match(
        String(run.result),
        /Cannot queue task of job 'hello' as kwargs\.when is a Date, which JSON sends as a string: send date\.toISOString\(\)/,
        name,
      );
    }
    await nothingQueued(api, "hello");
    assert.throws(() => sig("hello", { when: new Date(0) }), {
      name: "TypeError",
      message:
        'Invalid sig("hello"): kwargs.when is a Date, which JSON sends as a string: send date.toISOString() (and new Date(text) in the job)',
    });
  },
);

storeTest(
  "meta params: a typo is refused with the key meant, a bad value with its range, a queue option with where it goes; free keys are kept",
  async (api) => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { maxRetires: 3 },
        "Cannot queue task as 'metaParams.maxRetires' is not a meta param pq reads (did you mean 'maxRetries'?): a free key this close to one would be stored and ignored; meta params pq reads: maxRetries, retryDelay, maxConcurrency, priority, rateLimit, rateLimitKey, group, groupConcurrency",
      ],
      [
        { max_retries: 3 },
        "Cannot queue task as 'metaParams.max_retries' is not a meta param pq reads (did you mean 'maxRetries'?): a free key this close to one would be stored and ignored; meta params pq reads: maxRetries, retryDelay, maxConcurrency, priority, rateLimit, rateLimitKey, group, groupConcurrency",
      ],
      [
        { maxRetries: "lots" },
        `Cannot queue task as 'metaParams.maxRetries' must be a whole number >= 1 (the runs in all, the first included): got "lots"`,
      ],
      [
        { maxRetries: -2 },
        "Cannot queue task as 'metaParams.maxRetries' must be a whole number >= 1 (the runs in all, the first included): got -2",
      ],
      [
        { maxConcurrency: 0 },
        "Cannot queue task as 'metaParams.maxConcurrency' must be a whole number >= 1 (tasks of the job running at once): got 0",
      ],
      [
        { retryDelay: -1 },
        "Cannot queue task as 'metaParams.retryDelay' must be a number of seconds >= 0 or a backoff, not -1",
      ],
      [
        { priority: 1.5 },
        "Cannot queue task as 'metaParams.priority' must be an integer from -1000 to 1000: got 1.5",
      ],
      [
        { rateLimit: 3 },
        "Cannot queue task as 'metaParams.rateLimit' must be { tasks, per } with tasks a whole number from 1 to 1000000 and per seconds > 0, at most 86400, not 3",
      ],
      [
        { rateLimitKey: "" },
        `Cannot queue task as 'metaParams.rateLimitKey' must be a string of 1 to 200 characters without control characters: got ""`,
      ],
      [
        { timeout: 5 },
        "Cannot queue task as 'metaParams.timeout' is not read: 'timeout' is an option of tasks.queue, next to metaParams ({ timeout: 5 })",
      ],
    ];
    for (const [metaParams, message] of cases) {
      await refused(api, {}, message, { metaParams });
    }
    await nothingQueued(api, "hello");
    const task = await api.tasks.queue("hello", {}, {
      callback: false,
      metaParams: { maxRetries: 2, tenant: "acme", priorities: "x" },
    });
    assert.deepEqual((await api.tasks.get(task.id))?.meta, {
      maxRetries: 2,
      tenant: "acme",
      priorities: "x",
    });
  },
);

storeTest(
  "a caller's id held by a task of another job is refused, naming both jobs; of the same job it follows that task",
  async (api) => {
    const long = await api.tasks.queue("long", { lag: 0 }, {
      id: "job-42",
      callback: false,
    });
    const future = api.tasks.queue("hello", {}, { id: "job-42" });
    const message =
      "Cannot queue task of job 'hello' with id 'job-42': a task of job 'long' holds that id (QUEUED); give this task another id, or queue job 'long' to follow that task";
    await assert.rejects(Promise.resolve(future), {
      name: "TypeError",
      message,
    });
    await assert.rejects(future.queued, { message });
    await nothingQueued(api, "hello");
    assert.equal((await api.tasks.get("job-42"))?.name, "long");
    // The same job: nothing queued, the future follows the task there.
    const again = api.tasks.queue("long", { lag: 1 }, {
      id: "job-42",
      callback: false,
    });
    assert.deepEqual(await again.queued, {
      id: "job-42",
      duplicate: true,
      reason: "id",
    });
    assert.equal((await again).id, long.id);
  },
);

/** A live worker's beat, as a server that has only `jobs` writes it. */
function workerBeat(
  name: string,
  queues: string[],
  jobs: string[],
): WorkerStatus {
  const now = Date.now() / 1000;
  return {
    worker: name,
    node: "checks-node",
    pid: 1,
    queues,
    maxConcurrentTasks: 1,
    concurrentTasks: [],
    processed: 0,
    cores: 1,
    time: now,
    until: now + 60,
    jobs: jobs.map((job) => ({
      name: job,
      defaultQueue: null,
      timeout: null,
      maxConcurrency: null,
    })),
  };
}

/** The producer's warnings while `fn` runs. */
async function warningsOf(fn: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  await configure({
    reset: true,
    sinks: {
      capture: (record: LogRecord) => warnings.push(record.message.join("")),
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
    await fn();
  } finally {
    await reset();
  }
  return warnings;
}

storeTest(
  "a job the live workers of its queue lack is warned of once per job, and queued all the same",
  async (api) => {
    const queue = api.settings.defaultTaskQueue;
    await api.store.beat(workerBeat("checks-w1", [queue], ["long"]));
    await api.store.beat(workerBeat("checks-w2", ["elsewhere"], ["long"]));
    try {
      const warnings = await warningsOf(async () => {
        const first = await api.tasks.queue("hello", {}, { callback: false });
        assert.equal(first.statusString, "QUEUED");
        await api.tasks.queue("hello", {}, { callback: false });
        // The workers have it: no warning.
        await api.tasks.queue("long", {}, { callback: false });
      });
      assert.deepEqual(warnings, [
        `Job hello is not loaded by 1 of the 1 live workers of queue ${queue} (checks-w1): servers load their jobs when they start, so restart them to load a job added since; a worker without it fails the task (hello not in registry)`,
      ]);
      assert.equal((await api.tasks.search({ job: "hello" })).tasks.length, 2);
    } finally {
      await api.store.leave("checks-w1");
      await api.store.leave("checks-w2");
    }
  },
);

storeTest(
  "with no live worker at all, queueing a job says nothing more",
  async (api) => {
    const warnings = await warningsOf(async () => {
      await api.tasks.queue("hello", {}, { callback: false });
    });
    assert.deepEqual(warnings, []);
  },
);

Deno.test("pq queue of a job a running server lacks warns on stderr that servers load jobs when they start, and queues it", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 0,
    dataStore,
    taskPaths: LONG_ONLY,
  }));
  await server.ready();
  const run = await runPq([
    "queue",
    "hello",
    "who=ann",
    "--data-store",
    dataStore,
    "--task-paths",
    JOBS,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Queued .*hello/);
  assert.match(
    run.stderr,
    /Job "hello" is not loaded by 1 of the 1 live workers of queue "pulsarqueue" \(".+"\): servers load their jobs when they start, so restart them to load a job added since/,
  );
  assert.equal((await server.stop()).code, 0, server.stderr());
});

Deno.test("pq queue --id of an id held by a task of another job exits 2 naming both jobs, and queues nothing", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  // A client never creates a store: this producer does.
  await using api = await new PulsarQueue({ taskPaths: [JOBS], dataStore })
    .api().start();
  const args = (...rest: string[]) => [
    "queue",
    ...rest,
    "--id",
    "job-42",
    "--data-store",
    dataStore,
    "--task-paths",
    JOBS,
  ];
  const first = await runPq(args("long"));
  assert.equal(first.code, 0, first.stderr);
  const other = await runPq(args("hello", "who=ann"));
  assert.equal(other.code, 2, other.stderr);
  assert.match(
    other.stderr,
    /Cannot queue task of job 'hello' with id 'job-42': a task of job 'long' holds that id \(QUEUED\); give this task another id, or queue job 'long' to follow that task/,
  );
  await nothingQueued(api, "hello");
  assert.equal((await api.tasks.get("job-42"))?.name, "long");
});
