/**
 * The types of the page's code: what the dashboard's API answers, as the
 * server declares them (`../api_types.ts`, named here for the checker only:
 * this file is never loaded by the browser), and the shape of a view.
 * @module
 */

/** @typedef {import("../api_types.ts").TaskSummary} TaskSummary */
/** @typedef {import("../api_types.ts").TaskDetail} TaskDetail */
/** @typedef {import("../api_types.ts").WorkflowDetail} WorkflowDetail */
/** @typedef {import("../api_types.ts").WorkflowMemberDetail} WorkflowMemberDetail */
/** @typedef {import("../api_types.ts").ClusterView} ClusterView */
/** @typedef {import("../api_types.ts").QueueView} QueueView */
/** @typedef {import("../api_types.ts").WorkerView} WorkerView */
/** @typedef {import("../api_types.ts").MinuteCounts} MinuteCounts */
/** @typedef {import("../api_types.ts").CountersView} CountersView */
/** @typedef {import("../api_types.ts").BulkView} BulkView */
/** @typedef {import("../api_types.ts").BulkAction} BulkAction */
/** @typedef {import("../../store/store.ts").StatusHistory} StatusHistory */
/** @typedef {import("../api_types.ts").SessionView} SessionView */
/** @typedef {import("../api_types.ts").OverviewView} OverviewView */
/** @typedef {import("../api_types.ts").JobView} JobView */
/** @typedef {import("../api_types.ts").JobListView} JobListView */
/** @typedef {import("../api_types.ts").JobPageView} JobPageView */
/** @typedef {import("../../store/job_stats.ts").JobStats} JobStats */
/** @typedef {import("../../model/task.ts").TaskProgress} TaskProgress */
/** @typedef {import("../api_types.ts").StatusLists} StatusLists */
/** @typedef {import("../api_types.ts").SearchView} SearchView */
/** @typedef {import("../api_types.ts").RevokeView} RevokeView */
/** @typedef {import("../api_types.ts").QueuedView} QueuedView */
/** @typedef {import("../api_types.ts").WorkflowRevokeView} WorkflowRevokeView */
/** @typedef {import("../api_types.ts").PurgeView} PurgeView */
/** @typedef {import("../api_types.ts").PauseView} PauseView */
/** @typedef {import("../api_types.ts").GroupsView} GroupsView */
/** @typedef {import("../api_types.ts").GroupPauseView} GroupPauseView */
/** @typedef {import("../api_types.ts").ScheduleListView} ScheduleListView */
/** @typedef {import("../api_types.ts").SchedulePauseView} SchedulePauseView */
/** @typedef {import("../api_types.ts").ScheduleRemoveView} ScheduleRemoveView */
/** @typedef {import("../../model/schedule.ts").ScheduleInfo} ScheduleInfo */

/**
 * A view of the page, made when its address is opened: it draws itself,
 * and may follow the live feed while it is open.
 *
 * @typedef {object} View
 * @property {() => Promise<void> | void} render Draws it (again).
 * @property {(task: TaskSummary) => void} [onTask] A task changed.
 * @property {() => void} [onCluster] New queues and workers (`state.cluster`).
 */

/**
 * What a view is made with: the rest of its address, and how to draw it
 * again (after the renders before it).
 *
 * @typedef {object} ViewRoute
 * @property {string | undefined} arg The path after the view's name, decoded.
 * @property {URLSearchParams} params The address's query.
 * @property {() => void} refresh Draws the view again, if it is still open.
 */

export {};
