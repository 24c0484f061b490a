/**
 * Workflows through the API with real servers, on SQLite and on Redis:
 * chains pass results on, groups gather them, a chord's callback runs once
 * with the list; a failed member fails what follows it (unless its
 * signature ignores failures); a revoke leaves no member to run; and a
 * chord's last member whose worker is SIGKILLed, while it runs or right
 * after it recorded its group result, runs again and the callback still
 * runs exactly once with the whole list.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { delay } from "./_helpers.ts";
import {
  chain,
  chord,
  group,
  sig,
  TaskNotAvailable,
  TaskStatus,
  WorkflowError,
} from "../mod.ts";
import { Consumer } from "../src/consumer/consumer.ts";
import type { JobBackend } from "../src/runtime/job.ts";
import type { Producer } from "../src/producer/producer.ts";
import { newTaskRecord } from "../src/model/queue_options.ts";
import { JobRegistry } from "../src/runtime/registry.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  runPq,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import { ledgerLines, wfAdd } from "./fixtures/workflow_jobs.ts";

const WORKFLOW_JOBS = new URL("./fixtures/workflow_jobs.ts", import.meta.url)
  .pathname;
const TASK_PATHS = [EXAMPLE_JOBS, WORKFLOW_JOBS];
const QUEUE = "wq";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

type StoreName = "sqlite" | "redis";

/** A new store of the kind, for one test. */
function storeUrl(name: StoreName, dir: string): string {
  return name === "sqlite"
    ? `sqlite:${dir}/pq.sqlite`
    : redis.url(`wf${crypto.randomUUID().slice(0, 8)}`);
}

/**
 * A server on `dataStore`: of one process (SIGKILL kills it whole) unless
 * `settings` say otherwise.
 */
function server(
  dataStore: string,
  env?: Record<string, string>,
  settings: Record<string, string | number> = {},
) {
  return startServer(
    serverArgs({
      workers: 0,
      concurrentTasks: 4,
      dataStore,
      taskPaths: TASK_PATHS.join(","),
      taskQueues: QUEUE,
      defaultTaskQueue: QUEUE,
      taskPoolTimeout: 0.05,
      leaseTimeout: 6,
      ...settings,
    }),
    { env },
  );
}

function producer(dataStore: string): Promise<Producer> {
  return producerFor({
    dataStore,
    taskPaths: TASK_PATHS,
    taskQueues: [QUEUE],
    defaultTaskQueue: QUEUE,
  });
}

/** Resolves with the stored task of `id` once it has `status`. */
async function endsAs(api: Producer, id: string, status: number) {
  await eventually(
    async () => (await api.tasks.get(id))?.status === status,
    20,
    `task ${id} to end ${status}`,
  );
  return (await api.tasks.get(id))!;
}

