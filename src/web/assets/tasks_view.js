/**
 * The Tasks view: a search of the stored tasks (by id, job, status, queue,
 * time, text), page by page, and the live feed's tasks that match it.
 *
 * Invariants: the search is in the address (`#/tasks?job=...`), so a
 * search is a link; a live update changes rows in place, never the form
 * being typed in; a row is a task's summary, as text.
 * @module
 */
import { searchTasks } from "./api.js";
import { jobLink, progressCell, statusCell, taskLink } from "./cells.js";
import { el, headerCell, messageOf, show } from "./dom.js";
import { duration, fromSeconds, now, time, toSeconds } from "./format.js";
import { STATUSES } from "./statuses.js";

/** @typedef {import("./types.js").TaskSummary} TaskSummary */
/** @typedef {import("./types.js").View} View */

/**
 * The row of a task.
 * @param {TaskSummary} task
 */
function taskRow(task) {
  return el(
    "tr",
    { dataset: { id: task.id, status: task.statusString } },
    el("td", { class: "mono" }, taskLink(task.id)),
    el("td", {}, jobLink(task.name)),
    el("td", {}, statusCell(task.statusString)),
    el("td", { class: "mono" }, task.queue ?? "-"),
    el("td", {}, time(task.timeQueued)),
    el(
      "td",
      { class: "num" },
      task.timeStarted
        ? duration((task.timeEnded ?? now()) - task.timeStarted)
        : "-",
    ),
    el("td", {}, progressCell(task.progress)),
    el("td", { class: "mono kwargs", title: task.kwargs }, task.kwargs),
  );
}

/**
 * Whether a live task belongs in the results of a search.
 * @param {Readonly<Record<string, string>>} query
 * @param {TaskSummary} task
 */
export function matches(query, task) {
  if (query.id) return false;
  if (query.job && task.name !== query.job) return false;
  if (query.queue && task.queue !== query.queue) return false;
  if (query.status && !query.status.split(",").includes(task.statusString)) {
    return false;
  }
  if (query.since && task.timeQueued < Number(query.since)) return false;
  if (query.until && task.timeQueued >= Number(query.until)) return false;
  if (
    query.text && !task.kwargs.toLowerCase().includes(query.text.toLowerCase())
  ) return false;
  return true;
}

/**
 * The address of the search a form holds: times as Unix seconds, the
 * statuses joined by commas, empty fields left out.
 * @param {HTMLFormElement} form
 */
function searchOf(form) {
  const data = new FormData(form);
  const next = new URLSearchParams();
  for (const [key, value] of data) {
    if (key === "status") continue;
    const text = String(value).trim();
    if (!text) continue;
    if (key === "since" || key === "until") {
      const seconds = toSeconds(text);
      if (seconds) next.set(key, seconds);
    } else next.set(key, text);
  }
  const statuses = data.getAll("status").map(String);
  if (statuses.length) next.set("status", statuses.join(","));
  return `#/tasks?${next}`;
}

/**
 * The search form, filled with `query`.
 * @param {Readonly<Record<string, string>>} query
 */
function searchForm(query) {
  /**
   * @param {string} name
   * @param {string} label
   * @param {Record<string, unknown>} [attrs]
   */
  const field = (name, label, attrs) =>
    el(
      "label",
      {},
      label,
      el("input", { name, value: query[name] ?? "", ...attrs }),
    );
  /** @param {string} name @param {string} label */
  const when = (name, label) =>
    el(
      "label",
      {},
      label,
      el("input", {
        type: "datetime-local",
        name,
        value: fromSeconds(query[name]),
      }),
    );
  const chosen = (query.status ?? "").split(",");
  return el(
    "form",
    {
      class: "search",
      id: "task-search",
      /** @param {SubmitEvent} event */
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = searchOf(/** @type {HTMLFormElement} */ (event.target));
      },
    },
    field("id", "Id", { size: 34, placeholder: "task id" }),
    field("job", "Job"),
    el(
      "label",
      {},
      "Status",
      el(
        "select",
        { name: "status", multiple: true, size: 3 },
        STATUSES.map((s) =>
          el("option", { value: s, selected: chosen.includes(s) }, s)
        ),
      ),
    ),
    field("queue", "Queue"),
    when("since", "Queued since"),
    when("until", "until"),
    field("text", "Text (kwargs, result)"),
    el("button", { class: "primary", type: "submit" }, "Search"),
  );
}

/**
 * The Tasks view of a search.
 * @param {URLSearchParams} params The search, from the address.
 * @returns {View}
 */
export function tasksView(params) {
  const query = Object.fromEntries(params);
  /** The rows shown, by task id. */
  const rows = new Map();
  const body = el("tbody", { id: "task-rows" });
  const more = el("button", { id: "more", hidden: true }, "More");
  const error = el("p", { class: "error", id: "search-error" });

  /** @param {string} [cursor] The page after the last one shown. */
  const load = async (cursor) => {
    const search = new URLSearchParams(query);
    if (cursor) search.set("cursor", cursor);
    try {
      const page = await searchTasks(search);
      for (const task of page.tasks) {
        if (rows.has(task.id)) continue;
        const row = taskRow(task);
        rows.set(task.id, row);
        body.append(row);
      }
      more.hidden = !page.next;
      more.onclick = () => load(page.next);
      error.textContent = "";
    } catch (e) {
      error.textContent = messageOf(e);
    }
  };

  /** @type {View} */
  return {
    // Drawn once: a live update must not rebuild the search being typed.
    async render() {
      show(
        el("h2", {}, "Tasks"),
        searchForm(query),
        error,
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              [
                "Id",
                "Job",
                "Status",
                "Queue",
                "Queued",
                "#Ran",
                "Progress",
                "Kwargs",
              ].map(headerCell),
            ),
          ),
          body,
        ),
        more,
      );
      await load();
    },
    onTask(task) {
      const row = rows.get(task.id);
      if (row) {
        const fresh = taskRow(task);
        row.replaceWith(fresh);
        rows.set(task.id, fresh);
      } else if (matches(query, task)) {
        const fresh = taskRow(task);
        rows.set(task.id, fresh);
        body.prepend(fresh);
      }
    },
  };
}
