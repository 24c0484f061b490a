/**
 * The workflow model: the builders (`sig`, `chain`, `group`, `chord`), the
 * messages of what they refuse, the members' ids, and the check of a
 * `meta.workflow` read back from a store.
 */
import assert from "node:assert/strict";
import {
  chain,
  chord,
  group,
  sig,
  type Signature,
  TaskError,
  TaskStatus,
  WorkflowError,
  type WorkflowPlan,
} from "../mod.ts";
import { storedSteps } from "../src/producer/workflow_lookup.ts";
import type { TaskRecord } from "../src/model/task.ts";
import { toChain } from "../src/model/workflow.ts";
import {
  memberFailure,
  parseWorkflowMeta,
  planSteps,
  workflowMemberIds,
} from "../src/model/workflow_meta.ts";

Deno.test("sig keeps the job, kwargs and options, as plain data", () => {
  const step = sig("addition", { a: 1 }, { queue: "fast", delay: 2 });
  assert.deepEqual(step, {
    kind: "signature",
    job: "addition",
    kwargs: { a: 1 },
    options: { queue: "fast", delay: 2 },
  });
  assert.deepEqual(sig("addition"), {
    kind: "signature",
    job: "addition",
    kwargs: {},
    options: {},
  });
  assert.ok(Object.isFrozen(step));
  // JSON and back: the same plan.
  assert.deepEqual(JSON.parse(JSON.stringify(step)), step);
});

Deno.test("sig refuses a bad job name, kwargs or option, naming it and its value", () => {
  const cases: Array<[() => unknown, string]> = [
    [
      () => sig(42 as unknown as string),
      "Invalid sig: 'job' must be a job name (a non-empty string): got 42",
    ],
    [
      () => sig(""),
      "Invalid sig: 'job' must be a job name (a non-empty string): got \"\"",
    ],
    [
      () => sig("add", [1, 2] as unknown as Record<string, unknown>),
      `Invalid sig("add"): 'kwargs' must be a plain object: got [1,2]`,
    ],
    [
      () => sig("add", new Date(0) as unknown as Record<string, unknown>),
      `Invalid sig("add"): 'kwargs' must be a plain object: got "1970-01-01T00:00:00.000Z"`,
    ],
    [
      () => sig("add", {}, { delay: -1 }),
      `Invalid sig("add"): 'delay' must be a non-negative number: got -1`,
    ],
    [
      () => sig("add", {}, { priority: 1.5 }),
      `Invalid sig("add"): 'priority' must be an integer from -1000 to 1000: got 1.5`,
    ],
    [
      () => sig("add", {}, { queue: false }),
      `Invalid sig("add"): 'queue' must be a queue name or true (a workflow's members are queued): got false`,
    ],
    [
      () => sig("add", {}, { ignoreFailure: "yes" as unknown as boolean }),
      `Invalid sig("add"): 'ignoreFailure' must be a boolean: got "yes"`,
    ],
  ];
  for (const [build, message] of cases) {
    assert.throws(build, new TypeError(message));
  }
});

Deno.test("sig refuses unknown options, and those a member cannot have", () => {
  assert.throws(
    () => sig("add", {}, { delya: 5 } as Record<string, unknown>),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.startsWith(
        `Unknown option 'delya' of sig("add") (did you mean 'delay'?); known options: `,
      ) && error.message.includes("ignoreFailure"),
  );
  for (const key of ["id", "dedupe", "callback"]) {
    assert.throws(
      () => sig("add", {}, { [key]: "x" } as Record<string, unknown>),
      (error: Error) =>
        error instanceof TypeError &&
        error.message.startsWith(`Unknown option '${key}' of sig("add")`),
      key,
    );
  }
});