/** Resolves with the error `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<WorkflowError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WorkflowError, String(error));
    return error;
  }
  throw new Error("expected a rejection");
}

for (const name of ["sqlite", "redis"] as const) {
  Deno.test(`workflows through the API with a server (${name})`, async (t) => {
    await using dir = await tempDir();
    const dataStore = storeUrl(name, dir.path);
    const path = `${dir.path}/runs.ledger`;
    await using _server = server(dataStore);
    await using api = await producer(dataStore);
    await _server.ready();
    /** The ledger lines of one member id. */
    const runsOf = async (id: string) =>
      (await ledgerLines(path)).filter((line) => line.split(" ")[1] === id);

    await t.step(
      "a chain passes each result on; every member is a task with fromTask",
      async () => {
        const wf = await api.workflows.queue(chain(
          sig("wf.add", { a: 1, b: 2, path }),
          sig("wf.add", { b: 3, path }),
          sig("wf.add", { b: 4, path }),
        ));
        assert.deepEqual(wf.ids, [`${wf.id}.0`, `${wf.id}.1`, `${wf.id}.2`]);
        assert.equal(await wf.result, 10);
        const tasks = await Promise.all(wf.ids.map((id) => api.tasks.get(id)));
        assert.deepEqual(
          tasks.map((task) => task?.statusString),
          ["SUCCESS", "SUCCESS", "SUCCESS"],
        );
        assert.deepEqual(
          tasks.map((task) => task?.fromTask),
          [wf.id, wf.ids[0], wf.ids[1]],
        );
        assert.deepEqual(tasks.map((task) => task?.result), [3, 6, 10]);
        assert.deepEqual(tasks[1]?.kwargs, { b: 3, path, previous: 3 });
        assert.equal(
          (tasks[0]?.meta.workflow as { id: string }).id,
          wf.id,
        );
        for (const id of wf.ids) assert.equal((await runsOf(id)).length, 1);
      },
    );

    await t.step(
      "a group's result is the list of its members' results",
      async () => {
        const wf = await api.workflows.queue(group(
          sig("wf.add", { a: 1 }),
          sig("wf.add", { a: 2 }),
          sig("wf.add", { a: 3 }),
        ));
        assert.deepEqual(wf.ids, [0, 1, 2].map((j) => `${wf.id}.0.${j}`));
        assert.deepEqual(await wf.result, [1, 2, 3]);
        for (const id of wf.ids) {
          assert.equal((await api.tasks.get(id))?.fromTask, wf.id);
        }
      },
    );

    await t.step(
      "a chord's callback runs once, with the list in member order",
      async () => {
        const wf = await api.workflows.queue(
          chord([
            sig("wf.add", { a: 1, lag: 0.3 }),
            sig("wf.add", { a: 2 }),
            sig("wf.add", { a: 3, lag: 0.1 }),
          ], sig("wf.sum", { path })),
        );
        assert.equal(await wf.result, 6);
        const callback = await api.tasks.get(`${wf.id}.1`);
        assert.deepEqual(callback?.kwargs, { path, previous: [1, 2, 3] });
        assert.ok(wf.ids.slice(0, 3).includes(callback!.fromTask!));
        assert.deepEqual(await runsOf(`${wf.id}.1`), [
          `sum ${wf.id}.1 [1,2,3]`,
        ]);
      },
    );

    await t.step(
      "a step after a group gets the list; the members of a group after a step get its result",
      async () => {
        const wf = await api.workflows.queue(chain(
          sig("wf.add", { a: 1, b: 1 }),
          group(sig("wf.add", { b: 10 }), sig("wf.add", { b: 20 })),
          sig("wf.sum"),
          group(sig("wf.add", { b: 1 }), sig("wf.echo")),
        ));
        const result = await wf.result as [number, { previous: number }];
        assert.equal(result[0], 35);
        assert.deepEqual(result[1], { previous: 34 });
        assert.deepEqual(
          (await api.tasks.get(`${wf.id}.2`))?.kwargs,
          { previous: [12, 22] },
        );
      },
    );

    await t.step(
      "a failed member fails the chain: later members end FAILURE unrun, result rejects",
      async () => {
        const wf = await api.workflows.queue(chain(
          sig("wf.add", { a: 1, path }),
          sig("wf.fail", { message: "bad input", path }),
          sig("wf.add", { b: 1, path }),
          sig("wf.add", { b: 2, path }),
        ));
        const error = await rejection(wf.result);
        assert.equal(error.member, `${wf.id}.1`);
        assert.equal(error.workflow, wf.id);
        assert.match(error.message, /member \S+\.1 \(wf\.fail\)/);
        assert.match(error.message, /bad input/);
        for (const id of wf.ids.slice(2)) {
          const task = await endsAs(api, id, TaskStatus.FAILURE);
          assert.equal(
            task.result,
            `Workflow ${wf.id} failed: member ${wf.id}.1 (wf.fail) ended FAILURE: bad input`,
          );
          assert.equal(task.fromTask, `${wf.id}.1`);
          assert.deepEqual(await runsOf(id), []);
        }
      },
    );

    await t.step(
      "a failed member fails the chord: the callback ends FAILURE with its error, unrun",
      async () => {
        const wf = await api.workflows.queue(chord([
          sig("wf.add", { a: 1 }),
          sig("wf.fail", { message: "member broke" }),
          sig("wf.add", { a: 3, lag: 0.3 }),
        ], sig("wf.sum", { path })));
        const error = await rejection(wf.result);
        assert.equal(error.member, `${wf.id}.0.1`);
        const callback = await endsAs(api, `${wf.id}.1`, TaskStatus.FAILURE);
        assert.match(String(callback.result), /member broke/);
        assert.match(String(callback.result), new RegExp(`${wf.id}\\.0\\.1`));
        // All members ended before the callback was decided.
        assert.equal(
          (await api.tasks.get(`${wf.id}.0.2`))?.status,
          TaskStatus.SUCCESS,
        );
        assert.deepEqual(await runsOf(`${wf.id}.1`), []);
      },
    );

    await t.step(
      "ignoreFailure lets the workflow go on, with the error as result",
      async () => {
        const wf = await api.workflows.queue(chain(
          sig("wf.fail", { message: "ignored" }, { ignoreFailure: true }),
          sig("wf.echo"),
        ));
        assert.deepEqual(await wf.result, { previous: "ignored" });
        const members = chord([
          sig("wf.add", { a: 1 }),
          sig("wf.fail", { message: "also ignored" }, { ignoreFailure: true }),
        ], sig("wf.echo"));
        const second = await api.workflows.queue(members);
        assert.deepEqual(await second.result, {
          previous: [1, "also ignored"],
        });
      },
    );

    await t.step(
      "a member that is retried goes on from its last attempt",
      async () => {
        const wf = await api.workflows.queue(chain(
          sig("wf.flaky", { a: 5 }, {
            metaParams: { maxRetries: 2, retryDelay: 0 },
          }),
          sig("wf.add", { b: 1 }),
        ));
        assert.equal(await wf.result, 6);
        const first = await api.tasks.get(wf.ids[0]);
        assert.equal(first?.statusString, "RETRY");
        const next = await api.tasks.get(wf.ids[1]);
        assert.equal(next?.fromTask, first?.meta.nextTask);
        const failing = await api.workflows.queue(chain(
          sig("wf.fail", { message: "always" }, {
            metaParams: { maxRetries: 2, retryDelay: 0 },
          }),
          sig("wf.add", { b: 1, path }),
        ));
        const error = await rejection(failing.result);
        assert.match(error.message, /always/);
        const later = await endsAs(api, failing.ids[1], TaskStatus.FAILURE);
        assert.match(String(later.result), /always/);
        assert.deepEqual(await runsOf(failing.ids[1]), []);
      },
    );

    await t.step(
      "revoking a workflow stops the running member and no later member runs",
      async () => {
        const wf = await api.workflows.queue(chain(
          sig("wf.add", { a: 1, lag: 10, path }),
          sig("wf.add", { b: 1, path }),
          sig("wf.add", { b: 1, path }),
        ));
        await endsAs(api, wf.ids[0], TaskStatus.STARTED);
        const result = rejection(wf.result);
        assert.deepEqual(await wf.revoke(), {
          [wf.ids[0]]: "requested",
          [wf.ids[1]]: "revoked",
          [wf.ids[2]]: "revoked",
        });
        const error = await result;
        assert.equal(error.status, TaskStatus.REVOKED);
        for (const id of wf.ids) await endsAs(api, id, TaskStatus.REVOKED);
        assert.equal(
          (await api.tasks.get(wf.ids[2]))?.result,
          `Workflow ${wf.id} was revoked before member ${wf.ids[2]} was queued`,
        );
        // A revoked member never runs (0.3 s watched: no event for a run
        // that does not come).
        await delay(300);
        for (const id of wf.ids.slice(1)) {
          assert.deepEqual(await runsOf(id), []);
        }
      },
    );

    await t.step(
      "a member revoked alone while queued fails the rest of its workflow",
      async () => {
        const parked = `parked-${crypto.randomUUID().slice(0, 8)}`;
        const wf = await api.workflows.queue(chain(
          sig("wf.add", { a: 1 }, { queue: parked }),
          sig("wf.add", { b: 1, path }),
        ));
        const result = rejection(wf.result);
        assert.equal(await api.tasks.revoke(wf.ids[0]), "revoked");
        const later = await endsAs(api, wf.ids[1], TaskStatus.FAILURE);
        assert.equal(
          later.result,
          `Workflow ${wf.id} failed: member ${
            wf.ids[0]
          } (wf.add) ended REVOKED: ${
            (await api.tasks.get(wf.ids[0]))?.result
          }`,
        );
        assert.equal((await result).member, wf.ids[0]);
        assert.deepEqual(await runsOf(wf.ids[1]), []);
      },
    );

    await t.step(
      "revoking a workflow revokes its queued members; the callback never runs",
      async () => {
        // Members wait in a queue no worker consumes.
        const parked = `parked-${crypto.randomUUID().slice(0, 8)}`;
        const wf = await api.workflows.queue(chord([
          sig("wf.add", { a: 1 }, { queue: parked }),
          sig("wf.add", { a: 2 }, { queue: parked }),
        ], sig("wf.sum", { path })));
        for (const id of wf.ids.slice(0, 2)) {
          assert.equal((await api.tasks.get(id))?.status, TaskStatus.QUEUED);
        }
        assert.equal(await api.tasks.get(wf.ids[2]), undefined);
        assert.deepEqual(await wf.revoke(), {
          [wf.ids[0]]: "revoked",
          [wf.ids[1]]: "revoked",
          [wf.ids[2]]: "revoked",
        });
        await rejection(wf.result);
        for (const id of wf.ids) {
          assert.equal((await api.tasks.get(id))?.status, TaskStatus.REVOKED);
        }
        assert.deepEqual(await queueSizes(api.store, [parked]), [0]);
        assert.deepEqual(await runsOf(wf.ids[2]), []);
      },
    );

    await t.step(
      "a workflow of a caller's id queued twice runs once",
      async () => {
        const id = `nightly-${crypto.randomUUID().slice(0, 8)}`;
        const plan = chain(
          sig("wf.add", { a: 5, path }),
          sig("wf.add", { b: 1, path }),
        );
        const first = await api.workflows.queue(plan, { id });
        const again = await api.workflows.queue(plan, { id });
        assert.deepEqual(again.ids, [`${id}.0`, `${id}.1`]);
        assert.equal(await first.result, 6);
        assert.equal(await again.result, 6);
        for (const member of first.ids) {
          assert.equal((await runsOf(member)).length, 1);
        }
      },
    );

    await t.step(
      "a malformed meta.workflow ends its workflow there; the task's own result is recorded",
      async () => {
        const task = await api.tasks.queue("wf.add", { a: 7 }, {
          metaParams: { workflow: { id: "w", next: "junk" } },
        });
        assert.equal(task.statusString, "SUCCESS");
        assert.equal(task.result, 7);
        // The worker goes on.
        assert.equal(
          await (await api.workflows.queue(sig("wf.add"))).result,
          0,
        );
      },
    );

    await t.step(
      "a workflow read back by its id, in another producer and with pq workflow: members, result, revoke",
      async () => {
        await using other = await producer(dataStore);
        const pqWorkflow = (...args: string[]) =>
          runPq(["workflow", ...args, "--data-store", dataStore]);
        // A first group a step follows, a first signature, a final group.
        const plans = [
          chord(
            [sig("wf.add", { a: 1 }), sig("wf.add", { a: 2 })],
            sig("wf.sum"),
          ),
          chain(
            sig("wf.add", { a: 1 }),
            group(sig("wf.add"), sig("wf.add", { b: 5 })),
          ),
          group(
            sig("wf.add", { a: 1 }),
            sig("wf.add", { a: 2 }),
            sig("wf.add", { a: 3 }),
          ),
        ];
        for (const plan of plans) {
          const wf = await api.workflows.queue(plan);
          const read = await other.workflows.get(wf.id);
          assert.ok(read);
          assert.deepEqual(read.members, wf.members);
          assert.deepEqual(await read.result, await wf.result);
        }
        const wf = await api.workflows.queue(
          chord(
            [sig("wf.add", { a: 1 }), sig("wf.add", { a: 2 })],
            sig("wf.sum"),
          ),
        );
        assert.deepEqual(wf.members, [
          { id: `${wf.id}.0.0`, job: "wf.add", step: 0 },
          { id: `${wf.id}.0.1`, job: "wf.add", step: 0 },
          { id: `${wf.id}.1`, job: "wf.sum", step: 1 },
        ]);
        assert.equal(await wf.result, 3);
        const shown = await pqWorkflow(wf.id);
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(
          shown.stdout,
          new RegExp(`^Workflow<${wf.id}>: 3 members: 3 SUCCESS\n`),
        );
        assert.match(
          shown.stdout,
          new RegExp(`^1 +${wf.id}\.1 +wf\.sum +SUCCESS +3$`, "m"),
        );
        const json = await pqWorkflow(wf.id, "--json");
        assert.equal(json.code, 0, json.stderr);
        assert.deepEqual(
          JSON.parse(json.stdout).members.map((m: { result: unknown }) =>
            m.result
          ),
          [1, 2, 3],
        );

        // One running, one not queued: pq workflow shows, then revokes.
        const slow = await api.workflows.queue(chain(
          sig("wf.add", { a: 1, lag: 10, path }),
          sig("wf.add", { b: 1, path }),
        ));
        await endsAs(api, slow.ids[0], TaskStatus.STARTED);
        const pending = await pqWorkflow(slow.id);
        assert.match(pending.stdout, /: 2 members: 1 STARTED, 1 not queued\n/);
        const revoked = await pqWorkflow(slow.id, "--revoke", "--json");
        assert.equal(revoked.code, 0, revoked.stderr);
        assert.deepEqual(JSON.parse(revoked.stdout).outcomes, {
          [slow.ids[0]]: "requested",
          [slow.ids[1]]: "revoked",
        });
        await rejection(slow.result);
        for (const id of slow.ids) await endsAs(api, id, TaskStatus.REVOKED);
        assert.deepEqual(await runsOf(slow.ids[1]), []);
      },
    );

    await t.step(
      "an unknown workflow id is none (pq workflow exits 1), a bad one refused (exit 2), a malformed member named",
      async () => {
        const unknown = `none-${crypto.randomUUID().slice(0, 8)}`;
        assert.equal(await api.workflows.get(unknown), undefined);
        const missing = await runPq([
          "workflow",
          unknown,
          "--data-store",
          dataStore,
        ]);
        assert.equal(missing.code, 1, missing.stderr);
        assert.match(
          missing.stderr,
          new RegExp(`No workflow with id '${unknown}'`),
        );
        await assert.rejects(
          api.workflows.get("a b"),
          new TypeError(
            `Cannot get workflow as 'id' must be a task id (1 to 128 characters of [A-Za-z0-9_.:-], not '.' or '..'): got "a b"`,
          ),
        );
        const bad = await runPq(["workflow", "a b", "--data-store", dataStore]);
        assert.equal(bad.code, 2, bad.stderr);
        // A task W.0 of no workflow makes no workflow W.
        const plain = `plain-${crypto.randomUUID().slice(0, 8)}`;
        await api.tasks.queue("wf.add", {}, { id: `${plain}.0` });
        assert.equal(await api.workflows.get(plain), undefined);
        // A member of a malformed meta.workflow is named.
        const broken = `broken-${crypto.randomUUID().slice(0, 8)}`;
        await api.tasks.queue("wf.add", {}, {
          id: `${broken}.0`,
          metaParams: { workflow: { id: broken, next: "junk" } },
        });
        await assert.rejects(
          api.workflows.get(broken),
          new Error(
            `Cannot read workflow ${broken} from task ${broken}.0: Malformed meta.workflow: 'next' must be a list`,
          ),
        );
      },
    );

    await t.step(
      "bad options and unknown jobs are refused; nothing is queued",
      async () => {
        await assert.rejects(
          api.workflows.queue(sig("wf.add"), { id: "a b" }),
          new TypeError(
            `Cannot queue workflow as 'id' must be a task id (1 to 128 characters of [A-Za-z0-9_.:-], not '.' or '..'): got "a b"`,
          ),
        );
        await assert.rejects(
          api.workflows.queue(sig("wf.add"), { ids: "x" } as unknown as {
            id: string;
          }),
          /Unknown option 'ids' of workflows.queue \(did you mean 'id'\?\)/,
        );
        const id = `unknown-${crypto.randomUUID().slice(0, 8)}`;
        await assert.rejects(
          api.workflows.queue(chain(sig("wf.add"), sig("wf.ad")), { id }),
          (error: Error) =>
            error instanceof TaskNotAvailable &&
            error.message ===
              "Task wf.ad is not registered (did you mean 'wf.add'?)",
        );
        assert.equal(await api.tasks.get(`${id}.0`), undefined);
        await assert.rejects(
          api.workflows.queue(
            { kind: "chord" } as unknown as ReturnType<typeof chord>,
          ),
          new TypeError("Invalid chord: expected a group, got undefined"),
        );
      },
    );
  });

  Deno.test(
    `a chord's last member whose worker is SIGKILLed while it runs runs again; the callback runs once (${name})`,
    async () => {
      await using dir = await tempDir();
      const dataStore = storeUrl(name, dir.path);
      const path = `${dir.path}/runs.ledger`;
      await using api = await producer(dataStore);
      const doomed = server(dataStore);
      await doomed.ready();
      // The last member runs until the gate opens, once its worker is dead.
      const gate = `${dir.path}/gate`;
      const wf = await api.workflows.queue(chord([
        sig("wf.add", { a: 1, path }),
        sig("wf.add", { a: 2, path }),
        sig("wf.add", { a: 3, gate, path }),
      ], sig("wf.sum", { path })));
      const last = `${wf.id}.0.2`;
      await endsAs(api, `${wf.id}.0.0`, TaskStatus.SUCCESS);
      await endsAs(api, `${wf.id}.0.1`, TaskStatus.SUCCESS);
      await endsAs(api, last, TaskStatus.STARTED);
      doomed.process.kill("SIGKILL");
      await doomed.stop();
      await Deno.writeTextFile(gate, "");
      assert.equal(await api.tasks.get(`${wf.id}.1`), undefined);
      await using survivor = server(dataStore);
      assert.equal(await wf.result, 6);
      const lines = await ledgerLines(path);
      assert.equal(lines.filter((line) => line === `run ${last}`).length, 2);
      assert.deepEqual(
        lines.filter((line) => line.startsWith("sum ")),
        [`sum ${wf.id}.1 [1,2,3]`],
      );
      // No more runs (0.5 s watched: no event for a run that does not come).
      await delay(500);
      assert.equal((await ledgerLines(path)).length, lines.length);
      assert.equal((await survivor.stop()).code, 0, survivor.stderr());
    },
  );

  Deno.test(
    `a chord's last member whose worker is SIGKILLed after it recorded its group result runs again; the callback runs once (${name})`,
    async () => {
      await using dir = await tempDir();
      const dataStore = storeUrl(name, dir.path);
      const path = `${dir.path}/runs.ledger`;
      await using api = await producer(dataStore);
      // Kills itself once the group is complete, before anything follows.
      const doomed = server(dataStore, { PQ_FAULT: "after-join" });
      await doomed.ready();
      const wf = await api.workflows.queue(chord([
        sig("wf.add", { a: 1, path }),
        sig("wf.add", { a: 2, lag: 0.3, path }),
        sig("wf.add", { a: 3, lag: 1, path }),
      ], sig("wf.sum", { path })));
      const status = await doomed.process.status;
      assert.equal(status.signal, "SIGKILL");
      await doomed.stop();
      // The group was complete, yet nothing followed it, and the outcome of
      // the member that completed it (the slowest, normally) is unwritten.
      assert.equal(await api.tasks.get(`${wf.id}.1`), undefined);
      const members = wf.ids.slice(0, 3);
      const unrecorded: string[] = [];
      for (const id of members) {
        const task = await api.tasks.get(id);
        if (task?.status === TaskStatus.STARTED) unrecorded.push(id);
      }
      assert.ok(unrecorded.length > 0, "a member ended unrecorded");
      // Every member had recorded itself: asked again (a member's first
      // value stays), the store answers with the whole group.
      const group = await api.store.joinGroup(`${wf.id}.0`, 0, 3, null);
      assert.deepEqual(
        group?.map((member) => (member as { value: unknown }).value),
        [1, 2, 3],
      );
      await using survivor = server(dataStore);
      assert.equal(await wf.result, 6);
      const lines = await ledgerLines(path);
      for (const id of unrecorded) {
        assert.equal(lines.filter((line) => line === `run ${id}`).length, 2);
      }
      assert.deepEqual(
        lines.filter((line) => line.startsWith("sum ")),
        [`sum ${wf.id}.1 [1,2,3]`],
      );
      const callback = await api.tasks.get(`${wf.id}.1`);
      assert.ok(unrecorded.includes(callback!.fromTask!));
      // No more runs (0.5 s watched: no event for a run that does not come).
      await delay(500);
      assert.equal((await ledgerLines(path)).length, lines.length);
      assert.equal((await survivor.stop()).code, 0, survivor.stderr());
    },
  );
}

