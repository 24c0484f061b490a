/**
 * The cells several views show: links to tasks, jobs and workflows, a
 * status, a progress.
 * @module
 */
import { el, link } from "./dom.js";

/** @typedef {import("./types.js").TaskProgress} TaskProgress */

/**
 * A link to a task's page, showing its id's last 8 characters (pq's ids,
 * UUIDv7, begin with their time: the same for every task of a minute).
 *
 * @param {string} id
 * @param {string} [text]
 */
export function taskLink(id, text) {
  return link(`#/task/${encodeURIComponent(id)}`, text ?? id.slice(-8));
}

/**
 * A link to a job's page.
 * @param {string} name
 */
export function jobLink(name) {
  return link(`#/job/${encodeURIComponent(name)}`, name);
}

/**
 * The link to a workflow's page (`#workflow-link`).
 * @param {string} id
 */
export function workflowLink(id) {
  return el(
    "a",
    { id: "workflow-link", href: `#/workflow/${encodeURIComponent(id)}` },
    id,
  );
}

/**
 * A status, styled by its name.
 * @param {string} name
 */
export function statusCell(name) {
  return el("span", { class: `status status-${name}` }, name);
}

/**
 * A progress bar with its percentage and message, or "".
 * @param {TaskProgress | null | undefined} progress
 */
export function progressCell(progress) {
  if (!progress) return "";
  return el(
    "span",
    { class: "progress" },
    el("progress", { max: "1", value: String(progress.value) }),
    " ",
    `${Math.round(progress.value * 100)}%`,
    progress.message ? ` ${progress.message}` : "",
  );
}
