/**
 * `api.workflows`: queue a plan (`chain`, `group`, `chord`, or one `sig`)
 * with one call, and follow it with a {@linkcode Workflow} handle: its
 * member ids, its result, its revoke.
 *
 * Invariants: every argument is checked, and every job of the plan is
 * found (in this process or in a live worker's advert), before anything
 * is queued; a workflow of a caller's `id` queued twice queues once (its
 * members' ids are deterministic); a revoke leaves no member to run, even
 * one its workflow queues meanwhile.
 * @module
 */
import { checkKnownKeys, didYouMean } from "../model/_did_you_mean.ts";
import { describeValue, TaskNotAvailable } from "../model/errors.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import { statusString, TaskStatus } from "../model/status.ts";
import type { RevokeOutcome } from "../store/store.ts";
import { isTaskId, newTaskId, type Task, TASK_ID_RULE } from "../model/task.ts";
import { WorkflowError, type WorkflowPlan } from "../model/workflow.ts";
import {
  isGroupStep,
  type MemberData,
  memberFailure,
  planSteps,
  revokedMember,
  type StepData,
  stepMembers,
} from "../model/workflow_meta.ts";
import {
  queueStep,
  settledRecord,
  type WorkflowEngineHost,
} from "./workflow_continuation.ts";
import { storedSteps } from "./workflow_lookup.ts";

/** What `api.workflows` uses of its producer. */
export interface WorkflowsHost extends WorkflowEngineHost {
  /** Opens the producer; idempotent. */
  start(): Promise<unknown>;
  /** True once the producer is closing. */
  closing(): boolean;
  /** Resolves when the task of `id` is done (its last attempt). */
  waitFor(id: string): Promise<Task>;
  /** The live workers (their adverts name the jobs they run). */
  workers(): Promise<WorkerStatus[]>;
}

/**
 * Options of `api.workflows.queue`.
 *
 * @example
 * ```ts
 * import type { WorkflowQueueOptions } from "@pq/queue";
 * const once: WorkflowQueueOptions = { id: "nightly-2024-07-01" };
 * ```
 */
export interface WorkflowQueueOptions {
  /**
   * The workflow's id `W` (a task id, short enough for its members' ids
   * `W.i.j`), instead of a new one: queueing a workflow of the same id
   * again queues nothing while its members are stored.
   */
  id?: string;
  /**
   * The task that queues the workflow: the `fromTask` of its first
   * members (else the workflow's id).
   */
  fromTask?: string;
}

/**
 * Workflows of the producer API (`api.workflows`): a chain, a group or a
 * chord queued with one call, each member a normal task.
 *
 * @example
 * ```ts
 * import { chain, PulsarQueue, sig } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const wf = await api.workflows.queue(
 *   chain(sig("addition", { a: 4, b: 6 }), sig("addition", { b: 1 })),
 * );
 * console.log(wf.ids, await wf.result);
 * ```
 */
export class Workflows {
  readonly #producer: WorkflowsHost;

  /** Made by the producer. */
  constructor(producer: WorkflowsHost) {
    this.#producer = producer;
  }

