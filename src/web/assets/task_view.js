/**
 * A task's page: its record (kwargs, result, exception, meta as text), its
 * attempts, and its actions: revoke while it has not ended, run again once
 * final. Drawn again (read anew) when the live feed says it changed.
 * @module
 */
import { readTask, rerunTask, revokeTask } from "./api.js";
import { detailView } from "./detail_view.js";
import {
  jobLink,
  progressCell,
  statusCell,
  taskLink,
  workflowLink,
} from "./cells.js";
import { el, fields, messageOf, notify, show, table } from "./dom.js";
import { duration, json, time } from "./format.js";
import { ENDED, FINISHED } from "./statuses.js";

/** @typedef {import("./types.js").TaskDetail} TaskDetail */
/** @typedef {import("./types.js").View} View */
/** @typedef {import("./types.js").ViewRoute} ViewRoute */

/**
 * The id of the workflow of a task's meta, if it is a member of one.
 * @param {Record<string, unknown>} meta
 */
function workflowOf(meta) {
  const workflow = /** @type {{ id?: unknown } | undefined} */ (meta.workflow);
  return typeof workflow?.id === "string" ? workflow.id : undefined;
}

/**
 * The page of a task read.
 * @param {TaskDetail} detail
 */
function draw(detail) {
  const task = detail.task;
  // A revoke asked of a running task said "requested": once the task
  // shows it ended, say what came of it.
  const asked = document.getElementById("notice")?.textContent;
  const status = task.statusString;
  const workflow = workflowOf(task.meta);
  /** @param {"revoke" | "rerun"} what */
  const act = async (what) => {
    try {
      if (what === "rerun") {
        location.hash = `#/task/${(await rerunTask(task.id)).id}`;
      } else {
        const { outcome } = await revokeTask(task.id);
        // The page may show it ended already (a live update came first).
        const shown = document.querySelector("#task-status .status")
          ?.textContent;
        notify(
          outcome === "requested" && shown === "REVOKED"
            ? "Revoked"
            : `Revoke: ${outcome}`,
        );
      }
    } catch (error) {
      notify(messageOf(error), true);
    }
  };
  show(
    el("h2", {}, "Task ", el("span", { class: "mono" }, task.id)),
    el(
      "div",
      { class: "actions" },
      ENDED.includes(status) ? null : el("button", {
        id: "revoke",
        class: "danger",
        onclick: () => act("revoke"),
      }, "Revoke"),
      FINISHED.includes(status)
        ? el(
          "button",
          { id: "rerun", onclick: () => act("rerun") },
          "Run again",
        )
        : null,
    ),
    el("p", { id: "notice" }),
    el(
      "div",
      { class: "card" },
      fields([
        ["job", jobLink(task.name)],
        ["status", el("span", { id: "task-status" }, statusCell(status))],
        ["queue", task.queue ?? "- (ran in its producer)"],
        ["attempt", String(task.retry)],
        ["queued", time(task.timeQueued)],
        task.delay ? ["delay", duration(task.delay)] : null,
        task.timeout ? ["timeout", duration(task.timeout)] : null,
        ["started", time(task.timeStarted)],
        [
          "ended",
          task.timeEnded
            ? `${time(task.timeEnded)} (ran ${
              duration(task.timeEnded - (task.timeStarted ?? task.timeEnded))
            })`
            : "-",
        ],
        ["worker", task.worker ? `${task.worker} on ${task.node ?? "?"}` : "-"],
        task.fromTask
          ? ["from task", taskLink(task.fromTask, task.fromTask)]
          : null,
        workflow ? ["workflow", workflowLink(workflow)] : null,
        ["progress", task.progress ? progressCell(task.progress) : "-"],
        task.traceparent ? ["traceparent", task.traceparent] : null,
      ]),
    ),
    el("h3", {}, "Kwargs"),
    el("pre", { id: "task-kwargs" }, json(task.kwargs)),
    el("h3", {}, "Result"),
    el("pre", { id: "task-result" }, json(task.result)),
    // Durable steps (ctx.step): what a run after this one will not redo.
    task.steps?.length ? el("h3", {}, `Steps (${task.steps.length})`) : null,
    task.steps?.length
      ? el(
        "div",
        { id: "task-steps" },
        table(
          ["Step", "Started", "Took", "Result"],
          task.steps.map((step) =>
            el(
              "tr",
              {},
              el("td", { class: "mono" }, step.name),
              el("td", {}, time(step.timeStarted)),
              el(
                "td",
                { class: "num" },
                duration(step.timeEnded - step.timeStarted),
              ),
              el(
                "td",
                { class: "mono" },
                "result" in step ? json(step.result) : "-",
              ),
            )
          ),
        ),
      )
      : null,
    task.exception ? el("h3", {}, "Exception") : null,
    task.exception ? el("pre", { class: "error" }, task.exception) : null,
    task.stacktrace?.length ? el("h3", {}, "Stack") : null,
    task.stacktrace?.length ? el("pre", {}, task.stacktrace.join("\n")) : null,
    task.progress && task.progress.data !== undefined
      ? [el("h3", {}, "Progress data"), el("pre", {}, json(task.progress.data))]
      : null,
    el("h3", {}, "Meta"),
    el("pre", {}, json(task.meta)),
    el("h3", {}, `Attempts (${detail.attempts.length})`),
    table(
      ["#", "Id", "Status", "Queued", "#Ran"],
      detail.attempts.map((a) =>
        el(
          "tr",
          { class: a.id === task.id ? "current" : "" },
          el("td", {}, String(a.retry)),
          el("td", { class: "mono" }, taskLink(a.id, a.id)),
          el("td", {}, statusCell(a.statusString)),
          el("td", {}, time(a.timeQueued)),
          el(
            "td",
            { class: "num" },
            a.timeStarted && a.timeEnded
              ? duration(a.timeEnded - a.timeStarted)
              : "-",
          ),
        )
      ),
    ),
  );
  if (asked === "Revoke: requested" && ENDED.includes(status)) {
    notify(
      status === "REVOKED" ? "Revoked" : `Revoke: too late, it ended ${status}`,
    );
  }
}

/**
 * The page of task `id`.
 * @param {string} id
 * @param {ViewRoute["refresh"]} refresh
 * @returns {View}
 */
export function taskView(id, refresh) {
  return detailView(() => readTask(id), draw, {
    follows: (task) => task.id === id,
    refresh,
  });
}
