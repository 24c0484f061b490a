/**
 * The `pq` command line against a running server: every command, its
 * `--json` output, and bad input (unknown job, malformed key=value, unknown
 * id) with clear messages and exit statuses. On SQLite, and the basics on
 * Redis.
 */
import assert from "node:assert/strict";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  pq,
  type Run,
  runPq,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** The task id of `pq queue ... --json`. */
function idOf(run: Run): string {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout).id;
}

Deno.test("pq commands against a server on SQLite", async (t) => {
  await using dir = await tempDir();
  const store = `sqlite:${dir.path}/pq.sqlite`;
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore: store,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  // Client commands never create a store: wait until the server has.
  await server.ready();

  await t.step(
    "queue --wait prints the result, a progress line on stderr, exit 0",
    async () => {
      const run = await pq(store, "queue", "addition", "a=4", "b=6", "--wait");
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^task\.addition<[0-9a-f]+><SUCCESS>/);
      assert.match(run.stdout, /result\s+10\n/);
      assert.match(run.stderr, /Waiting for addition<[0-9a-f]+>: QUEUED/);
    },
  );

  await t.step(
    "queue parses values as JSON when they parse, else as text",
    async () => {
      const run = await pq(
        store,
        "queue",
        "subtraction",
        "a=10",
        "b=2.5",
        "--wait",
        "--json",
      );
      assert.equal(run.code, 0, run.stderr);
      const task = JSON.parse(run.stdout);
      assert.deepEqual(task.kwargs, { a: 10, b: 2.5 });
      assert.equal(task.result, 7.5);
      assert.equal(task.statusString, "SUCCESS");
      const text = await pq(store, "queue", "subtraction", "a=ten", "--json");
      assert.deepEqual(JSON.parse(text.stdout).kwargs, { a: "ten" });
    },
  );

  await t.step(
    "queue --wait of a task that fails exits 1 saying why",
    async () => {
      const run = await pq(store, "queue", "subtraction", "a=x", "--wait");
      assert.equal(run.code, 1);
      assert.match(run.stdout, /<FAILURE>/);
      assert.match(
        run.stderr,
        /ended FAILURE: unsupported operand types for -: string and number/,
      );
    },
  );

  await t.step("queue of an unknown job exits 1 naming the job", async () => {
    const run = await pq(store, "queue", "nosuchjob", "a=1");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /pq: Task nosuchjob is not registered/);
    assert.equal(run.stdout, "");
    const close = await pq(store, "queue", "additin", "a=1");
    assert.equal(close.code, 1);
    assert.match(
      close.stderr,
      /Task additin is not registered \(did you mean 'addition'\?\)/,
    );
  });

  await t.step(
    "kwargs are checked by the job's schema before anything is queued",
    async () => {
      const run = await pq(store, "queue", "addition", "aa=4", "b=6");
      assert.equal(run.code, 2);
      assert.match(
        run.stderr,
        /Invalid arguments for job 'addition': .*Unrecognized key: "aa"/,
      );
      const text = await pq(store, "queue", "addition", "a=4x", "b=6");
      assert.equal(text.code, 2);
      assert.match(text.stderr, /a: Invalid input: expected number/);
      const sizes = JSON.parse((await pq(store, "queues", "--json")).stdout);
      assert.equal(sizes.pulsarqueue.tasks, 0);
    },
  );

  await t.step(
    "without --task-paths, a job a live worker has is queued by name",
    async () => {
      await using empty = await tempDir();
      const run = await runPq(
        ["queue", "addition", "a=4", "b=6", "--wait", "--data-store", store],
        empty.path,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /result\s+10\n/);
      const hello = await runPq(
        ["queue", "hello", "--data-store", store],
        empty.path,
      );
      assert.equal(hello.code, 1);
      assert.match(
        hello.stderr,
        /Task hello is not registered \(this process loaded no job code: pass --task-paths/,
      );
    },
  );

  await t.step(
    "--wait on a queue no worker consumes warns, and --wait-timeout ends it",
    async () => {
      const run = await pq(
        store,
        "queue",
        "addition",
        "--queue",
        "nowhere",
        "--wait",
        "--wait-timeout",
        "4",
      );
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /No live worker consumes queue "nowhere".*queues consumed now: .*pulsarqueue/,
      );
      assert.match(
        run.stderr,
        /stopped waiting after 4 s: addition<([0-9a-f]{32})> is QUEUED \(it stays queued; pq revoke \1 drops it\)/,
      );
      const id = /pq revoke ([0-9a-f]{32})/.exec(run.stderr)![1];
      assert.equal((await pq(store, "revoke", id)).code, 0);
      const noWait = await pq(
        store,
        "queue",
        "addition",
        "--wait-timeout",
        "4",
      );
      assert.equal(noWait.code, 2);
      assert.match(
        noWait.stderr,
        /--wait-timeout needs --wait: it is how long to wait \(the task's own timeout is --task-timeout\)/,
      );
    },
  );

  await t.step(
    "--task-timeout is the task's timeout; --timeout, the wait's old name, says so",
    async () => {
      const run = await pq(
        store,
        "queue",
        "addition",
        "a=1",
        "--task-timeout",
        "30",
        "--json",
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).timeout, 30);
      const old = await pq(
        store,
        "queue",
        "addition",
        "a=1",
        "--wait",
        "--timeout",
        "60",
      );
      assert.equal(old.code, 0, old.stderr);
      assert.match(old.stdout, /result\s+1\n/);
      assert.match(
        old.stderr,
        /--timeout is now --wait-timeout \(how long --wait waits\); the task's own timeout is --task-timeout/,
      );
      const zero = await pq(store, "queue", "addition", "--task-timeout", "0");
      assert.equal(zero.code, 2);
      assert.match(
        zero.stderr,
        /Option --task-timeout must be a number of seconds > 0: got '0'/,
      );
    },
  );

  await t.step(
    "--priority -3 and --delay -1 are read as values, not as flags",
    async () => {
      const run = await pq(
        store,
        "queue",
        "addition",
        "a=1",
        "--priority",
        "-3",
        "--delay",
        "60",
        "--json",
      );
      assert.equal(run.code, 0, run.stderr);
      const task = JSON.parse(run.stdout);
      assert.equal(task.meta.priority, -3);
      assert.equal((await pq(store, "revoke", task.id)).code, 0);
      const delay = await pq(store, "queue", "addition", "--delay", "-1");
      assert.equal(delay.code, 2);
      assert.doesNotMatch(delay.stderr, /ambiguous/);
      assert.match(
        delay.stderr,
        /Option --delay must be a number of seconds >= 0: got '-1'/,
      );
      const low = await pq(store, "queue", "addition", "--priority", "-1001");
      assert.equal(low.code, 2);
      assert.match(
        low.stderr,
        /Option --priority must be an integer from -1000 to 1000: got '-1001'/,
      );
    },
  );

  await t.step(
    "--wait shows each attempt of a retried task, with its error",
    async () => {
      const run = await pq(
        store,
        "queue",
        "testperiodicerror",
        "msg=boom",
        "--max-retries",
        "3",
        "--wait",
      );
      assert.equal(run.code, 1);
      const first =
        /Attempt 1 of testperiodicerror<([0-9a-f]{32})> ended RETRY: boom; attempt 2 is testperiodicerror<([0-9a-f]{32})>/
          .exec(run.stderr);
      assert.ok(first, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `Attempt 2 of testperiodicerror<${
            first[2]
          }> ended RETRY: boom; attempt 3 is testperiodicerror<[0-9a-f]{32}>`,
        ),
      );
      assert.match(
        run.stderr,
        /pq: task\.testperiodicerror<[0-9a-f]{32}><FAILURE> ended FAILURE on attempt 3: boom/,
      );
      assert.match(run.stdout, /<FAILURE>/);
      const bad = await pq(store, "queue", "addition", "--max-retries", "x");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--max-retries must be a whole number >= 0/);
    },
  );

  await t.step(
    "a malformed key=value is a usage error (exit 2) naming it",
    async () => {
      const run = await pq(store, "queue", "addition", "a=1", "oops");
      assert.equal(run.code, 2);
      assert.match(
        run.stderr,
        /Cannot read argument 'oops' as key=value: there is no '='/,
      );
      const empty = await pq(store, "queue", "addition", "=1");
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /Cannot read argument '=1'.*the key is empty/);
      const delay = await pq(store, "queue", "addition", "--delay=-1");
      assert.equal(delay.code, 2);
      assert.match(
        delay.stderr,
        /--delay must be a number of seconds >= 0.*'-1'/,
      );
    },
  );

  await t.step("status shows a task; --json gives its record", async () => {
    const id = idOf(
      await pq(store, "queue", "addition", "a=1", "--delay", "60", "--json"),
    );
    const run = await pq(store, "status", id);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`task\\.addition<${id}><QUEUED>`));
    assert.match(run.stdout, /delay\s+60 s/);
    const json = JSON.parse((await pq(store, "status", id, "--json")).stdout);
    assert.equal(json.id, id);
    assert.equal(json.statusString, "QUEUED");
  });

  await t.step("status of an unknown id exits 1 naming the id", async () => {
    const run = await pq(store, "status", "nosuchid");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /No task with id 'nosuchid'/);
    const missing = await pq(store, "status");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Command 'status' needs 1 argument: got none/);
  });

  await t.step(
    "revoke stops a queued task; again, or unknown, exits 1",
    async () => {
      const id = idOf(
        await pq(store, "queue", "addition", "--delay", "60", "--json"),
      );
      const run = await pq(store, "revoke", id);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`Revoked task ${id}`));
      const status = JSON.parse(
        (await pq(store, "status", id, "--json")).stdout,
      );
      assert.equal(status.statusString, "REVOKED");
      const again = await pq(store, "revoke", id, "--json");
      assert.equal(again.code, 1);
      assert.deepEqual(JSON.parse(again.stdout), { id, outcome: "finished" });
      assert.match(again.stderr, /had already finished \(REVOKED\)/);
      const unknown = await pq(store, "revoke", "nosuchid");
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /No task with id 'nosuchid'/);
    },
  );

  await t.step("queues shows the tasks waiting; purge drops them", async () => {
    for (let i = 0; i < 3; i++) {
      const run = await pq(store, "queue", "addition", "--queue", "parked");
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^Queued task\.addition<.*> on queue parked/);
    }
    const sizes = await pq(store, "queues", "parked", "--json");
    assert.deepEqual(JSON.parse(sizes.stdout), {
      parked: { tasks: 3, paused: false },
    });
    const human = await pq(store, "queues", "parked");
    assert.match(human.stdout, /parked\s+3/);
    // With no names: the configured queues, then every queue holding tasks.
    const all = JSON.parse((await pq(store, "queues", "--json")).stdout);
    assert.ok("pulsarqueue" in all, JSON.stringify(all));
    assert.equal(all.parked.tasks, 3, JSON.stringify(all));
    const table = (await pq(store, "queues")).stdout;
    assert.match(table, /^parked\s+3$/m);
    const purge = await pq(store, "purge", "parked");
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stdout, /Purged 3 queued tasks from parked/);
    const after = await pq(store, "queues", "parked", "--json");
    assert.deepEqual(JSON.parse(after.stdout), {
      parked: { tasks: 0, paused: false },
    });
    const none = await pq(store, "purge");
    assert.equal(none.code, 2);
  });

  await t.step("jobs lists the jobs; an unknown name exits 1", async () => {
    const run = await pq(store, "jobs");
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^addition\s+regular\s+ASYNC_IO\s+-\s+-\s+-\s+Adds `a` and `b`\.$/m,
    );
    // A periodic job shows its schedule.
    assert.match(
      run.stdout,
      /^testperiodicerror\s+periodic\s+ASYNC_IO\s+-\s+-\s+every 60 s\s/m,
    );
    const periodic = JSON.parse(
      (await pq(store, "jobs", "testperiodicerror", "--json")).stdout,
    );
    assert.deepEqual(periodic.testperiodicerror.schedule, {
      runEvery: 60,
      anchor: 0,
    });
    const json = JSON.parse(
      (await pq(store, "jobs", "addition", "--json")).stdout,
    );
    assert.deepEqual(Object.keys(json), ["addition"]);
    assert.equal(json.addition.type, "regular");
    assert.equal(json.addition.priority, null);
    assert.equal(json.addition.rateLimit, null);
    assert.equal(json.addition.schedule, null);
    const unknown = await pq(store, "jobs", "nosuchjob");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Task nosuchjob is not registered/);
  });

  await t.step(
    "workers shows what runs now, not the beat before the command",
    async () => {
      // A task that just ended: the last beat (while busy) still had it.
      const done = await pq(
        store,
        "queue",
        "asynchronous",
        "lag=1.5",
        "--wait",
      );
      assert.equal(done.code, 0, done.stderr);
      const idle = JSON.parse((await pq(store, "workers", "--json")).stdout);
      assert.equal(idle.length, 1);
      assert.deepEqual(idle[0].concurrentTasks, []);
      assert.match(
        (await pq(store, "workers")).stdout,
        /^worker-\d+\s+\S+\s+\d+\s+0\/\d+\s/m,
      );
      // A task that just started: the last beat (while idle) lacked it.
      const id = idOf(
        await pq(store, "queue", "asynchronous", "lag=30", "--json"),
      );
      await eventually(
        async () =>
          JSON.parse((await pq(store, "status", id, "--json")).stdout)
            .statusString === "STARTED",
        60,
        "the task started",
      );
      const busy = JSON.parse((await pq(store, "workers", "--json")).stdout);
      assert.deepEqual(busy[0].concurrentTasks, [id]);
      assert.equal((await pq(store, "revoke", id)).code, 0);
    },
  );

  await t.step("workers lists the live worker", async () => {
    const json = await pq(store, "workers", "--json");
    assert.equal(json.code, 0, json.stderr);
    const workers = JSON.parse(json.stdout);
    assert.equal(workers.length, 1);
    assert.match(workers[0].worker, /^worker-\d+$/);
    const run = await pq(store, "workers");
    assert.match(run.stdout, new RegExp(`^${workers[0].worker}\\s`, "m"));
  });

  await t.step(
    "an unknown command or a flag of another command exits 2",
    async () => {
      const run = await pq(store, "frobnicate");
      assert.equal(run.code, 2);
      assert.match(run.stderr, /Unknown command 'frobnicate'/);
      const stray = await pq(store, "jobs", "--wait");
      assert.equal(stray.code, 2);
      assert.match(stray.stderr, /'--wait' is not an option of command 'jobs'/);
    },
  );

  assert.equal((await server.stop()).code, 0, server.stderr());
});

