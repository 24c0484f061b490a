// pq dashboard: the page's script (served by src/web/dashboard.ts).
//
// Invariants: task data is only ever put in the page as text (text nodes,
// textContent, attribute values of our own links): never as markup. Live
// updates come from one EventSource (/api/events); the page reads the API
// when a view opens or its search changes, never on a timer. Every action is
// a POST with the session's CSRF token.
"use strict";

const DONE = ["SUCCESS", "FAILURE", "REVOKED", "RETRY"];
const COLORS = {
  SUCCESS: "#15803d",
  FAILURE: "#b91c1c",
  REVOKED: "#7c3aed",
  RETRY: "#d97706",
};
const STATUSES = [
  "QUEUED",
  "STARTED",
  "SUCCESS",
  "FAILURE",
  "REVOKED",
  "RETRY",
];

const state = {
  csrf: null,
  rateSeconds: 900,
  /** second -> { SUCCESS, FAILURE, REVOKED, RETRY } */
  rate: new Map(),
  cluster: { queues: [], workers: [], time: 0 },
  chart: null,
  view: null,
  /** The open Tasks view: its query, rows by id, and its next cursor. */
  tasks: null,
  /** The open task page's id, and a pending refresh. */
  taskId: null,
  taskRefresh: null,
  /** The open workflow page's id. */
  workflowId: null,
  /** The hash of the view last shown (its notice outlives a re-render). */
  shownHash: null,
};

// ---------------------------------------------------------------- helpers

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "value") node.value = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A link to a view of this page. */
function link(hash, text) {
  return el("a", { href: hash }, text);
}

// A task id's last 8 characters: pq's ids (UUIDv7) begin with their time,
// the same for every task of a minute, and end with random digits.
function taskLink(id, text) {
  return link(`#/task/${encodeURIComponent(id)}`, text ?? id.slice(-8));
}

function jobLink(name) {
  return link(`#/job/${encodeURIComponent(name)}`, name);
}

function time(seconds) {
  if (typeof seconds !== "number") return "-";
  return new Date(seconds * 1000).toLocaleString();
}

function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "-";
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function now() {
  return Date.now() / 1000;
}

function statusCell(name) {
  return el("span", { class: `status status-${name}` }, name);
}

function progressCell(progress) {
  if (!progress) return "";
  return el(
    "span",
    { class: "progress" },
    el("progress", { max: "1", value: String(progress.value) }),
    " ",
    `${Math.round(progress.value * 100)}%`,
    progress.message ? ` ${progress.message}` : "",
  );
}

function table(headers, rows, empty) {
  return el(
    "table",
    {},
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        headers.map((h) =>
          el(
            "th",
            { class: h.startsWith("#") ? "num" : "" },
            h.replace("#", ""),
          )
        ),
      ),
    ),
    el(
      "tbody",
      {},
      rows.length
        ? rows
        : el("tr", {}, el("td", { colspan: headers.length }, empty ?? "None")),
    ),
  );
}

function json(value) {
  return JSON.stringify(value, null, 2) ?? "null";
}

