/**
 * Stopping tasks for good, on a store: a revoke reaches the worker on the
 * `control` channel (not at the next lease renewal), a Web Worker stuck in
 * synchronous code ends with its worker process, and `maxMemory` replaces a
 * worker process.
 */
import assert from "node:assert/strict";
import { FINISHED_STATES, type Task, TaskStatus } from "../mod.ts";
import type { Producer } from "../src/producer/producer.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import { exists, fileExists, jobGone, processExited } from "./_helpers.ts";

const MODE_JOBS = new URL("./fixtures/mode_jobs.ts", import.meta.url).pathname;
const TASK_PATHS = [EXAMPLE_JOBS, MODE_JOBS];
/** Leases renewed every 20 s: a revoke that came with a renewal is late. */
const LEASE = 60;

/** Resolves once the task is running. */
async function started(api: Producer, id: string): Promise<void> {
  const running = Promise.withResolvers<void>();
  const onEvent = (_c: string, _e: string, task: Task) => {
    if (task.status === TaskStatus.STARTED) running.resolve();
  };
  await api.onEvents("task", id, onEvent);
  if ((await api.tasks.get(id))?.status !== TaskStatus.STARTED) {
    await running.promise;
  }
  await api.removeEventCallback("task", id, onEvent);
}

/** Runs the steps against servers on `dataStore`. */
export async function stopSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using dir = await tempDir();
  const server = (extra: Record<string, string | number> = {}) =>
    startServer(serverArgs({
      workers: 1,
      concurrentTasks: 4,
      threadWorkers: 2,
      dataStore,
      taskPaths: TASK_PATHS.join(","),
      taskPoolTimeout: 0.05,
      leaseTimeout: LEASE,
      gracePeriod: 1,
      logLevel: "error",
      ...extra,
    }));
  await using api = await producerFor({ dataStore, taskPaths: TASK_PATHS });

  await t.step(
    "a revoke stops a running task in every mode before any lease renewal",
    async () => {
      await using _server = server();
      const names = [
        "writelater.async",
        "writelater.thread",
        "writelater.process",
      ];
      for (const name of names) {
        const path = `${dir.path}/revoked-${name}`;
        // Far longer than the test: only a stop ends it before it writes.
        const future = api.tasks.queue(name, { path, lag: 30, mark: true });
        await started(api, future.id);
        // Its code runs (the job marks it).
        await fileExists(`${path}.started`);
        const asked = Date.now() / 1000;
        assert.equal(await api.tasks.revoke(future.id), "requested");
        const task = await future;
        assert.equal(task.statusString, "REVOKED", `${task}: ${task.result}`);
        assert.equal(task.result, `Task ${task.id} was revoked`);
        // The first lease renewal comes LEASE / 3 s after the start.
        assert.ok(
          task.timeEnded! - asked < LEASE / 3 - 5,
          `${name} was stopped by the revoke message, not by a renewal`,
        );
      }
      for (const name of names) {
        // Its code is gone (its lock released), and never wrote its file.
        await jobGone(`${dir.path}/revoked-${name}`);
        assert.equal(await exists(`${dir.path}/revoked-${name}`), false, name);
      }
    },
  );

  await t.step(
    "a task revoked as soon as it is queued never runs, however far it got",
    async () => {
      await using _server = server();
      // The server claims first (an idle worker: on Redis the task is
      // claimed for it as it is queued), so the revoke races its start.
      await api.tasks.queue("writelater.async", {
        path: `${dir.path}/warm`,
        lag: 0,
      });
      const names = [
        "writelater.async",
        "writelater.thread",
        "writelater.process",
      ];
      for (const name of names) {
        const path = `${dir.path}/early-${name}`;
        // Resolves once it is in the store, before any worker could run it.
        const queued = await api.tasks.queue(
          name,
          { path, lag: 2, mark: true },
          {
            callback: false,
          },
        );
        const outcome = await api.tasks.revoke(queued.id);
        assert.ok(
          outcome === "revoked" || outcome === "requested",
          `${name}: ${outcome}`,
        );
        let ended: Task | undefined;
        await eventually(
          async () => {
            ended = await api.tasks.get(queued.id);
            return ended !== undefined && FINISHED_STATES.has(ended.status);
          },
          10,
          `${name} ended`,
        );
        assert.equal(ended?.statusString, "REVOKED", `${ended}`);
      }
      // A job that started has gone (its lock released); one that did not
      // is watched for a late start for 0.5 s (jobGone), all at once.
      await Promise.all(
        names.map((name) => jobGone(`${dir.path}/early-${name}`)),
      );
      for (const name of names) {
        assert.equal(await exists(`${dir.path}/early-${name}`), false, name);
      }
    },
  );

  await t.step(
    "a Web Worker stuck in synchronous code ends with its worker process; its other tasks run",
    async () => {
      await using _server = server();
      const path = `${dir.path}/spun`;
      const gate = `${dir.path}/spun-gate`;
      // Far longer than the test: only the end of its process stops it.
      const spin = api.tasks.queue("spinwrite.thread", { path, lag: 30 });
      await started(api, spin.id);
      // Revoked once it spins: earlier, its Web Worker would answer.
      await fileExists(`${path}.spinning`);
      const stuckPid = Number(await Deno.readTextFile(`${path}.spinning`));
      // Running still when the process ends: it waits for its gate, opened
      // once that process has exited.
      const other = api.tasks.queue("gate.pid", { gate });
      await started(api, other.id);
      assert.equal(await api.tasks.revoke(spin.id), "requested");
      const revoked = await spin;
      assert.equal(revoked.statusString, "REVOKED");
      // The stuck job's worker process ends.
      await processExited(stuckPid);
      await Deno.writeTextFile(gate, "");
      // The other task was given back when the process ended, and ran in
      // the process that replaced it.
      const done = await other;
      assert.equal(done.statusString, "SUCCESS", String(done.result));
      assert.notEqual(
        `worker-${done.result}`,
        revoked.worker,
        "it ran in the process that replaced the stuck one",
      );
      // Its process gone, the spinning job never wrote its file.
      assert.equal(await exists(path), false, "the spinning job was stopped");
    },
  );

  await t.step(
    "a worker process over maxMemory is replaced once its tasks are done",
    async () => {
      await using _server = server({ maxMemory: 1 });
      const pids = new Set<unknown>();
      for (let i = 0; i < 3; i++) {
        const task = await api.tasks.queue("workerpid");
        assert.equal(task.statusString, "SUCCESS", String(task.result));
        pids.add(task.result);
      }
      assert.equal(pids.size, 3, "each task ran in a new worker process");
    },
  );
}
