/**
 * A queued workflow read back from the store by its id, so that any
 * process can follow or revoke it: its steps are those its first step's
 * tasks carry.
 *
 * Invariants: nothing is written; a task `W.0` (or `W.0.0`) that is not a
 * member of workflow `W` makes no workflow `W`; one whose `meta.workflow`
 * is malformed is not read as one (an error names the task and the reason).
 * @module
 */
import { isDict, type TaskRecord } from "../model/task.ts";
import {
  type MemberData,
  parseWorkflowMeta,
  type StepData,
  type WorkflowMeta,
} from "../model/workflow_meta.ts";

/** Reads a stored task by its id. */
export type GetTask = (id: string) => Promise<TaskRecord | undefined>;

/**
 * The steps of workflow `id` as its first step's tasks carry them (the
 * first step's members, then their `meta.workflow.next`), or undefined
 * when no member of its first step is stored: an id no workflow has (a task
 * `id.0` of no workflow included), or one whose tasks were dropped after
 * their retention.
 *
 * A first group's size is its members' `join.total` when a step follows
 * it; a final group is read up to its first member not stored.
 *
 * @throws {Error} for a first step's task of a malformed `meta.workflow`,
 * naming it and the reason.
 */
export async function storedSteps(
  get: GetTask,
  id: string,
): Promise<StepData[] | undefined> {
  const single = await get(`${id}.0`);
  if (single && isMember(single, id)) {
    const meta = memberMeta(single, id);
    return [storedMember(single, meta), ...meta.next];
  }
  const first = await get(`${id}.0.0`);
  if (!first || !isMember(first, id)) return undefined;
  const firstMeta = memberMeta(first, id);
  const members = [storedMember(first, firstMeta)];
  const total = firstMeta.join?.total ?? Infinity;
  for (let j = 1; j < total; j++) {
    const task = await get(`${id}.0.${j}`);
    if (!task || !isMember(task, id)) {
      if (total === Infinity) break;
      throw new Error(
        `Cannot read workflow ${id}: member ${id}.0.${j} of its first group of ${total} is not stored (dropped after its retention, or never queued)`,
      );
    }
    members.push(storedMember(task, memberMeta(task, id)));
  }
  return [{ id: `${id}.0`, members }, ...firstMeta.next];
}

/** True when the task says it is a member of workflow `id`. */
function isMember(task: TaskRecord, id: string): boolean {
  const workflow = task.meta.workflow;
  return isDict(workflow) && workflow.id === id;
}

/** A first step's task's checked `meta.workflow`. */
function memberMeta(task: TaskRecord, id: string): WorkflowMeta {
  const parsed = parseWorkflowMeta(task.meta.workflow);
  if (!parsed.ok) {
    throw new Error(
      `Cannot read workflow ${id} from task ${task.id}: ${parsed.reason}`,
    );
  }
  return parsed.meta;
}

/**
 * A first step's member as its task stores it. Of its signature's options
 * only `ignoreFailure` matters once it is queued (the rest are in the
 * task).
 */
function storedMember(task: TaskRecord, meta: WorkflowMeta): MemberData {
  return {
    id: task.id,
    job: task.name,
    kwargs: task.kwargs,
    options: meta.ignoreFailure ? { ignoreFailure: true } : {},
  };
}