Deno.test("client commands never create a store; jobs needs none", async () => {
  await using dir = await tempDir();
  const typo = `${dir.path}/pq.sqlit`;
  for (
    const args of [
      ["queue", "addition", "a=1", "--wait"],
      ["status", "0".repeat(32)],
      ["queues"],
      ["workers"],
      ["revoke", "0".repeat(32)],
      ["purge", "parked"],
    ]
  ) {
    const run = await pq(`sqlite:${typo}`, ...args);
    assert.equal(run.code, 1, `${args[0]}: ${run.stderr}`);
    assert.match(
      run.stderr,
      /Cannot open store 'sqlite:.*pq\.sqlit': no such file .*pq\.sqlit \(a pq server creates it/,
      args[0],
    );
  }
  // A Redis URL that cannot be read is a bad setting (2), not an outage (1).
  for (const args of [["queues"], ["status", "0".repeat(32)], []]) {
    const run = await pq("redis://127.0.0.1:abc", ...args);
    assert.equal(run.code, 2, `${args[0] ?? "serve"}: ${run.stderr}`);
    assert.match(
      run.stderr,
      /Cannot open store 'redis:\/\/127\.0\.0\.1:abc': '127\.0\.0\.1:abc' is not a host\[:port\]; set --data-store to a URL such as redis:\/\/127\.0\.0\.1:6379\/0/,
    );
  }
  const broker = await runPq([
    "queues",
    "--data-store",
    `sqlite:${typo}`,
    "--message-broker",
    "redis://:s3cret@127.0.0.1:6379/x",
  ]);
  assert.equal(broker.code, 2, broker.stderr);
  assert.match(
    broker.stderr,
    /redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/x': the database must be a number.*set --message-broker/,
  );
  assert.doesNotMatch(broker.stderr, /s3cret/);
  const jobs = await pq(`sqlite:${typo}`, "jobs");
  assert.equal(jobs.code, 0, jobs.stderr);
  assert.match(jobs.stdout, /^addition\s+regular\s+ASYNC_IO/m);
  assert.deepEqual(
    [...Deno.readDirSync(dir.path)],
    [],
    "no file was made",
  );
});

Deno.test("--help lists every command, in a process of its own", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--help"],
  }).output();
  assert.equal(output.code, 0);
  const text = new TextDecoder().decode(output.stdout);
  for (
    const command of [
      "serve",
      "queue",
      "status",
      "tasks",
      "jobs",
      "revoke",
      "workflow",
      "queues",
      "workers",
      "purge",
      "pause",
      "resume",
      "dashboard",
    ]
  ) assert.match(text, new RegExp(`^  ${command}\\s`, "m"), command);
  assert.match(text, /--data-store/);
  assert.match(text, /Run 'pq help <command>'/);
});