Deno.test("a continuation that fails (the store away) leaves the outcome unwritten: the task runs again", async () => {
  await using dir = await tempDir();
  const store = await SqliteStore.open(`${dir.path}/pq.sqlite`, {
    serializer: "json",
    resultTtl: 60,
  });
  const registry = new JobRegistry();
  registry.add(wfAdd);
  const seen: number[] = [];
  const consumer = new Consumer({
    store,
    registry,
    backend: {} as JobBackend,
    queues: [QUEUE],
    worker: "w1",
    node: "h1",
    concurrentTasks: 1,
    maxRequests: 0,
    leaseTimeout: 1,
    maxRedeliveries: 5,
    taskPoolTimeout: 0.05,
    afterRun: (finish) => {
      seen.push(finish.task.status);
      // The first run's continuation cannot reach the store.
      return seen.length === 1
        ? Promise.reject(new Error("store away"))
        : undefined;
    },
  });
  const record = newTaskRecord("wf.add", { a: 4 }, { queue: QUEUE }, {}, QUEUE);
  await store.enqueue([record]);
  const running = consumer.start();
  await eventually(() => seen.length === 1, 10, "the first run");
  // Its outcome unwritten (0.1 s watched: no event for a write that does
  // not come).
  await delay(100);
  assert.equal((await store.get(record.id))?.status, TaskStatus.STARTED);
  await eventually(
    async () => (await store.get(record.id))?.status === TaskStatus.SUCCESS,
    10,
    "the run after the lease expired",
  );
  assert.deepEqual(seen, [TaskStatus.SUCCESS, TaskStatus.SUCCESS]);
  assert.equal((await store.get(record.id))?.result, 4);
  await consumer.stop(1);
  await running;
  await store.close();
});

