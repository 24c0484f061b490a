/**
 * The Queues view: each queue's sizes, latency, throughput and state, with
 * its actions (pause or resume, purge after a confirm). Its table is the
 * Overview's too (without the actions).
 * @module
 */
import { pauseQueue, purgeQueue } from "./api.js";
import { el, messageOf, notify, show, table } from "./dom.js";
import { duration, plural } from "./format.js";
import { groupsSection } from "./groups_view.js";
import { state } from "./state.js";

/** @typedef {import("./types.js").QueueView} QueueView */
/** @typedef {import("./types.js").View} View */

/**
 * Drops the tasks waiting in `queue`, once confirmed.
 * @param {string} queue
 */
async function purge(queue) {
  const ok = confirm(
    `Drop every task waiting in queue "${queue}"? Running and finished tasks stay.`,
  );
  if (!ok) return;
  try {
    const { purged } = await purgeQueue(queue);
    notify(`Purged ${plural(purged, "task")} from ${queue}`);
  } catch (error) {
    notify(messageOf(error), true);
  }
}

/**
 * Pauses or resumes `queue`.
 * @param {string} queue
 * @param {boolean} paused
 */
async function setPaused(queue, paused) {
  try {
    await pauseQueue(queue, paused);
    notify(
      paused
        ? `Paused ${queue}: workers take none of its tasks until it is resumed`
        : `Resumed ${queue}`,
    );
  } catch (error) {
    notify(messageOf(error), true);
  }
}

/**
 * The table of the queues, with their actions or not.
 * @param {readonly QueueView[]} queues
 * @param {boolean} [withActions]
 */
export function queuesTable(queues, withActions) {
  return table(
    [
      "Queue",
      "#Ready",
      "#Delayed",
      "#Running",
      "#Latency",
      "#Done / s (1 min)",
      "State",
      ...(withActions ? [""] : []),
    ],
    queues.map((q) =>
      el(
        "tr",
        { dataset: { queue: q.queue } },
        el("td", { class: "mono" }, q.queue),
        el("td", { class: "num" }, q.ready),
        el("td", { class: "num" }, q.delayed),
        el("td", { class: "num" }, q.running),
        el("td", { class: "num" }, duration(q.latency)),
        el("td", { class: "num" }, q.throughput.toFixed(2)),
        el(
          "td",
          { class: q.paused ? "status-paused" : "" },
          q.paused ? "paused" : "running",
        ),
        withActions
          ? el(
            "td",
            {},
            el("button", {
              class: "pause",
              onclick: () => setPaused(q.queue, !q.paused),
            }, q.paused ? "Resume" : "Pause"),
            " ",
            el("button", {
              class: "danger",
              onclick: () => purge(q.queue),
            }, "Purge"),
          )
          : null,
      )
    ),
    "No queue holds tasks",
  );
}

/**
 * The Queues view: drawn again with each new read of the queues.
 * @returns {View}
 */
export function queuesView() {
  const render = () =>
    show(
      el("h2", {}, "Queues"),
      el("p", { id: "notice" }),
      queuesTable(state.cluster.queues, true),
      groupsSection(state.cluster.queues),
    );
  return { render, onCluster: render };
}
