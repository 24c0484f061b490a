/**
 * pq dashboard: the page's code, loaded as ES modules from the dashboard
 * itself (`src/web/dashboard.ts`, `src/web/assets.ts`), no build step:
 * JavaScript typed with JSDoc, checked as a program of its own with the
 * DOM's types (`deno check --config tests/browser_check.jsonc
 * src/web/assets/`, run by `tests/dashboard_assets_test.ts`). This module
 * starts it: the session, the first read, the live feed, the views by
 * address.
 *
 * Invariants: task data is only ever put in the page as text (see
 * `dom.js`); live updates come from one EventSource (`live_feed.js`); the
 * page reads the API when a view opens or its search changes, never on a
 * timer; every action is a POST with the session's CSRF token (`api.js`);
 * the state views share is in `state.js`, and only there.
 * @module
 */
import { readOverview, readSession } from "./api.js";
import { showError } from "./dom.js";
import { connectLiveFeed, keepCluster } from "./live_feed.js";
import { Router } from "./router.js";
import { keepMinutes, state } from "./state.js";

/** Reads the session and the overview, then opens the view of the address. */
async function main() {
  try {
    const session = await readSession();
    state.csrf = session.csrf;
    const store = document.getElementById("store");
    if (store) store.textContent = session.store;
    const overview = await readOverview(state.historyMinutes);
    keepMinutes(overview.history.minutes, true);
    keepCluster(overview.cluster);
  } catch (error) {
    return showError(error);
  }
  const router = new Router();
  addEventListener("hashchange", () => router.open());
  connectLiveFeed(router);
  await router.open();
  document.body.dataset.ready = "true";
}

main();