for (const name of ["sqlite", "redis"] as const) {
  Deno.test(`a member failed by a worker's reclaim (too many expired leases) fails the rest of its workflow (${name})`, async () => {
    await using dir = await tempDir();
    const dataStore = storeUrl(name, dir.path);
    const path = `${dir.path}/runs.ledger`;
    await using api = await producer(dataStore);
    const wf = await api.workflows.queue(chain(
      sig("wf.add", { a: 1 }),
      sig("wf.add", { b: 1, path }),
    ));
    // Taken by a worker that dies at once: its lease ends in 0.2 s.
    const [claim] = await api.store.claim({
      queues: [QUEUE],
      max: 1,
      worker: "dead-worker",
      node: "nowhere",
      leaseSeconds: 0.2,
    });
    assert.equal(claim.id, wf.ids[0]);
    await delay(300);
    await using live = server(dataStore, undefined, {
      concurrentTasks: 1,
      leaseTimeout: 30,
      maxRedeliveries: 0,
    });
    await live.ready();
    const failed = await endsAs(api, wf.ids[0], TaskStatus.FAILURE);
    const later = await endsAs(api, wf.ids[1], TaskStatus.FAILURE);
    assert.equal(
      later.result,
      `Workflow ${wf.id} failed: member ${
        wf.ids[0]
      } (wf.add) ended FAILURE: ${failed.result}`,
    );
    assert.deepEqual(await ledgerLines(path), []);
  });
}

