/**
 * The workflows: `GET /api/workflows/:id` (its members with their tasks)
 * and `POST /api/workflows/:id/revoke` (every member not ended).
 *
 * Invariants: an id is checked (`TASK_ID`) before any read; an unknown
 * workflow is a 404 that says why it may be gone.
 * @module
 */
import type { WorkflowRevokeView } from "../api_types.ts";
import type { RouteContext } from "../route_context.ts";
import { BadRequest, parse, TASK_ID } from "../request_input.ts";
import { json } from "../responses.ts";
import { workflowDetail } from "../workflow_view.ts";

/** What `read` gives of workflow `id`, or a 404 when there is none. */
async function found<T>(
  read: () => Promise<T | undefined>,
  id: string,
): Promise<T> {
  const value = await read();
  if (value === undefined) {
    throw new BadRequest(
      `No workflow with id '${id}' (unknown, or its first step dropped after its retention)`,
      404,
    );
  }
  return value;
}

/** `GET /api/workflows/:id`. */
export async function readWorkflow(
  { api, params }: RouteContext,
): Promise<Response> {
  const id = parse(TASK_ID, params.id, "workflow id");
  return json(await found(() => workflowDetail(api, id), id));
}

/** `POST /api/workflows/:id/revoke`. */
export async function revokeWorkflow(
  { api, params }: RouteContext,
): Promise<Response> {
  const id = parse(TASK_ID, params.id, "workflow id");
  const workflow = await found(() => api.workflows.get(id), id);
  const view: WorkflowRevokeView = { id, outcomes: await workflow.revoke() };
  return json(view);
}
