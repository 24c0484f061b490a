/**
 * A workflow's page: its members in plan order with their tasks and
 * results (as text), and its revoke while a member has not ended. Drawn
 * again (read anew) when the live feed says a member changed.
 * @module
 */
import { readWorkflow, revokeWorkflow } from "./api.js";
import { detailView } from "./detail_view.js";
import { jobLink, statusCell, taskLink } from "./cells.js";
import { el, messageOf, notify, show, table } from "./dom.js";
import { FINISHED } from "./statuses.js";

/** @typedef {import("./types.js").WorkflowDetail} WorkflowDetail */
/** @typedef {import("./types.js").WorkflowMemberDetail} WorkflowMemberDetail */
/** @typedef {import("./types.js").View} View */
/** @typedef {import("./types.js").ViewRoute} ViewRoute */

/**
 * True when a member's task is final.
 * @param {WorkflowMemberDetail} member
 */
function ended(member) {
  return member.task !== null && FINISHED.includes(member.task.statusString);
}

/**
 * Revokes the workflow, once confirmed, and says what each member did.
 * @param {string} id
 */
async function revoke(id) {
  if (!confirm(`Revoke workflow ${id}? Members not ended never run.`)) return;
  try {
    const { outcomes } = await revokeWorkflow(id);
    /** @type {Record<string, number>} */
    const counts = {};
    for (const outcome of Object.values(outcomes)) {
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    }
    notify(
      `Revoke: ${
        Object.entries(counts).map(([o, n]) => `${n} ${o}`).join(", ")
      }`,
    );
  } catch (error) {
    notify(messageOf(error), true);
  }
}

/**
 * The page of a workflow read.
 * @param {WorkflowDetail} workflow
 */
function draw(workflow) {
  show(
    el("h2", {}, "Workflow ", el("span", { class: "mono" }, workflow.id)),
    el(
      "div",
      { class: "actions" },
      workflow.members.every(ended) ? null : el("button", {
        id: "revoke-workflow",
        class: "danger",
        onclick: () => revoke(workflow.id),
      }, "Revoke"),
    ),
    el("p", { id: "notice" }),
    table(
      ["#Step", "Task", "Job", "Status", "Result"],
      workflow.members.map((m) =>
        el(
          "tr",
          { dataset: { id: m.id } },
          el("td", { class: "num" }, String(m.step)),
          el("td", { class: "mono" }, m.task ? taskLink(m.id, m.id) : m.id),
          el("td", {}, jobLink(m.job)),
          el(
            "td",
            {},
            m.task ? statusCell(m.task.statusString) : "not queued",
          ),
          el("td", { class: "mono kwargs" }, m.result ?? ""),
        )
      ),
    ),
  );
}

/**
 * The page of workflow `id`.
 * @param {string} id
 * @param {ViewRoute["refresh"]} refresh
 * @returns {View}
 */
export function workflowView(id, refresh) {
  return detailView(() => readWorkflow(id), draw, {
    follows: (task) => task.id.startsWith(`${id}.`),
    refresh,
  });
}
