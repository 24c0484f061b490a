/**
 * The execution modes against a real server on a store: THREAD_IO in Web
 * Workers, CPUBOUND in subprocesses, stopping, sandboxes, locks, shell and
 * the built-in jobs (pulsar-queue's test_thread_io, test_cpubound_task,
 * test_big_log, test_lock, test_execute_python_*, in pq).
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
import { exists, jobGone } from "./_helpers.ts";

const MODE_JOBS = new URL("./fixtures/mode_jobs.ts", import.meta.url).pathname;
const BUILTIN_JOBS = new URL("../src/jobs/mod.ts", import.meta.url).pathname;
const TASK_PATHS = [EXAMPLE_JOBS, MODE_JOBS, BUILTIN_JOBS];

/** Runs the steps against a server on `dataStore`. */
export async function modesSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using dir = await tempDir();
  await using server = startServer(serverArgs({
    workers: 1,
    concurrentTasks: 12,
    threadWorkers: 3,
    dataStore,
    taskPaths: TASK_PATHS.join(","),
    taskPoolTimeout: 0.05,
    // Leases renewed every second: a revoke reaches a running job fast.
    leaseTimeout: 3,
    logLevel: "error",
  }));
  await using api = await producerFor({ dataStore, taskPaths: TASK_PATHS });

  await t.step("THREAD_IO runs in a Web Worker", async () => {
    const input = `${dir.path}/randomtext.txt`;
    await Deno.writeTextFile(input, "Lorem ipsum dolor sit amet");
    const task = await api.tasks.queue("read.text", { input });
    assert.equal(task.statusString, "SUCCESS", String(task.result));
    const result = task.result as { thread: string; text: string };
    assert.match(result.thread, /^pq-thread-\d+$/);
    assert.equal(result.text, "Lorem ipsum dolor sit amet");
  });

  await t.step(
    "CPUBOUND runs in a subprocess; errors keep their stack; 1 MB of logs does not block",
    async () => {
      const [ok, failed, bigLog] = await Promise.all([
        api.tasks.queue("cpubound"),
        api.tasks.queue("cpubound", { error: true }),
        api.tasks.queue("cpuboundbiglog"),
      ]);
      assert.equal(ok.statusString, "SUCCESS", String(ok.result));
      assert.deepEqual(ok.result, ["OK", 2]);
      assert.equal(failed.statusString, "FAILURE");
      assert.equal(failed.result, "just a test");
      assert.equal(failed.exception, "TestError: just a test");
      assert.ok(
        failed.stacktrace?.some((line) =>
          line.includes("examples/jobs/modes.ts")
        ),
        `the stack comes from the job: ${failed.stacktrace}`,
      );
      assert.equal(bigLog.statusString, "SUCCESS", String(bigLog.result));
      assert.equal(bigLog.result, 1024);
    },
  );

  await t.step(
    "jobs in a Web Worker or a subprocess queue tasks and record runInfo",
    async () => {
      for (const name of ["queuefrom.thread", "queuefrom.process"]) {
        const task = await api.tasks.queue(name);
        assert.equal(task.statusString, "SUCCESS", String(task.result));
        const result = task.result as { result: number; fromTask: string };
        assert.equal(result.result, 3);
        assert.equal(result.fromTask, task.id);
        assert.equal(typeof task.runInfo.ranIn, "string", name);
      }
      const thread = await api.tasks.queue("queuefrom.thread");
      assert.match(String(thread.runInfo.ranIn), /^pq-thread-\d+$/);
      const child = await api.tasks.queue("queuefrom.process");
      assert.notEqual(
        (child.result as { pid: number }).pid,
        server.process.pid,
        "another process",
      );
    },
  );

  await t.step(
    "a crashed Web Worker fails its task and is replaced",
    async () => {
      const crashed = await api.tasks.queue("crash.thread");
      assert.equal(crashed.statusString, "FAILURE");
      assert.match(
        String(crashed.result),
        /Web Worker crashed: .*thrown from a timer/,
      );
      const input = `${dir.path}/after-crash.txt`;
      await Deno.writeTextFile(input, "still here");
      const after = await api.tasks.queue("read.text", { input });
      assert.equal(after.statusString, "SUCCESS");
    },
  );

  await t.step(
    "a result that cannot leave a Web Worker fails its task",
    async () => {
      const task = await api.tasks.queue("badresult.thread");
      assert.equal(task.statusString, "FAILURE");
      assert.match(String(task.result), /Cannot send the result.*cloned/);
    },
  );

  await t.step(
    "a timeout stops the task in every mode: its file is never written",
    async () => {
      // Far longer than the test: only a stop ends them before they write.
      const runs = [
        ["writelater.async", 30],
        ["writelater.thread", 30],
        ["writelater.process", 30],
        // Deaf to SIGTERM: stopped by SIGKILL after the grace period.
        ["spinwrite.process", 30],
      ] as const;
      const tasks = await Promise.all(
        runs.map(([name, lag]) =>
          api.tasks.queue(name, {
            path: `${dir.path}/${name}`,
            lag,
            mark: true,
          }, {
            timeout: 1,
          })
        ),
      );
      for (const task of tasks) {
        assert.equal(task.statusString, "REVOKED", `${task}: ${task.result}`);
        assert.match(String(task.result), /Timed out/);
      }
      // Their code is gone (the jobs' locks released): none wrote its file.
      await Promise.all(runs.map(([name]) => jobGone(`${dir.path}/${name}`)));
      for (const [name] of runs) {
        assert.equal(await exists(`${dir.path}/${name}`), false, name);
      }
    },
  );

  await t.step(
    "revoke stops a running task in a Web Worker and in a subprocess",
    async () => {
      const names = ["writelater.thread", "writelater.process"];
      // Far longer than the test: only a stop ends them before they write.
      const futures = names.map((name) =>
        api.tasks.queue(name, {
          path: `${dir.path}/revoked-${name}`,
          lag: 30,
          mark: true,
        })
      );
      for (const future of futures) {
        const running = Promise.withResolvers<void>();
        await api.onEvents("task", future.id, (_c, _e, task) => {
          if (task.status === TaskStatus.STARTED) running.resolve();
        });
        if ((await api.tasks.get(future.id))?.status !== TaskStatus.STARTED) {
          await running.promise;
        }
        assert.equal(await api.tasks.revoke(future.id), "requested");
      }
      for (const task of await Promise.all(futures)) {
        assert.equal(task.statusString, "REVOKED", `${task}: ${task.result}`);
      }
      // Their code is gone (the jobs' locks released): none wrote its file.
      await Promise.all(
        names.map((name) => jobGone(`${dir.path}/revoked-${name}`)),
      );
      for (const name of names) {
        assert.equal(await exists(`${dir.path}/revoked-${name}`), false, name);
      }
    },
  );

  await t.step(
    "a sandboxed CPUBOUND job is denied what it was not given",
    async () => {
      const denied = await api.tasks.queue("sandboxed.none", {
        path: `${dir.path}/randomtext.txt`,
      });
      assert.equal(denied.statusString, "FAILURE");
      assert.match(String(denied.result), /Requires read access to/);
      assert.match(String(denied.exception), /^NotCapable/);
      const allowed = await api.tasks.queue("sandboxed.env", {
        names: ["PQ_SANDBOX_PROBE"],
      });
      assert.equal(allowed.statusString, "SUCCESS", String(allowed.result));
      const other = await api.tasks.queue("sandboxed.env", { names: ["PATH"] });
      assert.equal(other.statusString, "FAILURE");
      assert.match(String(other.result), /Requires env access to "PATH"/);
    },
  );

  await t.step("three tasks holding the job's lock never overlap", async () => {
    for (const name of ["notoverlap", "notoverlap.thread"]) {
      const tasks = await Promise.all(
        [0, 1, 2].map(() => api.tasks.queue(name, { lag: 0.2 })),
      );
      const runs = tasks.map((task) => {
        assert.equal(task.statusString, "SUCCESS", String(task.result));
        return task.result as { start: number; end: number };
      }).sort((a, b) => a.start - b.start);
      for (let i = 1; i < runs.length; i++) {
        assert.ok(runs[i - 1].end <= runs[i].start, `${name} runs overlap`);
      }
    }
  });

  await t.step(
    "ctx.shell returns stdout and fails with the exit code and the command's stderr",
    async () => {
      const upper = await api.tasks.queue("shell.run", {
        command: "tr a-z A-Z",
        input: "hello",
      });
      assert.equal(upper.result, "HELLO");
      const failed = await api.tasks.queue("shell.run", {
        command: "echo oops >&2; exit 3",
      });
      assert.equal(failed.statusString, "FAILURE");
      const error = "Command exited with code 3: echo oops >&2; exit 3\n" +
        "stderr: oops";
      assert.equal(failed.result, error);
      assert.equal(failed.exception, `ShellError: ${error}`);
    },
  );

  await t.step(
    "the built-in jobs run code and scripts and return stdout",
    async () => {
      const code = await api.tasks.queue("execute.deno", {
        code: 'console.log("Hello World!")',
      });
      assert.equal(code.result, "Hello World!\n");
      const script = `${dir.path}/executable.ts`;
      await Deno.writeTextFile(
        script,
        "Deno.stdout.writeSync(new TextEncoder().encode(Deno.execPath()))",
      );
      const ran = await api.tasks.queue("execute.deno.script", {
        script,
        allow: ["read"],
      });
      assert.equal(ran.statusString, "SUCCESS", String(ran.result));
      assert.equal(ran.result, Deno.execPath());
    },
  );
}
