/**
 * The page's one shared state: what the live feed and the first reads
 * keep, and the views read. Everything else a view holds is its own (made
 * when it opens, dropped when it closes).
 *
 * Invariants: written by `app.js` (the first reads) and `live_feed.js`
 * only; `rate` holds the last `rateSeconds` seconds at most.
 * @module
 */

/** @typedef {import("./types.js").ClusterView} ClusterView */

/**
 * @typedef {object} PageState
 * @property {string | null} csrf The session's CSRF token (for actions).
 * @property {number} rateSeconds Seconds of the chart.
 * @property {Map<number, Record<string, number>>} rate Second → done counts by status.
 * @property {ClusterView} cluster The queues and workers, as last read.
 */

/** @type {PageState} */
export const state = {
  csrf: null,
  rateSeconds: 900,
  rate: new Map(),
  cluster: { queues: [], workers: [], time: 0 },
};

/**
 * Keeps the done counts of a series (`{ start, SUCCESS: [...], ... }`) and
 * forgets seconds older than the chart.
 *
 * @param {import("./types.js").RateSeries} series
 * @param {readonly string[]} statuses The statuses counted.
 */
export function keepRate(series, statuses) {
  const n = series[statuses[0]]?.length ?? 0;
  for (let i = 0; i < n; i++) {
    /** @type {Record<string, number>} */
    const counts = {};
    for (const status of statuses) counts[status] = series[status][i];
    state.rate.set(series.start + i, counts);
  }
  const oldest = Math.floor(Date.now() / 1000) - state.rateSeconds;
  for (const second of state.rate.keys()) {
    if (second < oldest) state.rate.delete(second);
  }
}
