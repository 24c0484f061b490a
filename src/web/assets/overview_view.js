/**
 * The Overview: tasks ended per minute by status over the chart's window
 * (1 h, 6 h or 24 h: the store's history, so it holds what happened before
 * this page and this dashboard started, then goes on live), the queues
 * and the live workers. The chart is uPlot, loaded by its own script.
 *
 * Invariants: the chart is made once a view and window, then given new
 * data (a live update redraws the tables and feeds the chart); its legend
 * shows the newest minute's counts when the pointer is not on it;
 * `#history-chart` says how many tasks it shows (`data-done`), over how
 * many minutes with any (`data-points`) of how many (`data-minutes`).
 * @module
 */
import { readHistory } from "./api.js";
import { el, messageOf, show } from "./dom.js";
import { now, plural } from "./format.js";
import { queuesTable } from "./queues_view.js";
import { keepMinutes, state } from "./state.js";
import { ENDED } from "./statuses.js";
import { workersTable } from "./workers_view.js";

/** @typedef {import("./types.js").View} View */

/**
 * The part of uPlot the chart uses.
 * @typedef {object} Chart
 * @property {HTMLElement} root
 * @property {number[][]} data
 * @property {{ idx?: number | null }} cursor
 * @property {(data: number[][]) => void} setData
 * @property {(opts: { idx: number }, fire?: boolean) => void} setLegend
 * @typedef {new (options: object, data: number[][], into: HTMLElement) => Chart} ChartClass
 */

/** The color of each ended status on the chart (others: the default). */
const COLORS = /** @type {Record<string, string>} */ ({
  SUCCESS: "#15803d",
  FAILURE: "#b91c1c",
  REVOKED: "#7c3aed",
  RETRY: "#d97706",
});

/** The windows the chart offers, in minutes, and their names. */
const WINDOWS =
  /** @type {const} */ ([[60, "1 h"], [360, "6 h"], [1440, "24 h"]]);

/** uPlot, once its script has run. */
function chartClass() {
  const global = /** @type {{ uPlot?: ChartClass }} */ (
    /** @type {unknown} */ (globalThis)
  );
  return typeof global.uPlot === "function" ? global.uPlot : undefined;
}

/** The chart's data: the minutes of the window, then one series a status. */
function chartData() {
  const current = Math.floor(now() / 60) * 60;
  const end = Math.max(current, ...state.minutes.keys());
  /** @type {number[]} */
  const xs = [];
  /** @type {number[][]} */
  const series = ENDED.map(() => []);
  for (let m = end - (state.historyMinutes - 1) * 60; m <= end; m += 60) {
    xs.push(m);
    const counts = state.minutes.get(m);
    ENDED.forEach((status, i) => series[i].push(counts?.[status] ?? 0));
  }
  return [xs, ...series];
}

/**
 * Shows the newest minute in the legend while the pointer is off the chart
 * (uPlot would show `--`).
 * @param {Chart} chart
 */
function legendOnNewest(chart) {
  const n = chart.data[0]?.length ?? 0;
  if (n && (chart.cursor.idx === null || chart.cursor.idx === undefined)) {
    chart.setLegend({ idx: n - 1 }, false);
  }
}

/**
 * The Overview view.
 * @returns {View}
 */
export function overviewView() {
  /** @type {Chart | undefined} */
  let chart;

  const drawChart = () => {
    const box = document.getElementById("history-chart");
    if (!box) return;
    const data = chartData();
    let done = 0;
    let points = 0;
    for (let i = 0; i < data[0].length; i++) {
      const sum = ENDED.reduce((n, _, k) => n + data[k + 1][i], 0);
      done += sum;
      if (sum > 0) points++;
    }
    box.dataset.done = String(done);
    box.dataset.points = String(points);
    box.dataset.minutes = String(data[0].length);
    const total = document.getElementById("history-total");
    if (total) {
      total.textContent = `${plural(done, "task")} ended in the window`;
    }
    const Plot = chartClass();
    if (!Plot) return;
    if (chart?.root.isConnected) {
      chart.setData(data);
      return legendOnNewest(chart);
    }
    box.replaceChildren();
    chart = new Plot(
      {
        width: Math.max(400, box.clientWidth || 900),
        height: 240,
        series: [
          {},
          ...ENDED.map((status) => ({
            label: status,
            stroke: COLORS[status],
            width: 1.5,
            points: { show: false },
          })),
        ],
        axes: [{}, { label: "tasks / min" }],
        hooks: { setLegend: [legendOnNewest] },
      },
      data,
      box,
    );
    legendOnNewest(chart);
  };

  /**
   * Reads the store's counts of another window and draws them.
   * @param {number} minutes
   */
  const choose = async (minutes) => {
    const error = document.getElementById("history-error");
    try {
      const history = await readHistory(minutes);
      state.historyMinutes = minutes;
      keepMinutes(history.minutes, true);
      if (error) error.textContent = "";
    } catch (e) {
      if (error) error.textContent = messageOf(e);
      return;
    }
    for (const button of document.querySelectorAll("#history-window button")) {
      const b = /** @type {HTMLButtonElement} */ (button);
      b.classList.toggle("active", b.dataset.minutes === String(minutes));
    }
    chart = undefined;
    drawChart();
  };

  const render = () => {
    const { queues, workers } = state.cluster;
    const queuesBox = el("div", { id: "overview-queues" }, queuesTable(queues));
    const workersBox = el(
      "div",
      { id: "overview-workers" },
      el("h3", {}, `Live workers (${workers.length})`),
      workersTable(workers),
    );
    // Already drawn: only the tables change; the chart gets new data.
    if (chart?.root.isConnected) {
      document.getElementById("overview-queues")?.replaceWith(queuesBox);
      document.getElementById("overview-workers")?.replaceWith(workersBox);
      return drawChart();
    }
    show(
      el("h2", {}, "Overview"),
      el(
        "div",
        { class: "card" },
        el(
          "div",
          { class: "chart-head" },
          el("h3", {}, "Tasks ended per minute"),
          el(
            "span",
            { id: "history-window", class: "chips" },
            WINDOWS.map(([minutes, name]) =>
              el("button", {
                type: "button",
                class: minutes === state.historyMinutes
                  ? "chip active"
                  : "chip",
                dataset: { minutes: String(minutes) },
                onclick: () => choose(minutes),
              }, name)
            ),
          ),
          el("span", { id: "history-total", class: "muted" }),
        ),
        el("div", { id: "history-chart" }),
        el("p", { class: "error", id: "history-error" }),
        el(
          "p",
          { class: "legend-note" },
          "Counted by the store when each attempt ends (kept 24 h), so every dashboard shows the same, restarts included; the newest minute is still counting.",
        ),
      ),
      el("h3", {}, "Queues"),
      queuesBox,
      workersBox,
    );
    chart = undefined;
    drawChart();
  };

  return { render, onCluster: render };
}
