/**
 * The engine of workflows: queueing a step of a plan (each member a normal
 * task under its own id, `fromTask` set, its `meta.workflow` saying what
 * follows), and going on when a member ends (its continuation, run by the
 * worker before the member's outcome is written).
 *
 * Invariants:
 * - Members are queued with `Store.enqueueUnique` under their deterministic
 *   ids: queueing a step again (a member that ran twice) queues nothing.
 * - A continuation either finishes (the next step queued, or every later
 *   member settled as failed) or throws (the store is away): the worker
 *   then leaves the outcome unwritten, the member runs again, and since
 *   nothing is queued twice the workflow goes on once.
 * - The completion of a group is decided by the store (`Store.joinGroup`),
 *   atomically: the step after it is queued by whichever member completes
 *   it, and again (to no effect) by any member that runs again.
 * - A malformed `meta.workflow` never stops a worker: the continuation logs
 *   why and does nothing; the member's own outcome is written.
 * - Tasks without `meta.workflow` cost one property check.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { TaskNotAvailable } from "../model/errors.ts";
import type { NewTaskOptions } from "../model/queue_options.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import type { Settings } from "../model/settings_types.ts";
import { statusString, TaskStatus } from "../model/status.ts";
import type {
  Finish,
  TaskQueue,
  TaskReads,
  WorkflowState,
} from "../store/store.ts";
import type { Dict, TaskRecord } from "../model/task.ts";
import {
  type GroupJoin,
  isGroupStep,
  type JoinedValue,
  type MemberData,
  memberFailure,
  parseWorkflowMeta,
  type StepData,
  stepMembers,
  type WorkflowMeta,
} from "../model/workflow_meta.ts";

const logger = getLogger(["pq", "workflow"]);

/** What the engine uses of a producer. */
export interface WorkflowEngineHost {
  /** The store (after `start()`). */
  readonly store: TaskQueue & TaskReads & WorkflowState;
  /** The job registry (after `start()`). */
  readonly registry: JobRegistry;
  /** The settings (after `start()`). */
  readonly settings: Settings;
  /** The checked record of a new task (job defaults, schema, options). */
  prepareTask(
    jobName: string,
    kwargs?: Dict,
    options?: NewTaskOptions,
  ): Promise<TaskRecord>;
}

/** The result of the step before, passed on as kwarg `previous`. */
export interface Previous {
  /** The value. */
  value: unknown;
}

/**
 * Queues the first of `steps` (a signature's task, or a task for each
 * member of a group), each task carrying the steps after it; `from` is the
 * task that queues it (its `fromTask`), `previous` the result of the step
 * before, if any. Every record is made (and checked) before any is queued.
 */
export async function queueStep(
  host: WorkflowEngineHost,
  workflowId: string,
  steps: readonly StepData[],
  from: string,
  previous?: Previous,
): Promise<void> {
  const [step, ...next] = steps;
  const members = stepMembers(step);
  // A group that a step follows records each member's end, so that the
  // store decides when all ended; a final group needs none.
  const join = isGroupStep(step) && next.length > 0
    ? { group: step.id, total: members.length }
    : undefined;
  const records = await Promise.all(
    members.map((member, index) =>
      memberRecord(host, {
        workflowId,
        member,
        next,
        from,
        previous,
        join: join && { ...join, index },
      })
    ),
  );
  await Promise.all(records.map((record) => host.store.enqueueUnique(record)));
}

/** The record of a member's task. */
function memberRecord(
  host: WorkflowEngineHost,
  place: {
    workflowId: string;
    member: MemberData;
    next: StepData[];
    from: string;
    previous?: Previous;
    join?: GroupJoin;
  },
): Promise<TaskRecord> {
  const { member, previous } = place;
  const { ignoreFailure, ...options } = member.options;
  const workflow: WorkflowMeta = { id: place.workflowId, next: place.next };
  if (place.join) workflow.join = place.join;
  if (ignoreFailure) workflow.ignoreFailure = true;
  const kwargs = previous
    ? { ...member.kwargs, previous: previous.value ?? null }
    : member.kwargs;
  return host.prepareTask(member.job, kwargs, {
    ...options,
    id: member.id,
    fromTask: place.from,
    metaParams: { ...options.metaParams, workflow },
  });
}

/**
 * The final record of a member that never runs: `status` (FAILURE or
 * REVOKED) with `result`, in its queue, with its kwargs as given.
 */
export function settledRecord(
  host: WorkflowEngineHost,
  member: MemberData,
  ending: {
    workflowId: string;
    status: typeof TaskStatus.FAILURE | typeof TaskStatus.REVOKED;
    result: string;
    from: string;
    cause?: string;
  },
): TaskRecord {
  const { ignoreFailure: _, ...options } = member.options;
  const now = Date.now() / 1000;
  const workflow: WorkflowMeta = { id: ending.workflowId, next: [] };
  if (ending.cause) workflow.cause = ending.cause;
  return {
    id: member.id,
    name: member.job,
    queue: typeof options.queue === "string"
      ? options.queue
      : host.registry.get(member.job)?.defaultQueue ??
        host.settings.defaultTaskQueue,
    status: ending.status,
    timeQueued: now,
    timeEnded: now,
    delay: 0,
    retry: 1,
    kwargs: member.kwargs,
    meta: { ...options.metaParams, workflow },
    fromTask: ending.from,
    result: ending.result,
    runInfo: {},
  };
}

