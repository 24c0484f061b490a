/**
 * A queued workflow as plain data: its steps with their members' task ids
 * (from the plan and the workflow id), the `meta.workflow` each member
 * carries so that its worker can go on with the plan when it ends, and the
 * results of members a workflow ended without running them.
 *
 * Invariants:
 * - Member ids are a function of the workflow id `W` and their place in the
 *   top chain: step `i` is `W.i` for a signature, `W.i.j` for member `j` of
 *   a group. Queueing a member twice (a worker that died and ran again)
 *   therefore queues it once.
 * - A `meta.workflow` read back from a store is checked
 *   ({@linkcode parseWorkflowMeta}) before anything is done with it.
 * @module
 */
import { describeValue } from "./errors.ts";
import { type Dict, isDict, isTaskId, TASK_ID_RULE } from "./task.ts";
import {
  type Signature,
  type SignatureOptions,
  toChain,
  type WorkflowPlan,
} from "./workflow.ts";

/** A member of a queued plan, as plain data: a signature and its task id. */
export interface MemberData {
  /** The task id (`W.i` or `W.i.j`). */
  id: string;
  /** The job's name. */
  job: string;
  /** The job's arguments, as given (without `previous`). */
  kwargs: Dict;
  /** The signature's options. */
  options: SignatureOptions;
}

/** A group step of a queued plan, as plain data. */
export interface GroupData {
  /** The group's id (`W.i`): its members are `W.i.0`, `W.i.1`... */
  id: string;
  /** The members. */
  members: MemberData[];
}

/** A step of a queued plan, as plain data. */
export type StepData = MemberData | GroupData;

/** True when the step is a group. */
export function isGroupStep(step: StepData): step is GroupData {
  return "members" in step;
}

/** The members of a step: the signature, or the group's members. */
export function stepMembers(step: StepData): MemberData[] {
  return isGroupStep(step) ? step.members : [step];
}

/**
 * The steps of a plan under the workflow id `workflowId`, with the ids of
 * their members; the plan is checked, and so is every id (a workflow id too
 * long for its members' ids throws a `TypeError` naming it).
 */
export function planSteps(
  plan: WorkflowPlan,
  workflowId: string,
): StepData[] {
  const member = (signature: Signature, id: string): MemberData => ({
    id,
    job: signature.job,
    kwargs: signature.kwargs,
    options: signature.options,
  });
  const steps = toChain(plan).steps.map((step, i): StepData =>
    step.kind === "group"
      ? {
        id: `${workflowId}.${i}`,
        members: step.members.map((m, j) =>
          member(m, `${workflowId}.${i}.${j}`)
        ),
      }
      : member(step, `${workflowId}.${i}`)
  );
  for (const id of memberIds(steps)) {
    if (!isTaskId(id)) {
      throw new TypeError(
        `Cannot queue workflow as 'id' makes member ids that are not task ids (${TASK_ID_RULE}): got ${
          describeValue(workflowId)
        }, which makes ${describeValue(id)}`,
      );
    }
  }
  return steps;
}

/** Every member id of the steps, in plan order. */
export function memberIds(steps: readonly StepData[]): string[] {
  return steps.flatMap((step) => stepMembers(step).map((member) => member.id));
}

/**
 * Every member id of a plan queued as workflow `workflowId`, in plan order:
 * `W.i` for a signature at step `i`, `W.i.j` for member `j` of a group.
 */
export function workflowMemberIds(
  plan: WorkflowPlan,
  workflowId: string,
): string[] {
  return memberIds(planSteps(plan, workflowId));
}

/** Where a group member records its outcome (`Store.joinGroup`). */
export interface GroupJoin {
  /** The group's id (`W.i`). */
  group: string;
  /** The member's index in the group. */
  index: number;
  /** How many members the group has. */
  total: number;
}

/** What a workflow member carries in `meta.workflow`. */
export interface WorkflowMeta {
  /** The workflow id `W`. */
  id: string;
  /** The steps after this member's, with their ids. */
  next: StepData[];
  /** For a member of a group that a step follows: where it records itself. */
  join?: GroupJoin;
  /** The member's signature had `ignoreFailure`. */
  ignoreFailure?: true;
  /**
   * On a member that never ran, ended because of another: the id of the
   * member that ended the workflow.
   */
  cause?: string;
}

