/**
 * Durable steps at the store (`saveStep`): a running task's finished step
 * is added to its stored record under its lease, announced, refused without
 * the lease, kept when the task is given back or redelivered, and carried
 * by the record a claim hands out. On SQLite, Redis and a Redis Cluster.
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../src/model/status.ts";
import type { TaskStep } from "../src/model/task_step.ts";
import {
  claimRequest,
  featureStores,
  queuedRecord,
  storeTests,
} from "./_contract_stores.ts";
import { waitFor } from "./_helpers.ts";

const { stores } = await featureStores();
const storeTest = storeTests("durable steps", stores, 60);

const CLAIM = claimRequest();

function step(name: string, result?: unknown, at = 1_700_000_000): TaskStep {
  const made: TaskStep = { name, timeStarted: at, timeEnded: at + 1 };
  if (result !== undefined) made.result = result;
  return made;
}

storeTest(
  "a step is stored in the running task's record under its lease, and announced",
  async ({ clock, store }) => {
    const events: Array<{ event: string; steps: unknown }> = [];
    const unsubscribe = await store.subscribe("task", (message) => {
      const data = message.data as { steps?: unknown } | undefined;
      events.push({ event: message.event, steps: data?.steps });
    });
    const task = queuedRecord(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(CLAIM);
    assert.equal(claim.id, task.id);
    const charge = step("charge", { chargeId: "ch_1", cents: 1250 });
    assert.equal(await store.saveStep(claim, charge), true);
    assert.equal(await store.saveStep(claim, step("email")), true);
    const stored = await store.get(task.id);
    assert.equal(stored?.status, TaskStatus.STARTED);
    assert.deepEqual(stored?.steps, [charge, step("email")]);
    // Announced with the record as it now reads, last step included.
    await waitFor(() =>
      events.some((e) =>
        e.event === "progress" && Array.isArray(e.steps) && e.steps.length === 2
      )
    );
    await unsubscribe();
    const announced = events.filter((e) => e.event === "progress");
    assert.deepEqual(announced.map((e) => e.steps), [[charge], [
      charge,
      step("email"),
    ]]);
  },
);

storeTest(
  "a step of a name already stored replaces it: a record holds a name once",
  async ({ clock, store }) => {
    await store.enqueue([queuedRecord(clock)]);
    const [claim] = await store.claim(CLAIM);
    await store.saveStep(claim, step("charge", 1));
    await store.saveStep(claim, step("charge", 2));
    assert.deepEqual((await store.get(claim.id))?.steps, [step("charge", 2)]);
  },
);

storeTest(
  "without the lease nothing is written: a stale token, an unknown id, a finished task",
  async ({ clock, store }) => {
    const task = queuedRecord(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(CLAIM);
    assert.equal(
      await store.saveStep(
        { id: task.id, token: `${claim.token}x` },
        step("a"),
      ),
      false,
    );
    assert.equal(
      await store.saveStep({ id: "nope", token: claim.token }, step("a")),
      false,
    );
    assert.equal((await store.get(task.id))?.steps ?? null, null);
    const [finished] = await store.finish([{
      ...claim,
      task: { ...claim.task!, status: TaskStatus.SUCCESS, timeEnded: clock.t },
    }]);
    assert.equal(finished, true);
    assert.equal(await store.saveStep(claim, step("late")), false);
    assert.equal((await store.get(task.id))?.steps ?? null, null);
  },
);

storeTest(
  "a task given back, or whose lease expired, keeps its steps for the next claim",
  async ({ clock, store }) => {
    const task = queuedRecord(clock);
    await store.enqueue([task]);
    const [first] = await store.claim(CLAIM);
    await store.saveStep(first, step("charge", "ch_1"));
    await store.release([first]);
    const [second] = await store.claim(CLAIM);
    assert.equal(second.id, task.id);
    assert.deepEqual(second.task?.steps, [step("charge", "ch_1")]);
    await store.saveStep(second, step("email"));
    // The worker dies: its lease ends, and the task is queued again.
    clock.advance(31);
    await store.reclaim(5, ["default"]);
    const [third] = await store.claim(CLAIM);
    assert.equal(third.id, task.id);
    assert.deepEqual(third.task?.steps, [
      step("charge", "ch_1"),
      step("email"),
    ]);
  },
);

storeTest(
  "a retry record queued by finish keeps the steps it carries",
  async ({ clock, store }) => {
    const task = queuedRecord(clock);
    await store.enqueue([task]);
    const [claim] = await store.claim(CLAIM);
    const steps = [step("charge", { id: "ch_1" })];
    const retry = queuedRecord(clock, { retry: 2, fromTask: task.id, steps });
    const [written] = await store.finish([{
      ...claim,
      task: {
        ...claim.task!,
        status: TaskStatus.RETRY,
        steps,
        timeEnded: clock.t,
      },
      retry,
    }]);
    assert.equal(written, true);
    const [next] = await store.claim(CLAIM);
    assert.equal(next.id, retry.id);
    assert.deepEqual(next.task?.steps, steps);
  },
);

storeTest(
  "a record whose steps are malformed is claimed as malformed, naming the field: its worker ends it",
  async ({ clock, store }) => {
    const task = queuedRecord(clock, {
      steps: [{ name: "charge" }] as unknown as TaskStep[],
    });
    await store.enqueue([task]);
    const [claim] = await store.claim(CLAIM);
    assert.equal(claim.id, task.id);
    assert.equal(claim.task, undefined);
    assert.match(
      claim.malformed ?? "",
      /^Malformed task record: field 'steps' must be a list of steps/,
    );
  },
);
