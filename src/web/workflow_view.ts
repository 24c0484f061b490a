/**
 * What the dashboard's page gets of a workflow: its members in plan order,
 * each with its task's summary once queued, and its result's preview once
 * ended.
 *
 * Invariants: every value is data for the page to show as text, never
 * markup; a result is a preview of at most {@linkcode PREVIEW_CHARS}
 * characters.
 * @module
 */
import type { Producer } from "../producer/producer.ts";
import { READY_STATES } from "../model/status.ts";
import { preview, type TaskSummary, taskSummary } from "./task_view.ts";

/** A member of a workflow on its page. */
export interface WorkflowMemberDetail {
  /** The member's task id (`W.i` or `W.i.j`). */
  id: string;
  /** Its job's name. */
  job: string;
  /** The index of its step. */
  step: number;
  /** Its task, or null while its turn has not come. */
  task: TaskSummary | null;
  /** Its result as JSON (cut), once it ended. */
  result?: string;
}

/** A workflow on its page. */
export interface WorkflowDetail {
  /** The workflow's id. */
  id: string;
  /** Its members, in plan order. */
  members: WorkflowMemberDetail[];
}

/**
 * The workflow of `id` with its members' tasks, or undefined when no task
 * of its first step is stored (see `api.workflows.get`).
 */
export async function workflowDetail(
  api: Producer,
  id: string,
): Promise<WorkflowDetail | undefined> {
  const workflow = await api.workflows.get(id);
  if (!workflow) return undefined;
  const records = await Promise.all(
    workflow.ids.map((member) => api.store.get(member)),
  );
  return {
    id,
    members: workflow.members.map((member, i) => {
      const record = records[i];
      return {
        ...member,
        task: record ? taskSummary(record) : null,
        ...(record && READY_STATES.has(record.status) &&
          { result: preview(record.result) }),
      };
    }),
  };
}