  /**
   * Queues the first step of a plan (its first task, or each member of its
   * first group); each member queues the step after it when it ends. A bad
   * plan or option rejects with a `TypeError` naming it and its value; a
   * job no process has rejects with `TaskNotAvailable`; nothing is queued
   * then.
   *
   * @param plan A `sig`, `group`, `chain` or `chord`.
   * @param options The workflow's id, and the task that queues it.
   * @returns The handle, once the first step is queued.
   *
   * @example
   * ```ts
   * import { chord, PulsarQueue, sig } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const wf = await api.workflows.queue(
   *   chord([sig("addition", { a: 1 }), sig("addition", { a: 2 })], sig("sum")),
   *   { id: "sums-2024-07-01" },
   * );
   * console.log(wf.ids); // ["sums-2024-07-01.0.0", "sums-2024-07-01.0.1", "sums-2024-07-01.1"]
   * ```
   */
  async queue(
    plan: WorkflowPlan,
    options: WorkflowQueueOptions = {},
  ): Promise<Workflow> {
    const producer = this.#producer;
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot queue workflow as 'options' must be an object: got ${
          describeValue(options)
        }`,
      );
    }
    checkKnownKeys(options, ["id", "fromTask"], "workflows.queue");
    for (const key of ["id", "fromTask"] as const) {
      if (options[key] !== undefined) checkId("queue", key, options[key]);
    }
    const id = options.id ?? newTaskId();
    const steps = planSteps(plan, id);
    if (producer.closing()) {
      throw new Error("Cannot queue workflow as the producer is closing");
    }
    await producer.start();
    await this.#checkJobs(steps.slice(1));
    await queueStep(producer, id, steps, options.fromTask ?? id);
    return new Workflow(producer, id, steps);
  }

  /**
   * The handle of a workflow queued before, in this process or any other,
   * by its id: to wait for its result, see its members or revoke it. Its
   * steps are read from its first step's tasks (their `meta.workflow`).
   *
   * @param id The workflow's id (`Workflow.id`, or the `id` it was queued
   * with).
   * @returns The handle, or undefined when no member of its first step is
   * stored (an id no workflow has, or one dropped after `resultTtl`).
   * Rejects with a `TypeError` for an id that is not a task id, and with an
   * `Error` naming the task when a first step's member is malformed.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const wf = await api.workflows.get("sums-2024-07-01");
   * if (wf) console.log(wf.ids, await wf.result);
   * ```
   */
  async get(id: string): Promise<Workflow | undefined> {
    checkId("get", "id", id);
    await this.#producer.start();
    const store = this.#producer.store;
    const steps = await storedSteps((task) => store.get(task), id);
    return steps && new Workflow(this.#producer, id, steps);
  }

  /**
   * Throws `TaskNotAvailable` for the first job of `steps` that neither
   * this process nor a live worker has (the first step's jobs are checked
   * as they are queued).
   */
  async #checkJobs(steps: readonly StepData[]): Promise<void> {
    const { registry } = this.#producer;
    const missing = steps.flatMap(stepMembers).map((member) => member.job)
      .filter((job) => !registry.get(job));
    if (missing.length === 0) return;
    const advertised = new Set(
      (await this.#producer.workers()).flatMap((worker) =>
        worker.jobs.map((job) => job.name)
      ),
    );
    const unknown = missing.find((job) => !advertised.has(job));
    if (unknown === undefined) return;
    throw new TaskNotAvailable(unknown, {
      hint: didYouMean(unknown, [...registry.names(), ...advertised]),
    });
  }
}

/**
 * A member of a workflow, in plan order.
 *
 * @example
 * ```ts
 * import type { WorkflowMember } from "@pq/queue";
 * const member: WorkflowMember = { id: "report.1", job: "total", step: 1 };
 * ```
 */
export interface WorkflowMember {
  /** Its task id: `W.i`, or `W.i.j` in a group. */
  readonly id: string;
  /** Its job's name. */
  readonly job: string;
  /** The index of its step in the workflow's chain. */
  readonly step: number;
}

/**
 * A queued workflow: its id, its members' task ids, its result, its revoke.
 * Made by `api.workflows.queue` and `api.workflows.get`.
 *
 * @example
 * ```ts
 * import { group, PulsarQueue, sig } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const wf = await api.workflows.queue(
 *   group(sig("addition", { a: 1 }), sig("addition", { a: 2 })),
 * );
 * for (const id of wf.ids) console.log(String(await api.tasks.get(id)));
 * ```
 */
export class Workflow {
  /** The workflow's id `W`. */
  readonly id: string;
  /**
   * The task id of every member, in plan order: `W.i` for a signature at
   * step `i`, `W.i.j` for member `j` of a group. A member not queued yet
   * has no task (`tasks.get` gives undefined).
   */
  readonly ids: readonly string[];
  /** Every member's id, job and step, in plan order (as `ids`). */
  readonly members: readonly WorkflowMember[];
  readonly #producer: WorkflowsHost;
  readonly #steps: readonly StepData[];
  #result?: Promise<unknown>;

  /** Made by `api.workflows.queue` and `api.workflows.get`. */
  constructor(
    producer: WorkflowsHost,
    id: string,
    steps: readonly StepData[],
  ) {
    this.#producer = producer;
    this.id = id;
    this.#steps = steps;
    this.members = Object.freeze(
      steps.flatMap((step, i) =>
        stepMembers(step).map((m) =>
          Object.freeze({ id: m.id, job: m.job, step: i })
        )
      ),
    );
    this.ids = Object.freeze(this.members.map((member) => member.id));
  }

