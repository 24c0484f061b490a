/**
 * The dashboard's routes: one table from a method and a path pattern
 * (`URLPattern`) to its handler, grouped by resource in `routes/`. JSON
 * unless said; every `POST` is an action (session, Origin and CSRF checked
 * first, see `auth.ts`); `HEAD` is answered as `GET`.
 *
 * | route                               | what                                          |
 * | ----------------------------------- | --------------------------------------------- |
 * | `GET /`                             | the page (opens a session)                    |
 * | `GET /assets/:file`                 | its modules and styles, and uPlot's (npm)     |
 * | `GET /api/session`                  | the session's CSRF token, the store URL       |
 * | `GET /api/events`                   | server-sent events (`live.ts`)                |
 * | `GET /api/overview?minutes=`        | the chart's history, queues, workers, counters |
 * | `GET /api/history?minutes=`         | the store's counts per minute, and totals     |
 * | `GET /metrics`                      | Prometheus text (`metrics.ts`)                |
 * | `GET /api/tasks?…`                  | a search (`id`, `status`, `job`, `queue`, `since`, `until`, `text`, `limit`, `cursor`) |
 * | `GET /api/tasks/:id`                | a task and its attempts                       |
 * | `POST /api/tasks/:id/revoke`        | revoke it (queued or running)                 |
 * | `POST /api/tasks/:id/rerun`         | queue a copy of a finished task               |
 * | `POST /api/tasks/retry`             | `{ ids }` or `{ filter }`: retry failed tasks |
 * | `POST /api/tasks/delete`            | `{ ids }` or `{ filter }`: delete finished ones |
 * | `POST /api/tasks/revoke`            | `{ ids }`: revoke each                        |
 * | `GET /api/workflows/:id`            | a workflow's members with their tasks         |
 * | `POST /api/workflows/:id/revoke`    | revoke it (every member not ended)            |
 * | `POST /api/queues/purge`            | `{ queue }`: drop its waiting tasks           |
 * | `POST /api/queues/pause`, `/resume` | `{ queue }`: stop or restart its claims       |
 * | `GET /api/groups?queue=`            | a queue's groups with work (fair queues)      |
 * | `POST /api/groups/pause`, `/resume` | `{ queue, group }`: stop or restart a group   |
 * | `GET /api/jobs`                     | the jobs, with counts and run-time p50/p95/p99 |
 * | `GET /api/jobs/:name`               | one job, with its stats                       |
 * | `POST /api/jobs/:name/queue`        | `{ kwargs, queue?, delay?, timeout? }`        |
 * | `GET /api/schedules`                | the schedules, with their next 3 run times    |
 * | `POST /api/schedules/pause`, `/resume`, `/remove` | `{ id }`: pause, resume or remove one |
 *
 * Invariants: a path matches at most one route of its method; a path no
 * route of the method matches is a 404 (`No route`, or `No action` for a
 * `POST`); any other method is a 405.
 * @module
 */
import type { Handler } from "./route_context.ts";
import { listJobs, queueJob, readJob } from "./routes/jobs.ts";
import { deleteTasks, retryTasks, revokeTasks } from "./routes/bulk.ts";
import { events, history, metrics, overview } from "./routes/overview.ts";
import { asset, page } from "./routes/page.ts";
import { pauseQueue, purgeQueue } from "./routes/queues.ts";
import { listGroups, pauseGroup } from "./routes/groups.ts";
import { session } from "./routes/session.ts";
import {
  listSchedules,
  pauseSchedule,
  removeSchedule,
} from "./routes/schedules.ts";
import {
  readTask,
  rerunTask,
  revokeTask,
  searchTasks,
} from "./routes/tasks.ts";
import { readWorkflow, revokeWorkflow } from "./routes/workflows.ts";

/** The methods of the routes: a read, or an action. */
export type RouteMethod = "GET" | "POST";

/** A route: its method, its path's pattern, its handler. */
export interface Route {
  /** `GET` (also answers `HEAD`) or `POST`. */
  method: RouteMethod;
  /** The pattern of its path (`/api/tasks/:id`). */
  pattern: URLPattern;
  /** What answers it. */
  handler: Handler;
}

/** A route of `method` for the paths of `pathname`. */
function route(method: RouteMethod, pathname: string, handler: Handler): Route {
  return { method, pattern: new URLPattern({ pathname }), handler };
}

/** Every route of the dashboard. */
export const ROUTES: readonly Route[] = [
  route("GET", "/", page),
  route("GET", "/assets/:file", asset),
  route("GET", "/api/session", session),
  route("GET", "/api/events", events),
  route("GET", "/api/overview", overview),
  route("GET", "/api/history", history),
  route("GET", "/metrics", metrics),
  route("GET", "/api/tasks", searchTasks),
  route("GET", "/api/tasks/:id", readTask),
  route("POST", "/api/tasks/:id/revoke", revokeTask),
  route("POST", "/api/tasks/:id/rerun", rerunTask),
  route("POST", "/api/tasks/retry", retryTasks),
  route("POST", "/api/tasks/delete", deleteTasks),
  route("POST", "/api/tasks/revoke", revokeTasks),
  route("GET", "/api/workflows/:id", readWorkflow),
  route("POST", "/api/workflows/:id/revoke", revokeWorkflow),
  route("POST", "/api/queues/purge", purgeQueue),
  route("POST", "/api/queues/pause", pauseQueue(true)),
  route("POST", "/api/queues/resume", pauseQueue(false)),
  route("GET", "/api/groups", listGroups),
  route("POST", "/api/groups/pause", pauseGroup(true)),
  route("POST", "/api/groups/resume", pauseGroup(false)),
  route("GET", "/api/jobs", listJobs),
  route("GET", "/api/jobs/:name", readJob),
  route("POST", "/api/jobs/:name/queue", queueJob),
  route("GET", "/api/schedules", listSchedules),
  route("POST", "/api/schedules/pause", pauseSchedule(true)),
  route("POST", "/api/schedules/resume", pauseSchedule(false)),
  route("POST", "/api/schedules/remove", removeSchedule),
];

/** A route found for a request: its handler and its path's parameters. */
export interface RouteMatch {
  /** What answers it. */
  handler: Handler;
  /** The parameters of the pattern, as they are in the path. */
  params: Record<string, string | undefined>;
}

/**
 * The route of `method` whose pattern matches `pathname`, with its
 * parameters; undefined when there is none.
 *
 * @example
 * ```ts
 * import { findRoute } from "./route_table.ts";
 * findRoute("GET", "/api/jobs/addition")?.params; // { name: "addition" }
 * ```
 */
export function findRoute(
  method: RouteMethod,
  pathname: string,
): RouteMatch | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const match = route.pattern.exec({ pathname });
    if (match) return { handler: route.handler, params: match.pathname.groups };
  }
  return undefined;
}
