/**
 * `pq tasks`: the real command line searches the tasks of a store (SQLite
 * and Redis) by job, status, text, time and page; bad options exit 2
 * naming the option and the value.
 */
import assert from "node:assert/strict";
import { startRedis } from "./_redis.ts";
import {
  EXAMPLE_JOBS,
  pq,
  producerFor,
  type Run,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

/** Runs `pq tasks <args>` on a store with the example jobs. */
function pqTasks(dataStore: string, ...args: string[]): Promise<Run> {
  return pq(dataStore, "tasks", ...args);
}

interface Page {
  tasks: Array<
    { id: string; name: string; statusString: string; timeQueued: number }
  >;
  next: string | null;
}

/** `pq tasks <args> --json`, parsed. */
async function search(dataStore: string, ...args: string[]): Promise<Page> {
  const run = await pqTasks(dataStore, ...args, "--json");
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** Runs the steps against a server on `dataStore`. */
async function tasksSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
    taskPoolTimeout: 0.05,
  }));
  await server.ready();
  await using api = await producerFor({ dataStore });
  // Oldest first: the search lists them the other way round.
  const ids: Record<string, string> = {};
  ids.one = (await api.tasks.queue("addition", { a: 1, b: 2 })).id;
  ids.answer = (await api.tasks.queue("addition", { a: 30, b: 12 })).id;
  ids.minus = (await api.tasks.queue("subtraction", { a: 10, b: 3 })).id;
  ids.failed = (await api.tasks.queue("testperiodicerror", {
    msg: "Lovelace was here",
  })).id;
  ids.later = (await api.tasks.queue("addition", { a: 7, b: 7 }, {
    callback: false,
    delay: 3600,
  })).id;
  const newestFirst = [ids.later, ids.failed, ids.minus, ids.answer, ids.one];

  await t.step(
    "--json lists every task newest first, without a next page",
    async () => {
      const page = await search(dataStore);
      assert.deepEqual(page.tasks.map((task) => task.id), newestFirst);
      assert.equal(page.next, null);
      assert.deepEqual(
        page.tasks.map((task) => task.statusString),
        ["QUEUED", "FAILURE", "SUCCESS", "SUCCESS", "SUCCESS"],
      );
    },
  );

  await t.step(
    "--job, --status (names in any case, lists) and --search filter",
    async () => {
      const additions = await search(dataStore, "--job", "addition");
      assert.deepEqual(additions.tasks.map((task) => task.id), [
        ids.later,
        ids.answer,
        ids.one,
      ]);
      const failed = await search(dataStore, "--status", "failure");
      assert.deepEqual(failed.tasks.map((task) => task.id), [ids.failed]);
      const some = await search(
        dataStore,
        "--status",
        "Queued,FAILURE",
        "--job",
        "addition",
      );
      assert.deepEqual(some.tasks.map((task) => task.id), [ids.later]);
      const found = await search(dataStore, "--search", "LOVELACE");
      assert.deepEqual(found.tasks.map((task) => task.id), [ids.failed]);
      const inKwargs = await search(dataStore, "--search", '"a":30');
      assert.deepEqual(inKwargs.tasks.map((task) => task.id), [ids.answer]);
      const none = await search(dataStore, "--queue", "nosuchqueue");
      assert.deepEqual(none.tasks, []);
    },
  );

  await t.step(
    "--limit pages, and the table says which --cursor to pass",
    async () => {
      const first = await search(dataStore, "--limit", "2");
      assert.deepEqual(
        first.tasks.map((task) => task.id),
        newestFirst.slice(0, 2),
      );
      assert.ok(first.next);
      const text = await pqTasks(dataStore, "--limit", "2");
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.trimEnd().split("\n");
      assert.match(lines[0], /^ID\s+STATUS\s+JOB\s+QUEUE\s+QUEUED\s+RUN$/);
      assert.match(
        lines[1],
        new RegExp(`^${ids.later}\\s+QUEUED\\s+addition\\s+`),
      );
      assert.match(
        lines[2],
        new RegExp(
          `^${ids.failed}\\s+FAILURE\\s+testperiodicerror\\s+\\S+\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+\\d+\\.\\d{3} s$`,
        ),
      );
      assert.equal(
        lines[3],
        `More tasks: run again with --cursor ${first.next}`,
      );
      const second = await search(
        dataStore,
        "--limit",
        "2",
        "--cursor",
        first.next!,
      );
      assert.deepEqual(
        second.tasks.map((task) => task.id),
        newestFirst.slice(2, 4),
      );
    },
  );

  await t.step(
    "--since and --until take durations ago, ISO times and Unix seconds",
    async () => {
      const recent = await search(dataStore, "--since", "1h");
      assert.equal(recent.tasks.length, 5);
      const old = await search(dataStore, "--until", "1h");
      assert.equal(old.tasks.length, 0);
      const queued = await api.tasks.get(ids.minus);
      const unix = String(queued!.timeQueued);
      assert.deepEqual(
        (await search(dataStore, "--since", unix)).tasks.map((task) => task.id),
        newestFirst.slice(0, 3),
      );
      const iso = new Date(queued!.timeQueued * 1000 + 1).toISOString();
      assert.deepEqual(
        (await search(dataStore, "--until", iso)).tasks.map((task) => task.id),
        newestFirst.slice(2),
      );
    },
  );

  await t.step(
    "bad options exit 2 naming the option and the value",
    async () => {
      const cases: Array<[string[], RegExp]> = [
        [
          ["--status", "done"],
          /Option '--status' must be one or more of SUCCESS, FAILURE, REVOKED, RETRY, STARTED, QUEUED .*got 'done'/,
        ],
        [
          ["--since", "yesterday"],
          /Option '--since' must be an ISO time .*got 'yesterday'/,
        ],
        [["--until", "2024-13-45"], /Option '--until' .*got '2024-13-45'/],
        [
          ["--limit", "0"],
          /Option '--limit' must be a whole number from 1 to 500: got '0'/,
        ],
        [["--cursor", "garbage"], /'cursor' "garbage" is not a cursor/],
        [["--job", ""], /Option '--job' must not be empty/],
      ];
      for (const [args, message] of cases) {
        const run = await pqTasks(dataStore, ...args);
        assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, message);
        assert.match(run.stderr, /Usage: pq tasks /);
      }
    },
  );

  assert.equal((await server.stop()).code, 0, server.stderr());
}

Deno.test("pq tasks searches the tasks of a SQLite store", async (t) => {
  await using dir = await tempDir();
  await tasksSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});

Deno.test({
  name: "pq tasks searches the tasks of a Redis store",
  async fn(t) {
    await using redis = await startRedis();
    await tasksSuite(t, redis.url("pqtasks"));
  },
});
