/**
 * The files the page loads: its HTML (with the status lists of the model
 * in it), its ES modules and styles (`assets/`), and uPlot's (npm). Each is
 * imported as text, so it is part of the module graph: served without a
 * read permission, from a clone or from a binary `deno compile` built.
 *
 * Invariants: only the files listed here are served, each with its content
 * type (`text/javascript` for the modules: a browser runs a module only
 * with a JavaScript type; `image/svg+xml` for the icon); `assets/types.js` is for the checker only and is
 * not served; a module the page imports must be listed, or it fails to load.
 * @module
 */
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import api from "./assets/api.js" with { type: "text" };
import app from "./assets/app.js" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import cells from "./assets/cells.js" with { type: "text" };
import counters from "./assets/counters.js" with { type: "text" };
import detailView from "./assets/detail_view.js" with { type: "text" };
import dom from "./assets/dom.js" with { type: "text" };
import format from "./assets/format.js" with { type: "text" };
import groupsView from "./assets/groups_view.js" with { type: "text" };
import indexHtml from "./assets/index.html" with { type: "text" };
import jobView from "./assets/job_view.js" with { type: "text" };
import jobsView from "./assets/jobs_view.js" with { type: "text" };
import liveFeed from "./assets/live_feed.js" with { type: "text" };
import overviewView from "./assets/overview_view.js" with { type: "text" };
import queuesView from "./assets/queues_view.js" with { type: "text" };
import router from "./assets/router.js" with { type: "text" };
import schedulesView from "./assets/schedules_view.js" with { type: "text" };
import state from "./assets/state.js" with { type: "text" };
import statuses from "./assets/statuses.js" with { type: "text" };
import taskView from "./assets/task_view.js" with { type: "text" };
import tasksView from "./assets/tasks_view.js" with { type: "text" };
import workersView from "./assets/workers_view.js" with { type: "text" };
import workflowView from "./assets/workflow_view.js" with { type: "text" };
import { jsonForScript, STATUS_LISTS } from "./page_statuses.ts";

/** The page's icon (here, not a file: it is the only image). */
const FAVICON = [
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">',
  '<rect width="32" height="32" rx="6" fill="#111827"/>',
  '<rect x="6" y="8" width="20" height="4" rx="2" fill="#60a5fa"/>',
  '<rect x="6" y="14" width="14" height="4" rx="2" fill="#15803d"/>',
  '<rect x="6" y="20" width="8" height="4" rx="2" fill="#d97706"/>',
  "</svg>",
].join("");

/** A file served: its text and its content type. */
export interface Asset {
  /** The content. */
  body: string;
  /** Its `content-type`. */
  type: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Where the page's HTML has the status lists put in (valid JSON). */
const STATUSES_SLOT = '"PQ_STATUSES"';
if (!indexHtml.includes(STATUSES_SLOT)) {
  throw new Error(`assets/index.html lost its ${STATUSES_SLOT} slot`);
}

/** The page: its HTML with the status lists in its `#pq-statuses` block. */
export const PAGE: Asset = {
  body: indexHtml.replace(STATUSES_SLOT, jsonForScript(STATUS_LISTS)),
  type: "text/html; charset=utf-8",
};

/** The files under `/assets/`, by name. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  Object.entries({
    "api.js": api,
    "app.js": app,
    "cells.js": cells,
    "counters.js": counters,
    "detail_view.js": detailView,
    "dom.js": dom,
    "format.js": format,
    "groups_view.js": groupsView,
    "job_view.js": jobView,
    "jobs_view.js": jobsView,
    "live_feed.js": liveFeed,
    "overview_view.js": overviewView,
    "queues_view.js": queuesView,
    "router.js": router,
    "schedules_view.js": schedulesView,
    "state.js": state,
    "statuses.js": statuses,
    "task_view.js": taskView,
    "tasks_view.js": tasksView,
    "workers_view.js": workersView,
    "workflow_view.js": workflowView,
    "uplot.js": uplotJs,
  }).map(([name, body]): [string, Asset] => [name, { body, type: JS }])
    .concat([
      ["app.css", { body: appCss, type: CSS }],
      ["uplot.css", { body: uplotCss, type: CSS }],
      ["favicon.svg", { body: FAVICON, type: "image/svg+xml" }],
    ]),
);
