/**
 * The Tasks view: a search of the stored tasks (by id, job, status, queue,
 * time, text), page by page, and the live feed's tasks that match it; and
 * the Failed view (`#/failed`), the same search held to FAILURE. Rows can
 * be selected for a bulk retry, revoke or delete; the Failed view also
 * retries or deletes every failed task its search finds.
 *
 * Invariants: the search is in the address (`#/tasks?job=...`), so a
 * search is a link; a live update changes rows in place, never the form
 * being typed in; rows stay newest first (by time queued, then id) and
 * never more than the pages loaded hold (`limit`, 50, a page): a live task
 * older than the last row of a full list waits for "More"; every bulk
 * action asks first, then reloads the list; a row is a task's summary, as
 * text.
 * @module
 */
import { bulkAction, searchTasks } from "./api.js";
import { jobLink, progressCell, statusCell, taskLink } from "./cells.js";
import { el, headerCell, messageOf, notify, show } from "./dom.js";
import {
  duration,
  fromSeconds,
  now,
  plural,
  time,
  toSeconds,
} from "./format.js";
import { STATUSES } from "./statuses.js";

/** @typedef {import("./types.js").TaskSummary} TaskSummary */
/** @typedef {import("./types.js").BulkAction} BulkAction */
/** @typedef {import("./types.js").BulkView} BulkView */
/** @typedef {import("./types.js").View} View */

/** Tasks a page of the search holds when the address does not say. */
const PAGE_SIZE = 50;

/**
 * Whether task `a` comes before task `b` in the list (newest first).
 * @param {TaskSummary} a
 * @param {TaskSummary} b
 */
