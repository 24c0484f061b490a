/**
 * The dashboard's API as the page calls it: one function an endpoint,
 * typed with what the server declares it answers (`routes/*.ts`).
 *
 * Invariants: a refusal rejects with the server's message (`{ error }`);
 * every action (POST) carries the session's CSRF token (`x-csrf-token`);
 * every value put in a path is encoded.
 * @module
 */
import { state } from "./state.js";

/** @typedef {import("./types.js").SessionView} SessionView */
/** @typedef {import("./types.js").OverviewView} OverviewView */
/** @typedef {import("./types.js").TaskDetail} TaskDetail */
/** @typedef {import("./types.js").WorkflowDetail} WorkflowDetail */
/** @typedef {import("./types.js").JobListView} JobListView */
/** @typedef {import("./types.js").JobPageView} JobPageView */
/** @typedef {import("./types.js").SearchView} SearchView */
/** @typedef {import("./types.js").RevokeView} RevokeView */
/** @typedef {import("./types.js").QueuedView} QueuedView */
/** @typedef {import("./types.js").WorkflowRevokeView} WorkflowRevokeView */
/** @typedef {import("./types.js").PurgeView} PurgeView */
/** @typedef {import("./types.js").PauseView} PauseView */
/** @typedef {import("./types.js").GroupsView} GroupsView */
/** @typedef {import("./types.js").GroupPauseView} GroupPauseView */
/** @typedef {import("./types.js").ScheduleListView} ScheduleListView */
/** @typedef {import("./types.js").SchedulePauseView} SchedulePauseView */
/** @typedef {import("./types.js").ScheduleRemoveView} ScheduleRemoveView */
/** @typedef {import("./types.js").StatusHistory} StatusHistory */
/** @typedef {import("./types.js").BulkView} BulkView */
/** @typedef {import("./types.js").BulkAction} BulkAction */

/**
 * The JSON of a response, or an error with its message.
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
async function answer(response) {
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
  return data;
}

/**
 * Reads `path` of the API.
 * @param {string} path
 */
async function get(path) {
  return await answer(
    await fetch(path, { headers: { accept: "application/json" } }),
  );
}

/**
 * Runs the action of `path` with a JSON body.
 * @param {string} path
 * @param {unknown} [body]
 */
async function post(path, body) {
  return await answer(
    await fetch(path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-csrf-token": state.csrf ?? "",
      },
      body: JSON.stringify(body ?? {}),
    }),
  );
}

/** `/api/session`: the CSRF token and the store's URL. */
export async function readSession() {
  return /** @type {SessionView} */ (await get("/api/session"));
}

/**
 * `/api/overview`: the chart's counts per minute (the store's), the
 * queues, workers and counters.
 * @param {number} minutes The chart's window.
 */
export async function readOverview(minutes) {
  return /** @type {OverviewView} */ (
    await get(`/api/overview?minutes=${minutes}`)
  );
}

/**
 * `/api/history`: the store's counts per minute over a window.
 * @param {number} minutes
 */
export async function readHistory(minutes) {
  return /** @type {StatusHistory} */ (
    await get(`/api/history?minutes=${minutes}`)
  );
}

/**
 * A bulk action on tasks: the ids selected, or a search's filter.
 * @param {BulkAction} action
 * @param {{ ids: string[] } | { filter: Record<string, string> }} target
 */
export async function bulkAction(action, target) {
  return /** @type {BulkView} */ (await post(`/api/tasks/${action}`, target));
}

/**
 * A page of a task search.
 * @param {URLSearchParams} query
 */
export async function searchTasks(query) {
  return /** @type {SearchView} */ (await get(`/api/tasks?${query}`));
}

/**
 * A task and its attempts.
 * @param {string} id
 */
export async function readTask(id) {
  return /** @type {TaskDetail} */ (
    await get(`/api/tasks/${encodeURIComponent(id)}`)
  );
}

/**
 * Revokes a task.
 * @param {string} id
 */
export async function revokeTask(id) {
  return /** @type {RevokeView} */ (
    await post(`/api/tasks/${encodeURIComponent(id)}/revoke`)
  );
}

/**
 * Queues a copy of a finished task.
 * @param {string} id
 */
export async function rerunTask(id) {
  return /** @type {QueuedView} */ (
    await post(`/api/tasks/${encodeURIComponent(id)}/rerun`)
  );
}

/**
 * A workflow's members and their tasks.
 * @param {string} id
 */
export async function readWorkflow(id) {
  return /** @type {WorkflowDetail} */ (
    await get(`/api/workflows/${encodeURIComponent(id)}`)
  );
}

/**
 * Revokes every member of a workflow that has not ended.
 * @param {string} id
 */
export async function revokeWorkflow(id) {
  return /** @type {WorkflowRevokeView} */ (
    await post(`/api/workflows/${encodeURIComponent(id)}/revoke`)
  );
}

/**
 * Drops the tasks waiting in a queue.
 * @param {string} queue
 */
export async function purgeQueue(queue) {
  return /** @type {PurgeView} */ (await post("/api/queues/purge", { queue }));
}

/**
 * Pauses or resumes a queue.
 * @param {string} queue
 * @param {boolean} paused
 */
export async function pauseQueue(queue, paused) {
  return /** @type {PauseView} */ (
    await post(`/api/queues/${paused ? "pause" : "resume"}`, { queue })
  );
}

/**
 * The groups of a queue with work (fair queues).
 * @param {string} queue
 */
export async function readGroups(queue) {
  return /** @type {GroupsView} */ (
    await get(`/api/groups?queue=${encodeURIComponent(queue)}`)
  );
}

/**
 * Pauses or resumes a group of a queue.
 * @param {string} queue
 * @param {string} group
 * @param {boolean} paused
 */
export async function pauseGroup(queue, group, paused) {
  return /** @type {GroupPauseView} */ (
    await post(`/api/groups/${paused ? "pause" : "resume"}`, { queue, group })
  );
}

/** The schedules managed at run time, with their next run times. */
export async function readSchedules() {
  return /** @type {ScheduleListView} */ (await get("/api/schedules"));
}

/**
 * Pauses or resumes a schedule.
 * @param {string} id
 * @param {boolean} paused
 */
export async function pauseSchedule(id, paused) {
  return /** @type {SchedulePauseView} */ (
    await post(`/api/schedules/${paused ? "pause" : "resume"}`, { id })
  );
}

/**
 * Removes a schedule.
 * @param {string} id
 */
export async function removeSchedule(id) {
  return /** @type {ScheduleRemoveView} */ (
    await post("/api/schedules/remove", { id })
  );
}

/** The jobs, with their stats. */
export async function readJobs() {
  return /** @type {JobListView} */ (await get("/api/jobs"));
}

/**
 * A job and its stats.
 * @param {string} name
 */
export async function readJob(name) {
  return /** @type {JobPageView} */ (
    await get(`/api/jobs/${encodeURIComponent(name)}`)
  );
}

/**
 * Queues a task of a job.
 * @param {string} name
 * @param {{ kwargs: unknown, queue?: string, delay?: number }} body
 */
export async function queueTask(name, body) {
  return /** @type {QueuedView} */ (
    await post(`/api/jobs/${encodeURIComponent(name)}/queue`, body)
  );
}
