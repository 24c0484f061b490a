/**
 * The tasks: `GET /api/tasks?…` (a search), `GET /api/tasks/:id` (a task
 * and its attempts), `POST /api/tasks/:id/revoke` and `POST
 * /api/tasks/:id/rerun` (a copy of a finished task, queued).
 *
 * Invariants: an id is checked (`TASK_ID`) before any read; a search's
 * query is checked field by field (an unknown field or status is a 400
 * naming it); the store is read through `api.tasks` only.
 * @module
 */
import { z } from "zod";
import {
  FINISHED_STATES,
  statusString,
  TaskStatus,
  type TaskStatusCode,
} from "../../model/status.ts";
import { callerMeta } from "../../model/meta_params.ts";
import type { Task, TaskRecord } from "../../model/task.ts";
import type {
  QueuedView,
  RevokeView,
  SearchView,
  TaskDetail,
} from "../api_types.ts";
import type { RouteContext } from "../route_context.ts";
import { BadRequest, NAME, parse, TASK_ID } from "../request_input.ts";
import { json } from "../responses.ts";
import { taskSummary } from "../task_view.ts";

/** The most attempts of a task shown on its page. */
const MAX_ATTEMPTS = 50;

/** The names of the statuses, for the `status` search. */
const STATUS_CODES = new Map<string, TaskStatusCode>(
  Object.entries(TaskStatus),
);

const SECONDS = z.coerce.number().refine(Number.isFinite, "must be a number");

/** The query of `GET /api/tasks` (and the filter of a bulk action). */
export const SearchSchema = z.strictObject({
  id: TASK_ID.optional(),
  status: z.string().transform((text, ctx) => {
    const codes: TaskStatusCode[] = [];
    for (const name of text.split(",").map((s) => s.trim().toUpperCase())) {
      const code = STATUS_CODES.get(name);
      if (code === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `unknown status '${name}': use ${
            [...STATUS_CODES.keys()].join(", ")
          }`,
        });
        return z.NEVER;
      }
      codes.push(code);
    }
    return codes;
  }).optional(),
  job: NAME.optional(),
  queue: NAME.optional(),
  since: SECONDS.optional(),
  until: SECONDS.optional(),
  text: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().min(1).max(2000).optional(),
});

/** `GET /api/tasks?…`: by id, or a page of a search. */
export async function searchTasks(
  { api, url }: RouteContext,
): Promise<Response> {
  const query = parse(
    SearchSchema,
    Object.fromEntries(url.searchParams),
    "search",
  );
  if (query.id !== undefined) {
    const task = await api.tasks.get(query.id);
    const view: SearchView = {
      tasks: task ? [taskSummary(task.toJSON())] : [],
    };
    return json(view);
  }
  const { id: _id, ...rest } = query;
  const page = await api.tasks.search(rest);
  const view: SearchView = {
    tasks: page.tasks.map(taskSummary),
    ...(page.next !== undefined && { next: page.next }),
  };
  return json(view);
}

/** `GET /api/tasks/:id`: the task and every attempt of it. */
export async function readTask(
  { api, params }: RouteContext,
): Promise<Response> {
  const id = parse(TASK_ID, params.id, "task id");
  const task = await api.tasks.get(id);
  if (!task) {
    throw new BadRequest(
      `No task with id '${id}' (unknown, or dropped after its retention)`,
      404,
    );
  }
  const record = task.toJSON();
  const chain: TaskRecord[] = [record];
  // Back to the first attempt, then on to the last (each names the next).
  let first = record;
  while (chain.length < MAX_ATTEMPTS && first.fromTask) {
    const before = await api.tasks.get(first.fromTask);
    if (!before || before.meta.nextTask !== first.id) break;
    first = before.toJSON();
    chain.unshift(first);
  }
  let last = record;
  while (
    chain.length < MAX_ATTEMPTS && typeof last.meta.nextTask === "string"
  ) {
    const after = await api.tasks.get(last.meta.nextTask);
    if (!after) break;
    last = after.toJSON();
    chain.push(last);
  }
  const view: TaskDetail = {
    task: { ...record, statusString: statusString(record.status) },
    attempts: chain.map(taskSummary),
  };
  return json(view);
}

/** `POST /api/tasks/:id/revoke`: 404 when no task has the id. */
export async function revokeTask(
  { api, params }: RouteContext,
): Promise<Response> {
  const id = parse(TASK_ID, params.id, "task id");
  const outcome = await api.tasks.revoke(id);
  const view: RevokeView = { id, outcome };
  return json(view, outcome === "unknown" ? 404 : 200);
}

/** `POST /api/tasks/:id/rerun`: a copy of a finished task, queued. */
export async function rerunTask(
  { api, params }: RouteContext,
): Promise<Response> {
  const id = parse(TASK_ID, params.id, "task id");
  const task = await api.tasks.get(id);
  if (!task) throw new BadRequest(`No task with id '${id}'`, 404);
  if (!FINISHED_STATES.has(task.status)) {
    throw new BadRequest(
      `Task ${id} is ${
        statusString(task.status)
      }: only a finished task runs again`,
      409,
    );
  }
  return queued(
    await api.tasks.queue(task.name, task.kwargs, {
      callback: false,
      ...(task.queue !== null && { queue: task.queue }),
      ...(task.timeout ? { timeout: task.timeout } : {}),
      metaParams: callerMeta(task.meta),
    }),
  );
}

/** The answer of an action that queued `task`. */
export function queued(task: Task): Response {
  const view: QueuedView = { id: task.id, task: taskSummary(task.toJSON()) };
  return json(view);
}