/** What a group member records with `Store.joinGroup`. */
export interface JoinedValue {
  /** The member succeeded (or its failure is ignored). */
  ok: boolean;
  /** Its result, or its error text. */
  value: unknown;
  /** Its job's name. */
  job?: string;
  /** Its final status name (SUCCESS, FAILURE, REVOKED). */
  status?: string;
}

const WORKFLOW_META_KEYS = ["id", "next", "join", "ignoreFailure", "cause"];
const isIndex = (value: unknown) =>
  Number.isSafeInteger(value) && (value as number) >= 0;

/** Why `value` is not a member's data, or undefined. */
function memberProblem(value: unknown, where: string): string | undefined {
  if (!isDict(value)) return `${where} must be an object`;
  if (!isTaskId(value.id)) return `${where}.id must be a task id`;
  if (typeof value.job !== "string" || value.job === "") {
    return `${where}.job must be a job name`;
  }
  if (!isDict(value.kwargs)) return `${where}.kwargs must be an object`;
  if (!isDict(value.options)) return `${where}.options must be an object`;
  const ignore = value.options.ignoreFailure;
  if (ignore !== undefined && typeof ignore !== "boolean") {
    return `${where}.options.ignoreFailure must be a boolean`;
  }
  return undefined;
}

/** Why `value` is not a step, or undefined. */
function stepProblem(value: unknown, where: string): string | undefined {
  if (!isDict(value) || !("members" in value)) {
    return memberProblem(value, where);
  }
  if (!isTaskId(value.id)) return `${where}.id must be a task id`;
  const members = value.members;
  if (!Array.isArray(members) || members.length === 0) {
    return `${where}.members must be a list of at least one member`;
  }
  for (const [j, member] of members.entries()) {
    const problem = memberProblem(member, `${where}.members[${j}]`);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Checks a `meta.workflow` read from a store: the meta, or the reason it is
 * malformed, naming the field.
 */
export function parseWorkflowMeta(
  value: unknown,
): { ok: true; meta: WorkflowMeta } | { ok: false; reason: string } {
  const bad = (reason: string) => ({
    ok: false as const,
    reason: `Malformed meta.workflow: ${reason}`,
  });
  if (!isDict(value)) return bad("it must be an object");
  const unknown = Object.keys(value).find((key) =>
    !WORKFLOW_META_KEYS.includes(key)
  );
  if (unknown !== undefined) return bad(`unknown field '${unknown}'`);
  if (!isTaskId(value.id)) return bad("'id' must be a task id");
  if (!Array.isArray(value.next)) return bad("'next' must be a list");
  for (const [i, step] of value.next.entries()) {
    const problem = stepProblem(step, `next[${i}]`);
    if (problem) return bad(problem);
  }
  const join = value.join;
  if (join !== undefined) {
    if (
      !isDict(join) || typeof join.group !== "string" || join.group === "" ||
      !isIndex(join.index) || !Number.isSafeInteger(join.total) ||
      (join.index as number) >= (join.total as number)
    ) {
      return bad(
        "'join' must be { group, index, total } with 0 <= index < total",
      );
    }
  }
  if (value.ignoreFailure !== undefined && value.ignoreFailure !== true) {
    return bad("'ignoreFailure' must be true or absent");
  }
  if (value.cause !== undefined && !isTaskId(value.cause)) {
    return bad("'cause' must be a task id");
  }
  return { ok: true, meta: value as unknown as WorkflowMeta };
}

/** An error's text as a result shows it. */
function errorText(error: unknown): string {
  return typeof error === "string" ? error : describeValue(error);
}

/**
 * Why a workflow ended: its member `member` (of job `job`, when known)
 * ended `status` with `error`. The result of every member it ended, and the
 * message of the {@linkcode WorkflowError} of its handle.
 */
export function memberFailure(
  workflowId: string,
  member: string,
  job: string | undefined,
  status: string,
  error: unknown,
): string {
  return `Workflow ${workflowId} failed: member ${member}${
    job ? ` (${job})` : ""
  } ended ${status}: ${errorText(error)}`;
}

/** The result of a member that a revoke of its workflow ended unqueued. */
export function revokedMember(workflowId: string, member: string): string {
  return `Workflow ${workflowId} was revoked before member ${member} was queued`;
}