  /**
   * The workflow's result: the last step's (a signature's result, or the
   * list of a final group's results, in member order). Rejects with a
   * {@linkcode WorkflowError} naming the member as soon as one fails
   * (without `ignoreFailure`) or is revoked; and, as every wait of the
   * producer, when the producer closes first. Waits from its first use.
   *
   * @example
   * ```ts
   * import { chain, PulsarQueue, sig } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const wf = await api.workflows.queue(chain(sig("addition", { a: 1 })));
   * console.log(await wf.result); // 1
   * ```
   */
  get result(): Promise<unknown> {
    return this.#result ??= this.#watch();
  }

  #watch(): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const waits = new Map<string, Promise<Task>>();
    for (const member of this.#steps.flatMap(stepMembers)) {
      const done = this.#producer.waitFor(member.id);
      waits.set(member.id, done);
      done.then((task) => {
        if (!memberOk(task, member)) reject(this.#error(task, member));
      }, reject);
    }
    const last = this.#steps[this.#steps.length - 1];
    Promise.all(stepMembers(last).map((member) => waits.get(member.id)!))
      .then((tasks) => {
        const values = tasks.map((task) => task.result);
        // A rejection came first when a member did not end well.
        resolve(isGroupStep(last) ? values : values[0]);
      }, () => undefined);
    return promise;
  }

  /** The error of a member that did not end well. */
  #error(task: Task, member: MemberData): WorkflowError {
    const cause = task.meta.workflow as { cause?: unknown } | undefined;
    // A member that never ran says why already (the member that failed).
    const message = typeof cause?.cause === "string" &&
        typeof task.result === "string"
      ? task.result
      : memberFailure(
        this.id,
        member.id,
        member.job,
        statusString(task.status),
        task.result,
      );
    return new WorkflowError(message, {
      workflow: this.id,
      member: typeof cause?.cause === "string" ? cause.cause : member.id,
      status: task.status === TaskStatus.REVOKED
        ? TaskStatus.REVOKED
        : TaskStatus.FAILURE,
    });
  }

  /**
   * Revokes every member: a queued one never runs, a running one is
   * stopped, and one not queued yet is stored REVOKED, so that it never
   * will be (the last steps first, so that nothing is queued meanwhile).
   * The workflow's result then rejects.
   *
   * @returns What happened to each member, by id: `revoked` (queued, or
   * not yet), `requested` (running: its worker stops it), `finished`.
   *
   * @example
   * ```ts
   * import { chain, PulsarQueue, sig } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const wf = await api.workflows.queue(
   *   chain(sig("asynchronous", { lag: 5 }), sig("addition")),
   * );
   * console.log(await wf.revoke()); // { "<id>.0": "requested", "<id>.1": "revoked" }
   * ```
   */
  async revoke(): Promise<Record<string, RevokeOutcome>> {
    await this.#producer.start();
    const outcomes = new Map<string, RevokeOutcome>();
    for (const step of [...this.#steps].reverse()) {
      const members = stepMembers(step);
      const done = await Promise.all(members.map((m) => this.#revoke(m)));
      members.forEach((member, i) => outcomes.set(member.id, done[i]));
    }
    return Object.fromEntries(this.ids.map((id) => [id, outcomes.get(id)!]));
  }

  /** Revokes one member; one with no task yet is stored REVOKED. */
  async #revoke(member: MemberData): Promise<RevokeOutcome> {
    const { store } = this.#producer;
    for (let attempt = 1;; attempt++) {
      const outcome = await store.revoke(member.id);
      if (outcome !== "unknown" || attempt > 3) return outcome;
      const settled = await store.settle(settledRecord(this.#producer, member, {
        workflowId: this.id,
        status: TaskStatus.REVOKED,
        result: revokedMember(this.id, member.id),
        from: this.id,
      }));
      // Else it was queued meanwhile: revoke that task.
      if (settled) return "revoked";
    }
  }

  /** `Workflow<id>`. */
  toString(): string {
    return `Workflow<${this.id}>`;
  }
}

/** Throws a TypeError unless `value`, the option `key` of `what`, is a task id. */
function checkId(what: string, key: string, value: unknown): void {
  if (isTaskId(value)) return;
  throw new TypeError(
    `Cannot ${what} workflow as '${key}' must be a task id (${TASK_ID_RULE}): got ${
      describeValue(value)
    }`,
  );
}

/** True when a member's end lets its workflow go on. */
function memberOk(task: Task, member: MemberData): boolean {
  if (task.status === TaskStatus.SUCCESS) return true;
  return task.status === TaskStatus.FAILURE &&
    member.options.ignoreFailure === true;
}
