/**
 * The page of one thing read from the API (a task, a workflow, a job):
 * read it and draw it, or show why it cannot be read. With `follows`, a
 * live task event it follows reads it again, once per burst of events:
 * {@linkcode REFRESH_MS} after the last one.
 * @module
 */
import { showError } from "./dom.js";

/** @typedef {import("./types.js").TaskSummary} TaskSummary */
/** @typedef {import("./types.js").View} View */

/** Milliseconds a burst of live changes waits to be read once. */
const REFRESH_MS = 200;

/**
 * @template T
 * @param {() => Promise<T>} read What the page shows, from the API.
 * @param {(data: T) => void} draw Draws it.
 * @param {object} [live] Redraws on the task events it follows.
 * @param {(task: TaskSummary) => boolean} live.follows Whether a task's
 *   event changes the page.
 * @param {() => void} live.refresh Renders the page again.
 * @returns {View}
 */
export function detailView(read, draw, live) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let pending;
  return {
    async render() {
      let data;
      try {
        data = await read();
      } catch (error) {
        return showError(error);
      }
      draw(data);
    },
    ...(live && {
      /** @param {TaskSummary} task */
      onTask(task) {
        if (!live.follows(task)) return;
        clearTimeout(pending);
        pending = setTimeout(live.refresh, REFRESH_MS);
      },
    }),
  };
}
