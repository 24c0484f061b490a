/**
 * The page's views by address (`#/<view>/<arg>?<query>`): which view an
 * address opens, drawing it, and handing it the live feed's news while it
 * is open.
 *
 * Invariants: one view is open at a time, made anew when the address
 * changes; draws run one after the other, never two at once; a view that
 * was left hears nothing more (its late refreshes are dropped).
 * @module
 */
import { el, show, showError } from "./dom.js";
import { jobView } from "./job_view.js";
import { jobsView } from "./jobs_view.js";
import { overviewView } from "./overview_view.js";
import { queuesView } from "./queues_view.js";
import { schedulesView } from "./schedules_view.js";
import { taskView } from "./task_view.js";
import { failedView, tasksView } from "./tasks_view.js";
import { workersView } from "./workers_view.js";
import { workflowView } from "./workflow_view.js";

/** @typedef {import("./types.js").TaskSummary} TaskSummary */
/** @typedef {import("./types.js").View} View */
/** @typedef {import("./types.js").ViewRoute} ViewRoute */

/**
 * The views by name: each makes its view for an address (undefined: the
 * address lacks what the view needs).
 * @type {Readonly<Record<string, (route: ViewRoute) => View | undefined>>}
 */
const VIEWS = {
  overview: () => overviewView(),
  queues: () => queuesView(),
  workers: () => workersView(),
  tasks: (route) => tasksView(route.params),
  failed: (route) => failedView(route.params),
  task: (route) => route.arg ? taskView(route.arg, route.refresh) : undefined,
  workflow: (route) =>
    route.arg ? workflowView(route.arg, route.refresh) : undefined,
  jobs: () => jobsView(),
  job: (route) => route.arg ? jobView(route.arg) : undefined,
  schedules: (route) => schedulesView(route.refresh),
};

/** The menu entry of the views that have none of their own. */
const MENU_OF = /** @type {Readonly<Record<string, string>>} */ ({
  task: "tasks",
  workflow: "tasks",
  job: "jobs",
});

/**
 * An address's view name, the rest of its path (decoded) and its query.
 * @param {string} hash
 */
export function parseHash(hash) {
  const address = hash.replace(/^#\/?/, "") || "overview";
  const [path, search = ""] = address.split("?");
  const [name, ...rest] = path.split("/");
  return {
    name,
    arg: rest.length ? decodeURIComponent(rest.join("/")) : undefined,
    params: new URLSearchParams(search),
  };
}

/** Opens the view of the address, and keeps it up to date. */
export class Router {
  /** @type {View | undefined} */
  #view;
  /** @type {Promise<void>} */
  #drawing = Promise.resolve();

  /** Opens the view of the current address; resolves once it is drawn. */
  open() {
    const { name, arg, params } = parseHash(location.hash);
    /** @type {View | undefined} */
    let view;
    const refresh = () => {
      if (view && view === this.#view) this.#draw(view);
    };
    try {
      view = VIEWS[name]?.({ arg, params, refresh });
    } catch (error) {
      showError(error);
    }
    this.#view = view;
    for (const a of document.querySelectorAll("nav a")) {
      const entry = /** @type {HTMLElement} */ (a).dataset.view;
      a.classList.toggle("active", entry === (MENU_OF[name] ?? name));
    }
    if (!view) {
      show(el("p", { class: "error" }, `No view '${name}'`));
      document.body.dataset.view = name;
      return this.#drawing;
    }
    return this.#draw(view, name);
  }

  /**
   * A task changed (the live feed).
   * @param {TaskSummary} task
   */
  task(task) {
    this.#view?.onTask?.(task);
  }

  /** New queues and workers were read (the live feed). */
  cluster() {
    const view = this.#view;
    if (view?.onCluster) this.#after(view, view.onCluster);
  }

  /**
   * Draws `view` once the draws before it are done, if it is still open.
   * @param {View} view
   * @param {string} [name] Its name, for `body[data-view]` once drawn.
   */
  #draw(view, name) {
    return this.#after(view, async () => {
      try {
        await view.render();
      } catch (error) {
        showError(error);
      }
      if (name !== undefined) document.body.dataset.view = name;
    });
  }

  /**
   * Runs `work` after the draws before it, if `view` is still open then.
   * @param {View} view
   * @param {() => Promise<void> | void} work
   */
  #after(view, work) {
    const run = async () => {
      if (view === this.#view) await work();
    };
    this.#drawing = this.#drawing.then(run, run);
    return this.#drawing;
  }
}