Deno.test({
  name: "pq basics against a server on Redis",
  async fn() {
    await using redis = await startRedis();
    const store = redis.url("pqcli");
    await using server = startServer(serverArgs({
      workers: 1,
      dataStore: store,
      taskPaths: EXAMPLE_JOBS,
    }));
    const done = await pq(
      store,
      "queue",
      "addition",
      "a=2",
      "b=3",
      "--wait",
      "--json",
    );
    assert.equal(done.code, 0, done.stderr);
    const task = JSON.parse(done.stdout);
    assert.equal(task.result, 5);
    const status = JSON.parse(
      (await pq(store, "status", task.id, "--json")).stdout,
    );
    assert.equal(status.statusString, "SUCCESS");
    assert.equal((await pq(store, "status", "nosuchid")).code, 1);
    assert.equal((await pq(store, "queue", "nosuchjob")).code, 1);
    await pq(store, "queue", "addition", "--queue", "parked");
    assert.deepEqual(
      JSON.parse((await pq(store, "queues", "parked", "--json")).stdout),
      { parked: { tasks: 1, paused: false } },
    );
    const all = JSON.parse((await pq(store, "queues", "--json")).stdout);
    assert.equal(all.parked.tasks, 1, JSON.stringify(all));
    assert.equal(all.pulsarqueue.tasks, 0, JSON.stringify(all));
    assert.match(
      (await pq(store, "purge", "parked")).stdout,
      /Purged 1 queued task from parked/,
    );
    const workers = JSON.parse((await pq(store, "workers", "--json")).stdout);
    assert.equal(workers.length, 1);
    // As of the worker's next beat: the task that just ended is not running.
    const slow = await pq(store, "queue", "asynchronous", "lag=1.5", "--wait");
    assert.equal(slow.code, 0, slow.stderr);
    const idle = JSON.parse((await pq(store, "workers", "--json")).stdout);
    assert.deepEqual(idle[0].concurrentTasks, []);
    // Each attempt of a retried task, with its error.
    const retried = await pq(
      store,
      "queue",
      "testperiodicerror",
      "msg=boom",
      "--max-retries",
      "2",
      "--wait",
    );
    assert.equal(retried.code, 1);
    assert.match(
      retried.stderr,
      /Attempt 1 of testperiodicerror<[0-9a-f]{32}> ended RETRY: boom; attempt 2 is testperiodicerror<[0-9a-f]{32}>\n/,
    );
    assert.match(retried.stderr, /ended FAILURE on attempt 2: boom/);
    assert.equal((await server.stop()).code, 0, server.stderr());
  },
});