Deno.test("group, chain and chord refuse what is empty or not a plan", () => {
  assert.throws(
    () => chord([], sig("sum")),
    new TypeError("Invalid chord: expected at least one member, got 0 members"),
  );
  assert.throws(
    () => chord(group(sig("a")), undefined as unknown as Signature),
    new TypeError("Invalid chord: 'callback' must be a sig(): got undefined"),
  );
  assert.throws(
    () => chord([sig("a"), group(sig("b")) as unknown as Signature], sig("s")),
    new TypeError("Invalid chord: member 1 must be a sig(): got a group"),
  );
  assert.throws(
    () => group(),
    new TypeError("Invalid group: expected at least one member, got 0 members"),
  );
  assert.throws(
    () => group(chain(sig("a")) as unknown as Signature),
    new TypeError("Invalid group: member 0 must be a sig(): got a chain"),
  );
  assert.throws(
    () => chain(),
    new TypeError("Invalid chain: expected at least one step, got 0 steps"),
  );
  assert.throws(
    () => chain(sig("a"), "b" as unknown as Signature),
    new TypeError(
      'Invalid chain: step 1 must be a sig, group, chain or chord: got "b"',
    ),
  );
  assert.throws(
    () => toChain({ kind: "nope" } as unknown as WorkflowPlan),
    new TypeError(
      "Invalid workflow: expected a sig, group, chain or chord, got a nope",
    ),
  );
  // Plain data made by hand is checked as a builder's.
  assert.throws(
    () =>
      toChain({
        kind: "chain",
        steps: [{ kind: "signature", job: "a", kwargs: {}, options: { x: 1 } }],
      } as unknown as WorkflowPlan),
    /^TypeError: Unknown option 'x' of sig\("a"\)/,
  );
});

Deno.test("a chord is the chain [group, callback], and chains splice chains and chords in", () => {
  const members = [sig("a"), sig("b")];
  const made = chord(members, sig("sum"));
  assert.deepEqual(made.group, group(...members));
  assert.deepEqual(toChain(made).steps, [group(...members), sig("sum")]);
  assert.deepEqual(chord(group(...members), sig("sum")), made);
  const long = chain(sig("x"), made, chain(sig("y"), sig("z")));
  assert.deepEqual(long.steps, [
    sig("x"),
    group(...members),
    sig("sum"),
    sig("y"),
    sig("z"),
  ]);
  assert.deepEqual(toChain(sig("x")).steps, [sig("x")]);
  assert.deepEqual(toChain(group(sig("x"))).steps, [group(sig("x"))]);
});

Deno.test("member ids: W.i for a signature at step i, W.i.j for member j of a group", () => {
  const plan = chain(
    sig("a"),
    group(sig("b"), sig("c")),
    sig("d"),
    chord([sig("e")], sig("f")),
  );
  assert.deepEqual(workflowMemberIds(plan, "W"), [
    "W.0",
    "W.1.0",
    "W.1.1",
    "W.2",
    "W.3.0",
    "W.4",
  ]);
  assert.deepEqual(workflowMemberIds(sig("a"), "W"), ["W.0"]);
  assert.deepEqual(workflowMemberIds(group(sig("a"), sig("b")), "W"), [
    "W.0.0",
    "W.0.1",
  ]);
  assert.deepEqual(workflowMemberIds(chord([sig("a")], sig("b")), "W"), [
    "W.0.0",
    "W.1",
  ]);
  // Deterministic: the same plan and id give the same ids.
  assert.deepEqual(
    planSteps(plan, "abc"),
    planSteps(chain(...toChain(plan).steps), "abc"),
  );
  const steps = planSteps(chain(sig("a", { k: 1 }), group(sig("b"))), "W");
  assert.deepEqual(steps, [
    { id: "W.0", job: "a", kwargs: { k: 1 }, options: {} },
    {
      id: "W.1",
      members: [{ id: "W.1.0", job: "b", kwargs: {}, options: {} }],
    },
  ]);
});

Deno.test("a workflow id too long for its members' ids is refused, naming it", () => {
  const id = "w".repeat(126);
  assert.throws(
    () => planSteps(group(sig("a")), id),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.startsWith(
        "Cannot queue workflow as 'id' makes member ids that are not task ids",
      ) && error.message.includes(`${id}.0.0`),
  );
  assert.equal(planSteps(sig("a"), "w".repeat(126))[0].id.length, 128);
});

