/**
 * The page's live feed: one `EventSource` on `/api/events`; each event
 * updates the shared state (`state.js`) and tells the router, which tells
 * the open view. `#live` says whether the feed is connected.
 * @module
 */
import { keepRate, state } from "./state.js";
import { ENDED } from "./statuses.js";

/** @typedef {import("./router.js").Router} Router */
/** @typedef {import("./types.js").TaskSummary} TaskSummary */

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
  source.addEventListener("rate", (event) => {
    keepRate(JSON.parse(event.data), ENDED);
    router.rate();
  });
  source.addEventListener("cluster", (event) => {
    state.cluster = JSON.parse(event.data);
    router.cluster();
  });
  source.addEventListener("tasks", (event) => {
    /** @type {{ tasks: TaskSummary[] }} */
    const { tasks } = JSON.parse(event.data);
    for (const task of tasks) router.task(task);
  });
}
