/**
 * Durable steps against real servers on a store: in every execution mode a
 * retried task goes on from its stored step (the first side effect happens
 * once), a worker process SIGKILLed between two steps leaves its task to a
 * live one that does not charge again, and a step name used twice in a run
 * or a result a codec cannot carry fails the task with a clear reason.
 */
import assert from "node:assert/strict";
import {
  eventually,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import { exists } from "./_helpers.ts";

const STEP_JOBS = new URL("./fixtures/durable_step_jobs.ts", import.meta.url)
  .pathname;
const TASK_PATHS = [STEP_JOBS];

/** The lines of a ledger file. */
async function ledger(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean);
}

/** Runs the steps against servers on `dataStore`. */
export async function durableStepsSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using dir = await tempDir();
  await using api = await producerFor({ dataStore, taskPaths: TASK_PATHS });

  await t.step(
    "a retry in every execution mode goes on from its stored step",
    async () => {
      await using server = startServer(serverArgs({
        workers: 1,
        concurrentTasks: 4,
        threadWorkers: 2,
        dataStore,
        taskPaths: TASK_PATHS.join(","),
        taskPoolTimeout: 0.05,
        logLevel: "error",
      }));
      for (const name of ["steps.async", "steps.thread", "steps.process"]) {
        const path = `${dir.path}/${name}.ledger`;
        const task = await api.tasks.queue(name, { path, failOnce: true });
        assert.equal(task.statusString, "SUCCESS", `${name}: ${task.result}`);
        assert.equal(task.retry, 2, `${name} ran twice`);
        // Charged by the first attempt only; the second got its result.
        assert.deepEqual(await ledger(path), ["charge 1", "email"], name);
        const first = await api.tasks.get(task.fromTask!);
        assert.equal(first?.statusString, "RETRY");
        assert.deepEqual(task.result, {
          chargeId: `ch_${first!.id}`,
          attempt: 1,
        });
        assert.deepEqual(task.steps?.map((step) => step.name), [
          "charge",
          "email",
        ]);
        assert.deepEqual(task.steps?.[0], first?.steps?.[0]);
        for (const step of task.steps!) {
          assert.ok(step.timeStarted <= step.timeEnded, JSON.stringify(step));
        }
      }
      assert.equal((await server.stop()).code, 0, server.stderr());
    },
  );

  await t.step(
    "a step name used twice in a run, or a result JSON cannot carry, fails the task saying so",
    async () => {
      await using server = startServer(serverArgs({
        workers: 1,
        dataStore,
        taskPaths: TASK_PATHS.join(","),
        taskPoolTimeout: 0.05,
        logLevel: "error",
      }));
      const twice = await api.tasks.queue("steps.twice");
      assert.equal(twice.statusString, "FAILURE");
      assert.match(
        String(twice.result),
        /Cannot run step 'charge' of task\.steps\.twice<.*> as a step of that name already ran in this run: step names must be unique within a run/,
      );
      assert.deepEqual(twice.steps?.map((step) => step.name), ["charge"]);
      const bigint = await api.tasks.queue("steps.bigint");
      assert.equal(bigint.statusString, "FAILURE");
      assert.match(
        String(bigint.result),
        /Cannot run step 'count' .* as the result of step 'count'\.total is a BigInt/,
      );
      assert.equal(bigint.steps, null);
      assert.equal((await server.stop()).code, 0, server.stderr());
    },
  );

  await t.step(
    "a worker SIGKILLed between two steps: the task runs again elsewhere, charged once, emailed once",
    async () => {
      // One process per server (workers 0): SIGKILL kills the worker.
      const server = () =>
        startServer(serverArgs({
          workers: 0,
          concurrentTasks: 2,
          dataStore,
          taskPaths: TASK_PATHS.join(","),
          taskPoolTimeout: 0.05,
          logLevel: "error",
        }));
      await using one = server();
      await using two = server();
      await eventually(
        async () => (await api.workers()).length === 2,
        20,
        "two live servers",
      );
      const path = `${dir.path}/killed.ledger`;
      const future = api.tasks.queue("steps.async", {
        path,
        waitBetween: true,
      });
      await eventually(
        () => exists(`${path}.between`),
        20,
        "the task charged and waiting",
      );
      const pid = Number(await Deno.readTextFile(`${path}.between`));
      const [doomed, survivor] = one.process.pid === pid
        ? [one, two]
        : [two, one];
      assert.equal(
        doomed.process.pid,
        pid,
        "the task runs on one of the servers",
      );
      doomed.process.kill("SIGKILL");
      await doomed.process.status;
      await Deno.writeTextFile(`${path}.gate`, "");
      const task = await future;
      assert.equal(task.statusString, "SUCCESS", String(task.result));
      assert.deepEqual(await ledger(path), ["charge 1", "email"]);
      assert.deepEqual(task.steps?.map((step) => step.name), [
        "charge",
        "email",
      ]);
      assert.notEqual(task.worker, null);
      assert.equal((await survivor.stop()).code, 0, survivor.stderr());
    },
  );
}
