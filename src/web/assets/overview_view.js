/**
 * The Overview: tasks done per second over the chart's minutes (uPlot,
 * loaded by its own script), the queues and the live workers.
 *
 * Invariants: the chart is made once a view and then given new data (a
 * live update redraws the tables only); `#rate-chart` says how many tasks
 * it shows (`data-done`) over how many seconds (`data-points`).
 * @module
 */
import { el, show } from "./dom.js";
import { now } from "./format.js";
import { queuesTable } from "./queues_view.js";
import { state } from "./state.js";
import { ENDED } from "./statuses.js";
import { workersTable } from "./workers_view.js";

/** @typedef {import("./types.js").View} View */

/**
 * The part of uPlot the chart uses.
 * @typedef {{ root: HTMLElement, setData(data: number[][]): void }} Chart
 * @typedef {new (options: object, data: number[][], into: HTMLElement) => Chart} ChartClass
 */

/** The color of each ended status on the chart (others: the default). */
const COLORS = /** @type {Record<string, string>} */ ({
  SUCCESS: "#15803d",
  FAILURE: "#b91c1c",
  REVOKED: "#7c3aed",
  RETRY: "#d97706",
});

/** uPlot, once its script has run. */
function chartClass() {
  const global = /** @type {{ uPlot?: ChartClass }} */ (
    /** @type {unknown} */ (globalThis)
  );
  return typeof global.uPlot === "function" ? global.uPlot : undefined;
}

/** The chart's data: the seconds, then one series an ended status. */
function chartData() {
  const end = Math.floor(now()) - 1;
  /** @type {number[]} */
  const xs = [];
  /** @type {number[][]} */
  const series = ENDED.map(() => []);
  for (let s = end - state.rateSeconds + 1; s <= end; s++) {
    xs.push(s);
    const counts = state.rate.get(s);
    ENDED.forEach((status, i) => series[i].push(counts?.[status] ?? 0));
  }
  return [xs, ...series];
}

/**
 * The Overview view.
 * @returns {View}
 */
export function overviewView() {
  /** @type {Chart | undefined} */
  let chart;

  const drawChart = () => {
    const box = document.getElementById("rate-chart");
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
    const Plot = chartClass();
    if (!Plot) return;
    if (chart?.root.isConnected) return chart.setData(data);
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
        axes: [{}, { label: "tasks / s" }],
      },
      data,
      box,
    );
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
    // Already drawn: only the tables change (the chart keeps its state).
    if (chart?.root.isConnected) {
      document.getElementById("overview-queues")?.replaceWith(queuesBox);
      document.getElementById("overview-workers")?.replaceWith(workersBox);
      return;
    }
    show(
      el("h2", {}, "Overview"),
      el(
        "div",
        { class: "card" },
        el("h3", {}, "Tasks done per second, last 15 minutes"),
        el("div", { id: "rate-chart" }),
        el(
          "p",
          { class: "legend-note" },
          "Counted from the store's done events since this dashboard started.",
        ),
      ),
      el("h3", {}, "Queues"),
      queuesBox,
      workersBox,
    );
    chart = undefined;
    drawChart();
  };

  return { render, onCluster: render, onRate: drawChart };
}