/** Why a workflow stops: the member that ended it, and how. */
interface Cause {
  member: string;
  job?: string;
  status: string;
  error: unknown;
}

/** Settles every member of `steps` as FAILURE, naming the cause. */
async function failSteps(
  host: WorkflowEngineHost,
  workflowId: string,
  steps: readonly StepData[],
  cause: Cause,
  from: string,
): Promise<void> {
  const result = memberFailure(
    workflowId,
    cause.member,
    cause.job,
    cause.status,
    cause.error,
  );
  await Promise.all(
    steps.flatMap(stepMembers).map((member) =>
      host.store.settle(settledRecord(host, member, {
        workflowId,
        status: TaskStatus.FAILURE,
        result,
        from,
        cause: cause.member,
      }))
    ),
  );
}

/** A joined value read back from the store, checked. */
function joined(value: unknown): JoinedValue {
  if (
    typeof value === "object" && value !== null &&
    typeof (value as JoinedValue).ok === "boolean"
  ) return value as JoinedValue;
  return { ok: false, value: `Malformed group record: ${String(value)}` };
}

/** Errors that running again cannot mend: the next step cannot be queued. */
function permanent(error: unknown): boolean {
  return error instanceof TypeError || error instanceof TaskNotAvailable;
}

/** Hooks of the continuation (test fault points). */
export interface ContinuationHooks {
  /** Called right after `joinGroup` answers, with whether it completed. */
  afterJoin?: (complete: boolean) => void;
}

/**
 * The continuation a consumer runs after each task (`afterRun`): undefined
 * at once for a task that is no workflow member, or that is retried; else
 * the promise of going on with its workflow.
 */
export function workflowContinuation(
  host: WorkflowEngineHost,
  hooks: ContinuationHooks = {},
): (finish: Finish) => Promise<void> | undefined {
  return (finish) => {
    if (finish.task.meta.workflow === undefined) return undefined;
    if (finish.retry || !isFinal(finish.task)) return undefined;
    return continueWorkflow(host, finish.task, hooks);
  };
}

function isFinal(task: TaskRecord): boolean {
  return task.status === TaskStatus.SUCCESS ||
    task.status === TaskStatus.FAILURE || task.status === TaskStatus.REVOKED;
}

/**
 * Goes on with the workflows of tasks the store ended by itself (revoked
 * while queued, failed after too many expired leases): no worker's
 * continuation runs for them. Tasks that are not workflow members, or not
 * ended, are passed over. A failure is logged, not thrown: the caller's own
 * work (a revoke, a reclaim) is done.
 */
export async function continueEnded(
  host: WorkflowEngineHost,
  ids: readonly string[],
): Promise<void> {
  for (const id of ids) {
    try {
      const task = await host.store.get(id);
      if (task?.meta.workflow === undefined || !isFinal(task)) continue;
      await continueWorkflow(host, task);
    } catch (error) {
      logger.error(
        "Task {id} ended, but its workflow could not go on: {error}",
        { id, error },
      );
    }
  }
}

/**
 * Goes on with the workflow of a member that ended: records it in its
 * group, then queues the next step, or settles every later member as
 * failed. Throws when the store does (the member then runs again).
 */
export async function continueWorkflow(
  host: WorkflowEngineHost,
  task: TaskRecord,
  hooks: ContinuationHooks = {},
): Promise<void> {
  const parsed = parseWorkflowMeta(task.meta.workflow);
  if (!parsed.ok) {
    logger.error(
      "Task {id} ended, but its workflow goes no further: {reason}",
      { id: task.id, reason: parsed.reason },
    );
    return;
  }
  const workflow = parsed.meta;
  const status = statusString(task.status);
  const ok = task.status === TaskStatus.SUCCESS ||
    workflow.ignoreFailure === true;
  let outcome: { ok: true; value: unknown } | { ok: false; cause: Cause } = ok
    ? { ok: true, value: task.result ?? null }
    : {
      ok: false,
      cause: { member: task.id, job: task.name, status, error: task.result },
    };
  if (workflow.join) {
    const { group, index, total } = workflow.join;
    const value: JoinedValue = {
      ok,
      value: task.result ?? null,
      job: task.name,
      status,
    };
    const list = await host.store.joinGroup(group, index, total, value);
    hooks.afterJoin?.(list !== undefined);
    if (list === undefined) return;
    const values = list.map(joined);
    const failed = values.findIndex((member) => !member.ok);
    outcome = failed < 0 ? { ok: true, value: values.map((v) => v.value) } : {
      ok: false,
      cause: {
        member: `${group}.${failed}`,
        job: values[failed].job,
        status: values[failed].status ?? "FAILURE",
        error: values[failed].value,
      },
    };
  }
  if (workflow.next.length === 0) return;
  if (!outcome.ok) {
    await failSteps(host, workflow.id, workflow.next, outcome.cause, task.id);
    return;
  }
  try {
    await queueStep(host, workflow.id, workflow.next, task.id, {
      value: outcome.value,
    });
  } catch (error) {
    if (!permanent(error)) throw error;
    const first = stepMembers(workflow.next[0])[0];
    logger.error(
      "Workflow {workflow}: cannot queue the step after task {id}; the workflow fails: {error}",
      { workflow: workflow.id, id: task.id, error },
    );
    await failSteps(host, workflow.id, workflow.next, {
      member: first.id,
      job: first.job,
      status: "FAILURE (not queued)",
      error: error instanceof Error ? error.message : String(error),
    }, task.id);
  }
}