async function api(path) {
  const response = await fetch(path, {
    headers: { accept: "application/json" },
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
  return data;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-csrf-token": state.csrf ?? "",
    },
    body: JSON.stringify(body ?? {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
  return data;
}

function show(...nodes) {
  const view = document.getElementById("view");
  // A live re-render of the same view keeps what its notice says.
  const old = state.shownHash === location.hash
    ? document.getElementById("notice")
    : null;
  view.replaceChildren(
    ...nodes.flat(Infinity).filter((node) =>
      node !== null && node !== undefined && node !== false
    ),
  );
  state.shownHash = location.hash;
  const notice = document.getElementById("notice");
  if (old?.textContent && notice && notice !== old) {
    notice.className = old.className;
    notice.textContent = old.textContent;
  }
}

function showError(error) {
  show(el("p", { class: "error" }, String(error?.message ?? error)));
}

// ---------------------------------------------------------------- live feed

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/events");
  source.onopen = () => {
    live.dataset.state = "live";
    live.textContent = "live";
  };
  source.onerror = () => {
    live.dataset.state = "connecting";
    live.textContent = "reconnecting…";
  };
  source.addEventListener("rate", (event) => {
    const data = JSON.parse(event.data);
    const n = data[DONE[0]].length;
    for (let i = 0; i < n; i++) {
      const counts = {};
      for (const status of DONE) counts[status] = data[status][i];
      state.rate.set(data.start + i, counts);
    }
    const oldest = Math.floor(now()) - state.rateSeconds;
    for (const second of state.rate.keys()) {
      if (second < oldest) state.rate.delete(second);
    }
    if (state.view === "overview") drawChart();
  });
  source.addEventListener("cluster", (event) => {
    state.cluster = JSON.parse(event.data);
    if (["overview", "queues", "workers"].includes(state.view)) render();
  });
  source.addEventListener("tasks", (event) => {
    const { tasks } = JSON.parse(event.data);
    for (const task of tasks) onTask(task);
  });
}

/** A task changed: update the open Tasks view or task page. */
function onTask(task) {
  if (state.view === "tasks" && state.tasks) {
    const rows = state.tasks.rows;
    if (rows.has(task.id)) {
      const row = rows.get(task.id);
      row.replaceWith(rows.set(task.id, taskRow(task)).get(task.id));
    } else if (matches(state.tasks.query, task)) {
      const row = taskRow(task);
      rows.set(task.id, row);
      document.getElementById("task-rows")?.prepend(row);
    }
  }
  if (
    (state.view === "task" && state.taskId === task.id) ||
    (state.view === "workflow" &&
      task.id.startsWith(`${state.workflowId}.`))
  ) {
    clearTimeout(state.taskRefresh);
    state.taskRefresh = setTimeout(() => render(), 200);
  }
}

/** Whether a live task belongs in the results of a search. */
function matches(query, task) {
  if (query.id) return false;
  if (query.job && task.name !== query.job) return false;
  if (query.queue && task.queue !== query.queue) return false;
  if (query.status && !query.status.split(",").includes(task.statusString)) {
    return false;
  }
  if (query.since && task.timeQueued < Number(query.since)) return false;
  if (query.until && task.timeQueued >= Number(query.until)) return false;
  if (query.text) {
    if (!task.kwargs.toLowerCase().includes(query.text.toLowerCase())) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- overview

function chartData() {
  const end = Math.floor(now()) - 1;
  const xs = [];
  const series = DONE.map(() => []);
  for (let s = end - state.rateSeconds + 1; s <= end; s++) {
    xs.push(s);
    const counts = state.rate.get(s);
    DONE.forEach((status, i) => series[i].push(counts ? counts[status] : 0));
  }
  return [xs, ...series];
}

function drawChart() {
  const box = document.getElementById("rate-chart");
  if (!box) return;
  const data = chartData();
  let done = 0;
  let points = 0;
  for (let i = 0; i < data[0].length; i++) {
    const sum = DONE.reduce((n, _, k) => n + data[k + 1][i], 0);
    done += sum;
    if (sum > 0) points++;
  }
  box.dataset.done = String(done);
  box.dataset.points = String(points);
  if (typeof uPlot !== "function") return;
  if (state.chart && state.chart.root.isConnected) {
    state.chart.setData(data);
    return;
  }
  box.replaceChildren();
  state.chart = new uPlot(
    {
      width: Math.max(400, box.clientWidth || 900),
      height: 240,
      series: [
        {},
        ...DONE.map((status) => ({
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
}

function queuesTable(queues, withActions) {
  return table(
    [
      "Queue",
      "#Ready",
      "#Delayed",
      "#Running",
      "#Latency",
      "#Done / s (1 min)",
      "State",
      ...(withActions ? [""] : []),
    ],
    queues.map((q) =>
      el(
        "tr",
        { dataset: { queue: q.queue } },
        el("td", { class: "mono" }, q.queue),
        el("td", { class: "num" }, q.ready),
        el("td", { class: "num" }, q.delayed),
        el("td", { class: "num" }, q.running),
        el("td", { class: "num" }, duration(q.latency)),
        el("td", { class: "num" }, q.throughput.toFixed(2)),
        el(
          "td",
          { class: q.paused ? "status-paused" : "" },
          q.paused ? "paused" : "running",
        ),
        withActions
          ? el(
            "td",
            {},
            el("button", {
              class: "pause",
              onclick: () => setPaused(q.queue, !q.paused),
            }, q.paused ? "Resume" : "Pause"),
            " ",
            el("button", {
              class: "danger",
              onclick: () => purge(q.queue),
            }, "Purge"),
          )
          : null,
      )
    ),
    "No queue holds tasks",
  );
}

async function purge(queue) {
  const ok = confirm(
    `Drop every task waiting in queue "${queue}"? Running and finished tasks stay.`,
  );
  if (!ok) return;
  try {
    const { purged } = await post("/api/queues/purge", { queue });
    alertNotice(`Purged ${purged} task(s) from ${queue}`);
  } catch (error) {
    alertNotice(String(error.message ?? error), true);
  }
}

async function setPaused(queue, paused) {
  try {
    await post(`/api/queues/${paused ? "pause" : "resume"}`, { queue });
    alertNotice(
      paused
        ? `Paused ${queue}: workers take none of its tasks until it is resumed`
        : `Resumed ${queue}`,
    );
  } catch (error) {
    alertNotice(String(error.message ?? error), true);
  }
}

function alertNotice(text, bad) {
  const notice = document.getElementById("notice");
  if (notice) {
    notice.className = bad ? "error" : "notice";
    notice.textContent = text;
  }
}

function workersTable(workers) {
  const t = now();
  return table(
    [
      "Worker",
      "Node",
      "#PID",
      "Running",
      "#Claimed",
      "Queues",
      "#Up",
      "#Memory",
    ],
    workers.map((w) =>
      el(
        "tr",
        { dataset: { worker: w.worker } },
        el("td", { class: "mono" }, w.worker),
        el("td", {}, w.node),
        el("td", { class: "num" }, w.pid),
        el(
          "td",
          {},
          `${w.running.length}/${w.maxConcurrentTasks}`,
          w.running.map((r) =>
            el(
              "div",
              { class: "mono" },
              taskLink(r.id),
              " ",
              r.name || "?",
              " ",
              r.timeStarted ? duration(t - r.timeStarted) : "",
              " ",
              progressCell(r.progress),
            )
          ),
        ),
        el("td", { class: "num" }, w.processed),
        el("td", {}, w.queues.join(", ")),
        el(
          "td",
          { class: "num" },
          // Older workers do not say when they started: since first seen.
          typeof w.started === "number"
            ? duration(t - w.started)
            : "≥ " + duration(t - w.seenSince),
        ),
        el(
          "td",
          { class: "num" },
          typeof w.memory === "number"
            ? `${(w.memory / 2 ** 20).toFixed(0)} MiB`
            : "-",
        ),
      )
    ),
    "No live worker",
  );
}

function overview() {
  const { queues, workers } = state.cluster;
  const queuesBox = el("div", { id: "overview-queues" }, queuesTable(queues));
  const workersBox = el(
    "div",
    { id: "overview-workers" },
    el("h3", {}, `Live workers (${workers.length})`),
    workersTable(workers),
  );
  // Already drawn: only the tables change (the chart keeps its state).
  if (state.chart?.root.isConnected) {
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
  state.chart = null;
  drawChart();
}

function queuesView() {
  show(
    el("h2", {}, "Queues"),
    el("p", { id: "notice" }),
    queuesTable(state.cluster.queues, true),
  );
}

function workersView() {
  show(el("h2", {}, "Workers"), workersTable(state.cluster.workers));
}

// ---------------------------------------------------------------- tasks

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

function toSeconds(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? String(ms / 1000) : undefined;
}

function fromSeconds(value) {
  if (!value) return "";
  const d = new Date(Number(value) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${
    pad(d.getHours())
  }:${pad(d.getMinutes())}`;
}

async function tasksView(params) {
  const query = Object.fromEntries(params);
  const field = (name, label, attrs) =>
    el(
      "label",
      {},
      label,
      el("input", { name, value: query[name] ?? "", ...attrs }),
    );
  const form = el(
    "form",
    {
      class: "search",
      id: "task-search",
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
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
        location.hash = `#/tasks?${next}`;
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
          el("option", {
            value: s,
            selected: (query.status ?? "").split(",").includes(s),
          }, s)
        ),
      ),
    ),
    field("queue", "Queue"),
    el(
      "label",
      {},
      "Queued since",
      el("input", {
        type: "datetime-local",
        name: "since",
        value: fromSeconds(query.since),
      }),
    ),
    el(
      "label",
      {},
      "until",
      el("input", {
        type: "datetime-local",
        name: "until",
        value: fromSeconds(query.until),
      }),
    ),
    field("text", "Text (kwargs, result)"),
    el("button", { class: "primary", type: "submit" }, "Search"),
  );
  const rows = el("tbody", { id: "task-rows" });
  const more = el("button", { id: "more", hidden: true }, "More");
  const error = el("p", { class: "error", id: "search-error" });
  show(
    el("h2", {}, "Tasks"),
    form,
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
          ]
            .map((h) =>
              el(
                "th",
                { class: h.startsWith("#") ? "num" : "" },
                h.replace("#", ""),
              )
            ),
        ),
      ),
      rows,
    ),
    more,
  );
  state.tasks = { query, rows: new Map() };
  const load = async (cursor) => {
    const search = new URLSearchParams(query);
    if (cursor) search.set("cursor", cursor);
    try {
      const page = await api(`/api/tasks?${search}`);
      for (const task of page.tasks) {
        if (state.tasks.rows.has(task.id)) continue;
        const row = taskRow(task);
        state.tasks.rows.set(task.id, row);
        rows.append(row);
      }
      more.hidden = !page.next;
      more.onclick = () => load(page.next);
      error.textContent = "";
    } catch (e) {
      error.textContent = String(e.message ?? e);
    }
  };
  await load();
}

function fields(pairs) {
  return el(
    "dl",
    { class: "fields" },
    pairs.filter(Boolean).flatMap((
      [k, v],
    ) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

async function taskView(id) {
  state.taskId = id;
  let detail;
  try {
    detail = await api(`/api/tasks/${encodeURIComponent(id)}`);
  } catch (error) {
    return showError(error);
  }
  const task = detail.task;
  const notice = el("p", { id: "notice" });
  const running = task.statusString === "STARTED";
  const queued = task.statusString === "QUEUED";
  const finished = ["SUCCESS", "FAILURE", "REVOKED"].includes(
    task.statusString,
  );
  const act = async (what) => {
    try {
      const data = await post(`/api/tasks/${task.id}/${what}`);
      if (what === "rerun") location.hash = `#/task/${data.id}`;
      else alertNotice(`Revoke: ${data.outcome}`);
    } catch (error) {
      alertNotice(String(error.message ?? error), true);
    }
  };
  show(
    el("h2", {}, "Task ", el("span", { class: "mono" }, task.id)),
    el(
      "div",
      { class: "actions" },
      queued || running
        ? el("button", {
          id: "revoke",
          class: "danger",
          onclick: () => act("revoke"),
        }, "Revoke")
        : null,
      finished
        ? el(
          "button",
          { id: "rerun", onclick: () => act("rerun") },
          "Run again",
        )
        : null,
    ),
    notice,
    el(
      "div",
      { class: "card" },
      fields([
        ["job", jobLink(task.name)],
        [
          "status",
          el("span", { id: "task-status" }, statusCell(task.statusString)),
        ],
        ["queue", task.queue ?? "- (ran in its producer)"],
        ["attempt", String(task.retry)],
        ["queued", time(task.timeQueued)],
        task.delay ? ["delay", duration(task.delay)] : null,
        task.timeout ? ["timeout", duration(task.timeout)] : null,
        ["started", time(task.timeStarted)],
        [
          "ended",
          task.timeEnded
            ? `${time(task.timeEnded)} (ran ${
              duration(task.timeEnded - (task.timeStarted ?? task.timeEnded))
            })`
            : "-",
        ],
        ["worker", task.worker ? `${task.worker} on ${task.node ?? "?"}` : "-"],
        task.fromTask
          ? ["from task", taskLink(task.fromTask, task.fromTask)]
          : null,
        typeof task.meta?.workflow?.id === "string"
          ? ["workflow", workflowLink(task.meta.workflow.id)]
          : null,
        ["progress", task.progress ? progressCell(task.progress) : "-"],
        task.traceparent ? ["traceparent", task.traceparent] : null,
      ]),
    ),
    el("h3", {}, "Kwargs"),
    el("pre", { id: "task-kwargs" }, json(task.kwargs)),
    el("h3", {}, "Result"),
    el("pre", { id: "task-result" }, json(task.result)),
    task.exception ? el("h3", {}, "Exception") : null,
    task.exception ? el("pre", { class: "error" }, task.exception) : null,
    task.stacktrace?.length ? el("h3", {}, "Stack") : null,
    task.stacktrace?.length ? el("pre", {}, task.stacktrace.join("\n")) : null,
    task.progress && task.progress.data !== undefined
      ? [el("h3", {}, "Progress data"), el("pre", {}, json(task.progress.data))]
      : null,
    el("h3", {}, "Meta"),
    el("pre", {}, json(task.meta)),
    el("h3", {}, `Attempts (${detail.attempts.length})`),
    table(
      ["#", "Id", "Status", "Queued", "#Ran"],
      detail.attempts.map((a) =>
        el(
          "tr",
          { class: a.id === task.id ? "current" : "" },
          el("td", {}, String(a.retry)),
          el("td", { class: "mono" }, taskLink(a.id, a.id)),
          el("td", {}, statusCell(a.statusString)),
          el("td", {}, time(a.timeQueued)),
          el(
            "td",
            { class: "num" },
            a.timeStarted && a.timeEnded
              ? duration(a.timeEnded - a.timeStarted)
              : "-",
          ),
        )
      ),
    ),
  );
}

// ---------------------------------------------------------------- workflows

function workflowLink(id) {
  return el(
    "a",
    { id: "workflow-link", href: `#/workflow/${encodeURIComponent(id)}` },
    id,
  );
}

async function workflowView(id) {
  state.workflowId = id;
  let workflow;
  try {
    workflow = await api(`/api/workflows/${encodeURIComponent(id)}`);
  } catch (error) {
    return showError(error);
  }
  const ended = (m) =>
    m.task && ["SUCCESS", "FAILURE", "REVOKED"].includes(m.task.statusString);
  const revoke = async () => {
    if (!confirm(`Revoke workflow ${id}? Members not ended never run.`)) return;
    try {
      const { outcomes } = await post(
        `/api/workflows/${encodeURIComponent(id)}/revoke`,
      );
      const counts = {};
      for (const outcome of Object.values(outcomes)) {
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
      alertNotice(
        `Revoke: ${
          Object.entries(counts).map(([o, n]) => `${n} ${o}`).join(", ")
        }`,
      );
    } catch (error) {
      alertNotice(String(error.message ?? error), true);
    }
  };
  show(
    el("h2", {}, "Workflow ", el("span", { class: "mono" }, workflow.id)),
    el(
      "div",
      { class: "actions" },
      workflow.members.every(ended) ? null : el("button", {
        id: "revoke-workflow",
        class: "danger",
        onclick: revoke,
      }, "Revoke"),
    ),
    el("p", { id: "notice" }),
    table(
      ["#Step", "Task", "Job", "Status", "Result"],
      workflow.members.map((m) =>
        el(
          "tr",
          { dataset: { id: m.id } },
          el("td", { class: "num" }, String(m.step)),
          el("td", { class: "mono" }, m.task ? taskLink(m.id, m.id) : m.id),
          el("td", {}, jobLink(m.job)),
          el(
            "td",
            {},
            m.task ? statusCell(m.task.statusString) : "not queued",
          ),
          el("td", { class: "mono kwargs" }, m.result ?? ""),
        )
      ),
    ),
  );
}

// ---------------------------------------------------------------- jobs

function statsCells(stats) {
  const count = (s) => stats.counts[s] ?? 0;
  return [
    el("td", { class: "num" }, `${stats.tasks}${stats.sampled ? "+" : ""}`),
    el("td", { class: "num" }, count("SUCCESS")),
    el("td", { class: "num" }, count("FAILURE")),
    el("td", { class: "num" }, count("REVOKED")),
    el("td", { class: "num" }, duration(stats.p50)),
    el("td", { class: "num" }, duration(stats.p95)),
    el("td", { class: "num" }, duration(stats.p99)),
  ];
}

async function jobsView() {
  let data;
  try {
    data = await api("/api/jobs");
  } catch (error) {
    return showError(error);
  }
  show(
    el("h2", {}, "Jobs"),
    table(
      [
        "Job",
        "Mode",
        "Queue",
        "Workers",
        "#Tasks",
        "#Success",
        "#Failure",
        "#Revoked",
        "#p50",
        "#p95",
        "#p99",
      ],
      data.jobs.map((job) =>
        el(
          "tr",
          { dataset: { job: job.name } },
          el("td", {}, jobLink(job.name)),
          el("td", {}, job.mode ?? "-"),
          el("td", { class: "mono" }, job.defaultQueue ?? "(default)"),
          el("td", {}, String(job.workers.length)),
          statsCells(job.stats),
        )
      ),
      "No job is known here or on a live worker",
    ),
    el(
      "p",
      { class: "legend-note" },
      "Counts and run times over the newest retained tasks (up to 500 per job; + when there are more).",
    ),
  );
}

async function jobView(name) {
  let data;
  try {
    data = await api(`/api/jobs/${encodeURIComponent(name)}`);
  } catch (error) {
    return showError(error);
  }
  const { job, stats } = data;
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
  const submit = async (event) => {
    event.preventDefault();
    error.textContent = "";
    let parsed;
    try {
      parsed = JSON.parse(kwargs.value || "{}");
    } catch (e) {
      error.textContent = `The kwargs are not JSON: ${e.message}`;
      return;
    }
    const body = { kwargs: parsed };
    if (queue.value.trim()) body.queue = queue.value.trim();
    if (delay.value.trim()) body.delay = Number(delay.value);
    try {
      const { id } = await post(
        `/api/jobs/${encodeURIComponent(job.name)}/queue`,
        body,
      );
      location.hash = `#/task/${id}`;
    } catch (e) {
      error.textContent = String(e.message ?? e);
    }
  };
  show(
    el("h2", {}, "Job ", el("span", { class: "mono" }, job.name)),
    el(
      "div",
      { class: "card" },
      fields([
        ["doc", job.doc ?? "-"],
        ["mode", job.mode ?? "-"],
        ["type", job.type ?? "-"],
        ["default queue", job.defaultQueue ?? "(default)"],
        ["timeout", job.timeout ? duration(job.timeout) : "-"],
        ["max concurrency", job.maxConcurrency ?? "-"],
        [
          "kwargs checked here",
          job.schema ? "yes (by its schema)" : "no (by the worker only)",
        ],
        ["live workers", job.workers.join(", ") || "-"],
      ]),
    ),
    el("h3", {}, "Retained tasks"),
    table(
      ["#Tasks", "#Success", "#Failure", "#Revoked", "#p50", "#p95", "#p99"],
      [el("tr", {}, statsCells(stats))],
    ),
    el(
      "p",
      {},
      link(`#/tasks?job=${encodeURIComponent(job.name)}`, "Its tasks"),
    ),
    el("h3", {}, "Queue a task"),
    el(
      "form",
      { id: "queue-form", class: "card", onsubmit: submit },
      el("label", {}, "Kwargs (JSON object)", kwargs),
      el("label", {}, "Queue", queue),
      el("label", {}, "Delay (s)", delay),
      el("p", {}, el("button", { class: "primary", type: "submit" }, "Queue")),
      error,
    ),
  );
}

// ---------------------------------------------------------------- routing

function route() {
  const hash = location.hash.replace(/^#\/?/, "") || "overview";
  const [path, search = ""] = hash.split("?");
  const [view, ...rest] = path.split("/");
  return {
    view,
    arg: rest.length ? decodeURIComponent(rest.join("/")) : undefined,
    params: new URLSearchParams(search),
  };
}

let rendering = Promise.resolve();

function render() {
  rendering = rendering.then(renderNow, renderNow);
  return rendering;
}

async function renderNow() {
  const { view, arg, params } = route();
  const changed = view !== state.view;
  state.view = view;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle(
      "active",
      a.dataset.view === view ||
        (a.dataset.view === "tasks" &&
          (view === "task" || view === "workflow")) ||
        (a.dataset.view === "jobs" && view === "job"),
    );
  }
  if (view !== "tasks") state.tasks = null;
  if (view !== "task") state.taskId = null;
  if (view !== "workflow") state.workflowId = null;
  try {
    if (view === "overview") overview();
    else if (view === "queues") queuesView();
    else if (view === "workers") workersView();
    else if (view === "tasks") {
      // A live update must not rebuild the search the user is typing in.
      if (changed || !state.tasks) await tasksView(params);
    } else if (view === "task" && arg) await taskView(arg);
    else if (view === "workflow" && arg) await workflowView(arg);
    else if (view === "jobs") await jobsView();
    else if (view === "job" && arg) await jobView(arg);
    else show(el("p", { class: "error" }, `No view '${view}'`));
  } catch (error) {
    showError(error);
  }
  document.body.dataset.view = view;
}

async function main() {
  try {
    const session = await api("/api/session");
    state.csrf = session.csrf;
    document.getElementById("store").textContent = session.store;
    const overviewData = await api("/api/overview");
    state.rateSeconds = overviewData.rateSeconds;
    const rate = overviewData.rate;
    for (let i = 0; i < rate[DONE[0]].length; i++) {
      const counts = {};
      for (const status of DONE) counts[status] = rate[status][i];
      state.rate.set(rate.start + i, counts);
    }
    state.cluster = overviewData.cluster;
  } catch (error) {
    return showError(error);
  }
  addEventListener("hashchange", () => {
    state.view = null;
    render();
  });
  connect();
  await render();
  document.body.dataset.ready = "true";
}

main();
