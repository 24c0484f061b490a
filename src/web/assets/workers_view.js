/**
 * The Workers view: each live worker, what it runs, its uptime and memory
 * (from its heartbeat). Its table is the Overview's too.
 * @module
 */
import { progressCell, taskLink } from "./cells.js";
import { el, show, table } from "./dom.js";
import { duration, now, uptime } from "./format.js";
import { state } from "./state.js";

/** @typedef {import("./types.js").WorkerView} WorkerView */
/** @typedef {import("./types.js").View} View */

/**
 * The table of the live workers.
 * @param {readonly WorkerView[]} workers
 */
export function workersTable(workers) {
  const t = now();
  return table(
    [
      "Worker",
      "Node",
      "#PID",
      "Running",
      "#Claimed",
      "Queues",
      "#Up",
      "#Memory",
    ],
    workers.map((w) =>
      el(
        "tr",
        { dataset: { worker: w.worker } },
        el("td", { class: "mono" }, w.worker),
        el("td", {}, w.node),
        el("td", { class: "num" }, w.pid),
        el(
          "td",
          {},
          `${w.running.length}/${w.maxConcurrentTasks}`,
          w.running.map((r) =>
            el(
              "div",
              { class: "mono" },
              taskLink(r.id),
              " ",
              // Not read yet: the dashboard reads it within one read.
              r.name || "…",
              " ",
              r.timeStarted ? duration(t - r.timeStarted) : "",
              " ",
              progressCell(r.progress),
            )
          ),
        ),
        el("td", { class: "num" }, w.processed),
        el("td", {}, w.queues.join(", ")),
        el(
          "td",
          { class: "num" },
          // Older workers do not say when they started: since first seen.
          typeof w.started === "number"
            ? uptime(t - w.started)
            : "≥ " + uptime(t - w.seenSince),
        ),
        el(
          "td",
          { class: "num" },
          typeof w.memory === "number"
            ? `${(w.memory / 2 ** 20).toFixed(0)} MiB`
            : "-",
        ),
      )
    ),
    "No live worker",
  );
}

/**
 * The Workers view: drawn again with each new read of the workers.
 * @returns {View}
 */
export function workersView() {
  const render = () =>
    show(el("h2", {}, "Workers"), workersTable(state.cluster.workers));
  return { render, onCluster: render };
}