function before(a, b) {
  return a.timeQueued !== b.timeQueued
    ? a.timeQueued > b.timeQueued
    : a.id > b.id;
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
 * @param {string} view `tasks` or `failed`.
 */
function searchOf(form, view) {
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
  return `#/${view}?${next}`;
}

/**
 * The search form, filled with `query`; without the statuses in the
 * Failed view.
 * @param {Readonly<Record<string, string>>} query
 * @param {boolean} failed
 */
function searchForm(query, failed) {
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
        location.hash = searchOf(
          /** @type {HTMLFormElement} */ (event.target),
          failed ? "failed" : "tasks",
        );
      },
    },
    field("id", "Id", { size: 34, placeholder: "task id" }),
    field("job", "Job"),
    failed ? null : el(
      "fieldset",
      { class: "chips", id: "status-filter" },
      el("legend", {}, "Status"),
      STATUSES.map((s) =>
        el(
          "label",
          { class: "chip" },
          el("input", {
            type: "checkbox",
            name: "status",
            value: s,
            checked: chosen.includes(s),
          }),
          s,
        )
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
 * What a bulk action did, in words.
 * @param {BulkView} view
 */
function said(view) {
  const verb = { retry: "Retried", delete: "Deleted", revoke: "Revoked" }[
    view.action
  ];
  let text = `${verb} ${plural(view.done, "task")}`;
  if (view.skipped) {
    text += `; left ${view.skipped} alone`;
    if (view.skips.length) {
      text += ` (${
        view.skips.map((s) => `${s.id.slice(-8)}: ${s.reason}`).join("; ")
      })`;
    } else if (view.action === "delete") {
      text += " (queued, running or gone)";
    }
  }
  if (view.more) text += ". More match: run it again";
  return text;
}

/**
 * The Tasks view of a search (or the Failed view).
 * @param {URLSearchParams} params The search, from the address.
 * @param {{ failed?: boolean }} [options]
 * @returns {View}
 */
export function tasksView(params, options = {}) {
  const failed = options.failed ?? false;
  const query = Object.fromEntries(params);
  if (failed) query.status = "FAILURE";
  const pageSize = Number(query.limit) || PAGE_SIZE;
  /** The rows shown, by task id, and their tasks. */
  const rows = new Map();
  /** @type {Map<string, TaskSummary>} */
  const tasks = new Map();
  /** The ids selected. */
  const selected = new Set();
  let capacity = pageSize;
  let hasMore = false;
  const body = el("tbody", { id: "task-rows" });
  const more = el("button", { id: "more", hidden: true }, "More");
  const error = el("p", { class: "error", id: "search-error" });
  const count = el("span", { id: "selected-count", class: "muted" });
  const all = el("input", {
    type: "checkbox",
    id: "select-all",
    title: "Select every task shown",
    onchange: () => {
      for (const id of rows.keys()) {
        if (all.checked) selected.add(id);
        else selected.delete(id);
      }
      for (const box of body.querySelectorAll("input.select")) {
        /** @type {HTMLInputElement} */ (box).checked = all.checked;
      }
      sayCount();
    },
  });
  const sayCount = () => {
    count.textContent = selected.size ? `${selected.size} selected` : "";
  };

  /**
   * The row of a task.
   * @param {TaskSummary} task
   */
  const taskRow = (task) =>
    el(
      "tr",
      { dataset: { id: task.id, status: task.statusString } },
      el(
        "td",
        {},
        el("input", {
          type: "checkbox",
          class: "select",
          checked: selected.has(task.id),
          "aria-label": `Select ${task.id}`,
          onchange: (/** @type {Event} */ event) => {
            const box = /** @type {HTMLInputElement} */ (event.target);
            if (box.checked) selected.add(task.id);
            else selected.delete(task.id);
            sayCount();
          },
        }),
      ),
      el("td", { class: "mono" }, taskLink(task.id)),
      el("td", {}, jobLink(task.name)),
      el("td", {}, statusCell(task.statusString)),
      el("td", { class: "mono" }, task.queue ?? "-"),
      el("td", { class: "time" }, time(task.timeQueued)),
      el(
        "td",
        { class: "num" },
        task.timeStarted
          ? duration((task.timeEnded ?? now()) - task.timeStarted)
          : "-",
      ),
      el("td", {}, progressCell(task.progress)),
      el("td", { class: "mono kwargs", title: task.kwargs }, task.kwargs),
      el(
        "td",
        { class: "mono task-error", title: task.error ?? "" },
        task.error ?? "",
      ),
    );

  /**
   * Puts a task's row in its place (newest first); drops the rows past
   * the pages loaded.
   * @param {TaskSummary} task
   */
  const place = (task) => {
    const row = taskRow(task);
    const old = rows.get(task.id);
    rows.set(task.id, row);
    tasks.set(task.id, task);
    if (old) return old.replaceWith(row);
    // Before the first row it is newer than (the rows are in order).
    let next = null;
    for (const child of body.children) {
      const other = tasks.get(
        /** @type {HTMLElement} */ (child).dataset.id ?? "",
      );
      if (other && before(task, other)) {
        next = child;
        break;
      }
    }
    body.insertBefore(row, next);
    while (rows.size > capacity) {
      const last = /** @type {HTMLElement} */ (body.lastElementChild);
      const id = /** @type {string} */ (last.dataset.id);
      last.remove();
      rows.delete(id);
      tasks.delete(id);
      hasMore = true;
      more.hidden = false;
    }
  };

  /** The cursor of the page after the last one loaded, if any. */
  /** @type {string | undefined} */
  let nextCursor;

  /**
   * Loads the first page, or the page after `cursor`; with `limit`, that
   * many tasks from the first (after live tasks pushed rows out, "More"
   * reads them again).
   * @param {string} [cursor]
   * @param {number} [limit]
   */
  const load = async (cursor, limit) => {
    const search = new URLSearchParams(query);
    if (cursor) search.set("cursor", cursor);
    if (limit) search.set("limit", String(limit));
    try {
      const page = await searchTasks(search);
      if (cursor) capacity += pageSize;
      if (limit) capacity = limit;
      for (const task of page.tasks) {
        if (!rows.has(task.id)) place(task);
      }
      nextCursor = page.next;
      hasMore = Boolean(page.next);
      more.hidden = !page.next;
      error.textContent = "";
    } catch (e) {
      error.textContent = messageOf(e);
    }
  };
  more.onclick = () =>
    nextCursor
      ? load(nextCursor)
      : load(undefined, Math.min(500, capacity + pageSize));

  /** Reads the first page again (after an action). */
  const reload = async () => {
    rows.clear();
    tasks.clear();
    selected.clear();
    all.checked = false;
    sayCount();
    body.replaceChildren();
    capacity = pageSize;
    await load();
  };

  /**
   * Runs a bulk action, once confirmed.
   * @param {BulkAction} action
   * @param {"selected" | "all"} which
   */
  const act = async (action, which) => {
    const ids = [...selected];
    if (which === "selected" && ids.length === 0) {
      return notify("Select tasks first (the boxes on the left)", true);
    }
    const what = which === "all"
      ? "every failed task this search finds (up to 1,000 an action)"
      : plural(ids.length, "selected task");
    const how = {
      retry:
        "Each failed or revoked one gets a copy queued (a first attempt) and is then deleted.",
      delete:
        "Finished ones are dropped with their results; queued and running ones stay.",
      revoke: "Queued ones never run; running ones are stopped.",
    }[action];
    if (
      !confirm(`${action[0].toUpperCase()}${action.slice(1)} ${what}? ${how}`)
    ) {
      return;
    }
    /** @type {Record<string, string>} */
    const filter = {};
    for (const key of ["job", "queue", "text", "since", "until", "status"]) {
      if (query[key]) filter[key] = query[key];
    }
    try {
      const view = await bulkAction(
        action,
        which === "all" ? { filter } : { ids },
      );
      await reload();
      notify(said(view));
    } catch (e) {
      notify(messageOf(e), true);
    }
  };

  /**
   * A bulk action's button.
   * @param {string} id
   * @param {string} text
   * @param {BulkAction} action
   * @param {"selected" | "all"} which
   * @param {string} [cls]
   */
  const button = (id, text, action, which, cls) =>
    el("button", {
      id,
      type: "button",
      class: cls ?? "",
      onclick: () => act(action, which),
    }, text);

  /** @type {View} */
  return {
    // Drawn once: a live update must not rebuild the search being typed.
    async render() {
      show(
        el("h2", {}, failed ? "Failed tasks" : "Tasks"),
        failed
          ? el(
            "p",
            { class: "legend-note" },
            "Tasks whose attempts are spent (FAILURE), with their error. Retry queues a copy of each (a first attempt) and deletes the failed task: safe to click twice.",
          )
          : null,
        searchForm(query, failed),
        error,
        el(
          "div",
          { class: "actions", id: "bulk-actions" },
          button("bulk-retry", "Retry selected", "retry", "selected"),
          button("bulk-revoke", "Revoke selected", "revoke", "selected"),
          button(
            "bulk-delete",
            "Delete selected",
            "delete",
            "selected",
            "danger",
          ),
          failed
            ? button("retry-all", "Retry all failed", "retry", "all", "primary")
            : null,
          failed
            ? button(
              "delete-all",
              "Delete all failed",
              "delete",
              "all",
              "danger",
            )
            : null,
          count,
        ),
        el("p", { id: "notice" }),
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", {}, all),
              [
                "Id",
                "Job",
                "Status",
                "Queue",
                "Queued",
                "#Ran",
                "Progress",
                "Kwargs",
                "Error",
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
      if (rows.has(task.id)) return place(task);
      if (!matches(query, task)) return;
      // A full list shows the newest tasks: an older one waits for "More".
      const last = /** @type {HTMLElement | null} */ (body.lastElementChild);
      const oldest = last?.dataset.id ? tasks.get(last.dataset.id) : undefined;
      if (hasMore && oldest && !before(task, oldest)) return;
      place(task);
    },
  };
}

/**
 * The Failed view: the Tasks view held to FAILURE, with "retry all" and
 * "delete all".
 * @param {URLSearchParams} params
 * @returns {View}
 */
export function failedView(params) {
  return tasksView(params, { failed: true });
}