Deno.test("meta.workflow read back is checked, naming the field", () => {
  const good = {
    id: "W",
    next: [
      { id: "W.1", job: "b", kwargs: {}, options: {} },
      {
        id: "W.2",
        members: [{ id: "W.2.0", job: "c", kwargs: {}, options: {} }],
      },
    ],
    join: { group: "W.0", index: 1, total: 2 },
    ignoreFailure: true,
  };
  assert.deepEqual(parseWorkflowMeta(good), { ok: true, meta: good });
  const bad: Array<[unknown, string]> = [
    [null, "it must be an object"],
    [{ ...good, extra: 1 }, "unknown field 'extra'"],
    [{ ...good, id: "a b" }, "'id' must be a task id"],
    [{ ...good, next: {} }, "'next' must be a list"],
    [
      { ...good, next: [{ id: "W.1", job: "", kwargs: {}, options: {} }] },
      "next[0].job must be a job name",
    ],
    [
      { ...good, next: [{ id: "W.1", members: [] }] },
      "next[0].members must be a list of at least one member",
    ],
    [
      {
        ...good,
        next: [{ id: "W.1", members: [{ id: "W.1.0", job: "c", kwargs: 1 }] }],
      },
      "next[0].members[0].kwargs must be an object",
    ],
    [
      { ...good, join: { group: "W.0", index: 2, total: 2 } },
      "'join' must be { group, index, total } with 0 <= index < total",
    ],
    [
      { ...good, ignoreFailure: false },
      "'ignoreFailure' must be true or absent",
    ],
  ];
  for (const [value, reason] of bad) {
    assert.deepEqual(parseWorkflowMeta(value), {
      ok: false,
      reason: `Malformed meta.workflow: ${reason}`,
    });
  }
});

Deno.test("a workflow's failure names the member, its job, how it ended and its error", () => {
  assert.equal(
    memberFailure("W", "W.1", "wf.fail", "FAILURE", "boom"),
    "Workflow W failed: member W.1 (wf.fail) ended FAILURE: boom",
  );
  assert.equal(
    memberFailure("W", "W.0.2", undefined, "REVOKED", { code: 1 }),
    'Workflow W failed: member W.0.2 ended REVOKED: {"code":1}',
  );
  const error = new WorkflowError("x", { workflow: "W", member: "W.1" });
  assert.ok(error instanceof TaskError);
  assert.equal(error.name, "WorkflowError");
  assert.equal(error.status, TaskStatus.FAILURE);
  assert.equal(error.member, "W.1");
  assert.equal(error.workflow, "W");
});

Deno.test("a workflow's steps are read back from its first step's tasks", async () => {
  const tasks = new Map<string, TaskRecord>();
  const get = (id: string) => Promise.resolve(tasks.get(id));
  const store = (id: string, workflow?: unknown) =>
    tasks.set(id, {
      id,
      name: "add",
      queue: "q",
      status: TaskStatus.SUCCESS,
      timeQueued: 0,
      delay: 0,
      retry: 1,
      kwargs: { a: 1 },
      meta: workflow === undefined ? {} : { workflow },
      runInfo: {},
    });
  const callback = { id: "W.1", job: "sum", kwargs: {}, options: {} };
  const member = (j: number) => ({
    id: `W.0.${j}`,
    job: "add",
    kwargs: { a: 1 },
    options: {},
  });
  // A chord: the group's size is its members' join.total.
  for (const j of [0, 1]) {
    store(`W.0.${j}`, {
      id: "W",
      next: [callback],
      join: { group: "W.0", index: j, total: 2 },
    });
  }
  assert.deepEqual(await storedSteps(get, "W"), [
    { id: "W.0", members: [member(0), member(1)] },
    callback,
  ]);
  tasks.delete("W.0.1");
  await assert.rejects(
    storedSteps(get, "W"),
    new Error(
      "Cannot read workflow W: member W.0.1 of its first group of 2 is not stored (dropped after its retention, or never queued)",
    ),
  );
  // A final group: read up to its first member not stored.
  tasks.clear();
  for (const j of [0, 1, 2]) store(`W.0.${j}`, { id: "W", next: [] });
  assert.deepEqual(await storedSteps(get, "W"), [
    { id: "W.0", members: [member(0), member(1), member(2)] },
  ]);
  // A first signature with ignoreFailure, then the steps it carries.
  tasks.clear();
  store("W.0", { id: "W", next: [callback], ignoreFailure: true });
  assert.deepEqual(await storedSteps(get, "W"), [
    {
      id: "W.0",
      job: "add",
      kwargs: { a: 1 },
      options: { ignoreFailure: true },
    },
    callback,
  ]);
  // Tasks of no workflow W, or of another, make no workflow W.
  tasks.clear();
  store("W.0");
  store("V.0.0", { id: "other", next: [] });
  assert.equal(await storedSteps(get, "W"), undefined);
  assert.equal(await storedSteps(get, "V"), undefined);
  assert.equal(await storedSteps(get, "none"), undefined);
});
