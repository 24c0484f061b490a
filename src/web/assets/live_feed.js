/**
 * The page's live feed: one `EventSource` on `/api/events`; each event
 * updates the shared state (`state.js`) and the counters header, and tells
 * the router, which tells the open view. `#live` says whether the feed is
 * connected.
 * @module
 */
import { drawCounters } from "./counters.js";
import { keepMinutes, state } from "./state.js";

/** @typedef {import("./router.js").Router} Router */
/** @typedef {import("./types.js").TaskSummary} TaskSummary */
/** @typedef {import("./types.js").ClusterView} ClusterView */

/**
 * Keeps a `cluster` read (the first one's too): the queues and workers,
 * the counters header, the chart's last minutes.
 * @param {ClusterView} cluster
 */
export function keepCluster(cluster) {
  state.cluster = cluster;
  keepMinutes(cluster.recent);
  drawCounters(cluster.counters);
}

/**
 * Connects the feed; the browser reconnects it when it drops.
 * @param {Router} router
 */
export function connectLiveFeed(router) {
  const live = document.getElementById("live");
  /** @param {"live" | "connecting"} to @param {string} text */
  const say = (to, text) => {
    if (!live) return;
    live.dataset.state = to;
    live.textContent = text;
  };
  const source = new EventSource("/api/events");
  source.onopen = () => say("live", "live");
  source.onerror = () => say("connecting", "reconnecting…");
  source.addEventListener("cluster", (event) => {
    keepCluster(JSON.parse(event.data));
    router.cluster();
  });
  source.addEventListener("tasks", (event) => {
    /** @type {{ tasks: TaskSummary[] }} */
    const { tasks } = JSON.parse(event.data);
    for (const task of tasks) router.task(task);
  });
}
