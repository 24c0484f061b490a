/**
 * A job's page: what it is (doc, mode, defaults, live workers), its
 * stats, and a form that queues a task of it (kwargs as JSON, checked by
 * the server with the job's schema).
 * @module
 */
import { queueTask, readJob } from "./api.js";
import { detailView } from "./detail_view.js";
import { el, fields, link, messageOf, show, table } from "./dom.js";
import { duration, time } from "./format.js";
import { STATS_HEADERS, STATS_NOTE, statsCells } from "./jobs_view.js";

/** @typedef {import("./types.js").JobView} JobView */
/** @typedef {import("./types.js").View} View */

/**
 * A rate limit as text: `10 tasks per 1 s (per key)`, or "-".
 * @param {unknown} limit
 */
function rateLimitText(limit) {
  if (typeof limit !== "object" || limit === null) return "-";
  const { tasks, per, keyed } = /** @type {Record<string, unknown>} */ (limit);
  return `${tasks} tasks per ${per} s${keyed ? " (per key)" : ""}`;
}

/**
 * The form that queues a task of `job`.
 * @param {JobView} job
 */
function queueForm(job) {
  const error = el("p", { class: "error", id: "queue-error" });
  const kwargs = el("textarea", {
    id: "queue-kwargs",
    name: "kwargs",
    rows: 4,
    cols: 60,
    value: "{}",
  });
  const queue = el("input", {
    id: "queue-queue",
    name: "queue",
    placeholder: job.defaultQueue ?? "(default)",
  });
  const delay = el("input", {
    id: "queue-delay",
    name: "delay",
    type: "number",
    min: "0",
    step: "any",
  });
  /** @param {SubmitEvent} event */
  const submit = async (event) => {
    event.preventDefault();
    error.textContent = "";
    /** @type {unknown} */
    let parsed;
    try {
      parsed = JSON.parse(kwargs.value || "{}");
    } catch (e) {
      error.textContent = `The kwargs are not JSON: ${messageOf(e)}`;
      return;
    }
    /** @type {{ kwargs: unknown, queue?: string, delay?: number }} */
    const body = { kwargs: parsed };
    if (queue.value.trim()) body.queue = queue.value.trim();
    if (delay.value.trim()) body.delay = Number(delay.value);
    try {
      const { id } = await queueTask(job.name, body);
      location.hash = `#/task/${id}`;
    } catch (e) {
      error.textContent = messageOf(e);
    }
  };
  return el(
    "form",
    { id: "queue-form", class: "card", onsubmit: submit },
    el("label", {}, "Kwargs (JSON object)", kwargs),
    el("label", {}, "Queue", queue),
    el("label", {}, "Delay (s)", delay),
    el("p", {}, el("button", { class: "primary", type: "submit" }, "Queue")),
    error,
  );
}

/**
 * The page of job `name`.
 * @param {string} name
 * @returns {View}
 */
export function jobView(name) {
  return detailView(() => readJob(name), ({ job, stats }) => {
    show(
      el("h2", {}, "Job ", el("span", { class: "mono" }, job.name)),
      el(
        "div",
        { class: "card" },
        fields([
          ["doc", job.doc ?? "-"],
          ["mode", job.mode ?? "-"],
          ["type", job.type ?? "-"],
          [
            "queue",
            job.defaultQueue ?? `${job.queue} (the cluster's default)`,
          ],
          ["timeout", job.timeout ? duration(job.timeout) : "-"],
          [
            "retries",
            job.maxRetries && job.maxRetries > 1
              ? `up to ${job.maxRetries} runs in all`
              : job.local
              ? "none (1 run)"
              : "-",
          ],
          ["retry delay", job.retryDelay ?? "-"],
          ["priority", String(job.priority ?? (job.local ? 0 : "-"))],
          ["rate limit", rateLimitText(job.rateLimit)],
          ["max concurrency", job.maxConcurrency ?? "-"],
          ["schedule", job.schedule ?? "-"],
          job.nextRun ? ["next run", time(job.nextRun)] : null,
          [
            "kwargs checked here",
            job.schema ? "yes (by its schema)" : "no (by the worker only)",
          ],
          [
            "live workers",
            job.workers.join(", ") || `none consumes ${job.queue}`,
          ],
        ]),
      ),
      el("h3", {}, "Retained tasks"),
      table(STATS_HEADERS, [el("tr", {}, statsCells(stats))]),
      el("p", { class: "legend-note" }, STATS_NOTE),
      el(
        "p",
        {},
        link(`#/tasks?job=${encodeURIComponent(job.name)}`, "Its tasks"),
      ),
      el("h3", {}, "Queue a task"),
      queueForm(job),
    );
  });
}
