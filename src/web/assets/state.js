/**
 * The page's one shared state: what the live feed and the first reads
 * keep, and the views read. Everything else a view holds is its own (made
 * when it opens, dropped when it closes).
 *
 * Invariants: written by `app.js` (the first reads), `live_feed.js` and
 * the Overview's window choice only; `minutes` holds the store's counts of
 * the last `historyMinutes` minutes at most, one entry a minute.
 * @module
 */

/** @typedef {import("./types.js").ClusterView} ClusterView */
/** @typedef {import("./types.js").MinuteCounts} MinuteCounts */

/**
 * @typedef {object} PageState
 * @property {string | null} csrf The session's CSRF token (for actions).
 * @property {number} historyMinutes Minutes of the chart (its window).
 * @property {Map<number, Record<string, number>>} minutes Minute (Unix
 *   seconds of its start) → counts by status, from the store's history.
 * @property {ClusterView} cluster The queues, workers and counters, as last read.
 */

/** @type {PageState} */
export const state = {
  csrf: null,
  historyMinutes: 60,
  minutes: new Map(),
  cluster: { queues: [], workers: [], time: 0, counters: null, recent: [] },
};

/**
 * Keeps the counts of minutes read from the store (a minute read again
 * replaces what was kept of it: the store's count is the whole), and
 * forgets minutes older than the chart's window.
 *
 * @param {readonly MinuteCounts[]} minutes
 * @param {boolean} [replace] Forget every minute kept first (a new window).
 */
export function keepMinutes(minutes, replace) {
  if (replace) state.minutes.clear();
  for (const { minute, counts } of minutes) state.minutes.set(minute, counts);
  const newest = Math.max(0, ...state.minutes.keys());
  const oldest = newest - (state.historyMinutes - 1) * 60;
  for (const minute of state.minutes.keys()) {
    if (minute < oldest) state.minutes.delete(minute);
  }
}
