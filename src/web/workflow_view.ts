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
import type { WorkflowDetail } from "./api_types.ts";
import { preview, taskSummary } from "./task_view.ts";

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
  const tasks = await Promise.all(
    workflow.ids.map((member) => api.tasks.get(member)),
  );
  return {
    id,
    members: workflow.members.map((member, i) => {
      const task = tasks[i];
      return {
        ...member,
        task: task ? taskSummary(task.toJSON()) : null,
        ...(task?.done() && { result: preview(task.result) }),
      };
    }),
  };
}
