/**
 * The groups of the queues in the Queues view (fair queues): each queue's
 * groups with work, their ready and running tasks, and a button that
 * pauses or resumes one. Drawn only when a queue has groups.
 *
 * Invariants: read again with each draw of the view (its queues change
 * with the live feed); until the read answers, the last table drawn
 * stays, so a live update does not flicker. Every name is set as text.
 * @module
 */
import { pauseGroup, readGroups } from "./api.js";
import { el, messageOf, notify, table } from "./dom.js";

/** @typedef {import("./types.js").QueueView} QueueView */
/** @typedef {import("./types.js").GroupsView} GroupsView */

/** @type {HTMLElement | null} */
let drawn = null;

/**
 * Pauses or resumes a group, then draws the groups again.
 * @param {string} queue
 * @param {string} group
 * @param {boolean} paused
 * @param {() => void} redraw
 */
async function setPaused(queue, group, paused, redraw) {
  try {
    await pauseGroup(queue, group, paused);
    notify(
      paused
        ? `Paused group ${group} of ${queue}: its tasks wait, the others flow`
        : `Resumed group ${group} of ${queue}`,
    );
    redraw();
  } catch (error) {
    notify(messageOf(error), true);
  }
}

/**
 * The groups of `views` as a section (empty when no queue has one).
 * @param {readonly GroupsView[]} views
 * @param {() => void} redraw
 */
function section(views, redraw) {
  const rows = views.flatMap((view) =>
    view.groups.map((g) =>
      el(
        "tr",
        { dataset: { queue: view.queue, group: g.group } },
        el("td", { class: "mono" }, view.queue),
        el("td", { class: "mono" }, g.group),
        el("td", { class: "num" }, g.ready),
        el("td", { class: "num" }, g.running),
        el(
          "td",
          { class: g.paused ? "status-paused" : "" },
          g.paused ? "paused" : "running",
        ),
        el(
          "td",
          {},
          el("button", {
            class: "pause",
            onclick: () => setPaused(view.queue, g.group, !g.paused, redraw),
          }, g.paused ? "Resume" : "Pause"),
        ),
      )
    )
  );
  if (rows.length === 0) return el("div", { id: "groups" });
  return el(
    "div",
    { id: "groups" },
    el("h3", {}, "Groups"),
    table(["Queue", "Group", "#Ready", "#Running", "State", ""], rows),
  );
}

/**
 * The groups of `queues`: the last section drawn now, the new one once
 * read.
 * @param {readonly QueueView[]} queues
 */
export function groupsSection(queues) {
  const box = el("div", {}, drawn);
  const redraw = () => void fill(box, queues, redraw);
  redraw();
  return box;
}

/**
 * Reads the groups of `queues` and draws them in `box`.
 * @param {HTMLElement} box
 * @param {readonly QueueView[]} queues
 * @param {() => void} redraw
 */
async function fill(box, queues, redraw) {
  try {
    const views = await Promise.all(queues.map((q) => readGroups(q.queue)));
    drawn = section(views, redraw);
  } catch (error) {
    drawn = el("p", { class: "error" }, messageOf(error));
  }
  box.replaceChildren(drawn);
}