for (const name of ["sqlite", "redis"] as const) {
  Deno.test(`a member of a killed worker process that the arbiter fails (too many expired leases) fails the rest of its workflow (${name})`, async () => {
    await using dir = await tempDir();
    const dataStore = storeUrl(name, dir.path);
    const path = `${dir.path}/runs.ledger`;
    await using api = await producer(dataStore);
    await using live = server(dataStore, undefined, {
      workers: 1,
      concurrentTasks: 1,
      leaseTimeout: 30,
      maxRedeliveries: 0,
    });
    await live.ready();
    const wf = await api.workflows.queue(chain(
      sig("wf.add", { a: 1, lag: 30, path }),
      sig("wf.add", { b: 1, path }),
    ));
    const running = await endsAs(api, wf.ids[0], TaskStatus.STARTED);
    // Its worker process dies; the arbiter gives its task back, and fails
    // it (no redelivery allowed).
    const pid = Number(running.worker!.slice("worker-".length));
    Deno.kill(pid, "SIGKILL");
    const failed = await endsAs(api, wf.ids[0], TaskStatus.FAILURE);
    const later = await endsAs(api, wf.ids[1], TaskStatus.FAILURE);
    assert.equal(
      later.result,
      `Workflow ${wf.id} failed: member ${
        wf.ids[0]
      } (wf.add) ended FAILURE: ${failed.result}`,
    );
    assert.deepEqual(
      (await ledgerLines(path)).filter((line) => line.includes(wf.ids[1])),
      [],
    );
  });
}
