/**
 * `pq dashboard`: a one-page web app on `Deno.serve`, fed live by the
 * store's events (see `live.ts`), with `/metrics` for Prometheus.
 *
 * Routes (JSON unless said; every `POST` is an action, see `auth.ts`):
 *
 * | route                              | what                                        |
 * | ---------------------------------- | ------------------------------------------- |
 * | `GET /`                            | the page (opens a session)                  |
 * | `GET /assets/<file>`               | its script and styles, and uPlot's (npm)    |
 * | `GET /api/session`                 | the session's CSRF token, the store URL     |
 * | `GET /api/events`                  | server-sent events (`live.ts`)              |
 * | `GET /api/overview`                | the 15-minute rate, queues and workers      |
 * | `GET /api/tasks?…`                 | a search (`id`, `status`, `job`, `queue`, `since`, `until`, `text`, `limit`, `cursor`) |
 * | `GET /api/tasks/<id>`              | a task and its attempts                     |
 * | `POST /api/tasks/<id>/revoke`      | revoke it (queued or running)               |
 * | `POST /api/tasks/<id>/rerun`       | queue a copy of a finished task             |
 * | `GET /api/workflows/<id>`          | a workflow's members with their tasks       |
 * | `POST /api/workflows/<id>/revoke`  | revoke it (every member not ended)          |
 * | `POST /api/queues/purge`           | `{ queue }`: drop its waiting tasks         |
 * | `POST /api/queues/pause`, `/resume`| `{ queue }`: stop or restart its claims     |
 * | `GET /api/jobs`, `/api/jobs/<name>`| the jobs, with counts and run-time p50/p95/p99 |
 * | `POST /api/jobs/<name>/queue`      | `{ kwargs, queue?, delay?, timeout? }`      |
 * | `GET /metrics`                     | Prometheus text (`metrics.ts`)              |
 *
 * Invariants: every input (query, path, body) is checked and a bad one is a
 * 400 that says what is wrong; the page gets task data as JSON and draws it
 * as text only; the store's URL is shown as `Store.url` (its password
 * masked), never the setting; responses forbid framing, sniffing and
 * referrers, and the page may load only its own scripts.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Registry } from "prom-client";
import { z } from "zod";
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import { TaskNotAvailable } from "../model/errors.ts";
import type { Producer } from "../producer/producer.ts";
import { READY_STATES, statusString, TaskStatus } from "../model/status.ts";
import type { TaskQuery } from "../store/store.ts";
import {
  type Dict,
  TASK_ID_PATTERN,
  TASK_ID_RULE,
  type TaskRecord,
} from "../model/task.ts";
import appCss from "./assets/app.css" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import indexHtml from "./assets/index.html" with { type: "text" };
import {
  type AuthResult,
  DashboardAuth,
  errorResponse,
  isLoopback,
  type Session,
} from "./auth.ts";
import { LiveFeed, RATE_SECONDS } from "./live.ts";
import {
  checkPort,
  metricsResponse,
  StoreGauges,
  TaskMetrics,
} from "./metrics.ts";
import { type TaskDetail, taskSummary } from "./task_view.ts";
import { type WorkflowDetail, workflowDetail } from "./workflow_view.ts";

const logger = getLogger(["pq", "dashboard"]);

/** The default port of `pq dashboard`. */
export const DASHBOARD_PORT = 8787;
/** The most bytes of an action's body. */
const MAX_BODY_BYTES = 1 << 20;
/** The most attempts of a task shown on its page. */
const MAX_ATTEMPTS = 50;
/** The most finished tasks a job's page reads for its statistics. */
const JOB_PAGE_TASKS = 5000;
/** The most finished tasks the job list reads per job. */
const JOB_LIST_TASKS = 500;

/** The page's headers: its own scripts only, no framing, no referrer. */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** The static files, by path. */
const ASSETS: Record<string, { body: string; type: string }> = {
  "/assets/app.js": { body: appJs, type: "text/javascript; charset=utf-8" },
  "/assets/app.css": { body: appCss, type: "text/css; charset=utf-8" },
  "/assets/uplot.js": { body: uplotJs, type: "text/javascript; charset=utf-8" },
  "/assets/uplot.css": { body: uplotCss, type: "text/css; charset=utf-8" },
};

/**
 * What {@linkcode startDashboard} takes.
 *
 * @example
 * ```ts
 * import type { DashboardOptions, Producer } from "@pq/queue";
 * const options = (api: Producer): DashboardOptions => ({
 *   api,
 *   hostname: "0.0.0.0",
 *   token: Deno.env.get("PQ_DASHBOARD_TOKEN"),
 * });
 * ```
 */
export interface DashboardOptions {
  /** A producer on the cluster's store (started here if it is not). */
  api: Producer;
  /** The address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** The port (default 8787; 0 for any free one). */
  port?: number;
  /** The token requests must carry; required off loopback. */
  token?: string;
}

/**
 * A running dashboard (from {@linkcode startDashboard}).
 *
 * @example
 * ```ts
 * import type { Dashboard } from "@pq/queue";
 * const stop = (dashboard: Dashboard) => dashboard.close();
 * ```
 */
export interface Dashboard extends AsyncDisposable {
  /** `http://<host>:<port>/` (without the token). */
  readonly url: string;
  /** Resolves once the dashboard has stopped. */
  readonly finished: Promise<void>;
  /** Stops serving (ends every live stream). Idempotent. */
  close(): Promise<void>;
}

/** The statuses of a task that ran (or was revoked) to its end. */
const FINISHED: ReadonlySet<number> = new Set([
  ...READY_STATES,
  TaskStatus.RETRY,
]);

/** The names of the statuses, for the `status` search. */
const STATUS_CODES = new Map(
  Object.entries(TaskStatus).map(([name, code]) => [name, code]),
);

const TASK_ID = z.string().regex(TASK_ID_PATTERN, `must be ${TASK_ID_RULE}`);
const NAME = z.string().min(1).max(500);
const SECONDS = z.coerce.number().refine(Number.isFinite, "must be a number");

/** The query of `GET /api/tasks`. */
const SearchSchema = z.strictObject({
  id: TASK_ID.optional(),
  status: z.string().transform((text, ctx) => {
    const codes = [];
    for (const name of text.split(",").map((s) => s.trim().toUpperCase())) {
      const code = STATUS_CODES.get(name);
      if (code === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `unknown status '${name}': use ${
            [...STATUS_CODES.keys()].join(", ")
          }`,
        });
        return z.NEVER;
      }
      codes.push(code);
    }
    return codes;
  }).optional(),
  job: NAME.optional(),
  queue: NAME.optional(),
  since: SECONDS.optional(),
  until: SECONDS.optional(),
  text: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().min(1).max(2000).optional(),
});

/** The body of `POST /api/jobs/<name>/queue`. */
const QueueSchema = z.strictObject({
  kwargs: z.record(z.string(), z.unknown()).default({}),
  queue: NAME.optional(),
  delay: z.number().nonnegative().optional(),
  timeout: z.number().positive().optional(),
});

/** The body of `POST /api/queues/purge`, `/pause` and `/resume`. */
const QueueNameSchema = z.strictObject({ queue: NAME });

/** A refusal for bad input: 400 with what is wrong. */
class BadRequest extends Error {
  /** @param status The HTTP status (400 unless said). */
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = "BadRequest";
  }
}

/** Checks a value with a schema; a BadRequest naming what is wrong. */
function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new BadRequest(`Bad ${what}: ${z.prettifyError(parsed.error)}`);
}

/** Reads a JSON body of at most {@linkcode MAX_BODY_BYTES}. */
async function readJson(request: Request): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new BadRequest(`Body over ${MAX_BODY_BYTES} bytes`, 413);
    }
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new BadRequest(`The body is not JSON: ${(error as Error).message}`);
  }
}

/** What `read` gives of workflow `id`, or a 404 when there is none. */
async function readWorkflow<T>(
  read: () => Promise<T | undefined>,
  id: string,
): Promise<T> {
  const found = await read();
  if (found === undefined) {
    throw new BadRequest(
      `No workflow with id '${id}' (unknown, or its first step dropped after its retention)`,
      404,
    );
  }
  return found;
}

/** A task record as the page gets it: with its status name. */
function withStatus(record: TaskRecord): TaskDetail["task"] {
  return { ...record, statusString: statusString(record.status) };
}

/** Percentile by nearest rank of sorted values (null when none). */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

/** Counts and run-time percentiles of a job, over its retained tasks. */
export interface JobStats {
  /** Tasks read, by status name. */
  counts: Record<string, number>;
  /** How many tasks were read. */
  tasks: number;
  /** True when there were more than were read (the newest were). */
  sampled: boolean;
  /** Run-time percentiles in seconds, of the tasks that ran (null: none). */
  p50: number | null;
  /** 95th percentile. */
  p95: number | null;
  /** 99th percentile. */
  p99: number | null;
}

/**
 * Starts the dashboard on `hostname:port`.
 *
 * @throws {TypeError} off loopback without a token (or with an empty one);
 * {@linkcode RangeError} for a bad port; the listen error, naming the
 * address.
 *
 * @param options The producer, the address, the port and the token.
 * @returns The dashboard, serving; `close()` (or `await using`) stops it.
 *
 * @example
 * ```ts
 * import { PulsarQueue, startDashboard } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * await using dashboard = await startDashboard({ api, port: 0 });
 * console.log(dashboard.url); // http://127.0.0.1:<port>/
 * ```
 */
export async function startDashboard(
  options: DashboardOptions,
): Promise<Dashboard> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = checkPort(options.port ?? DASHBOARD_PORT, "The dashboard port");
  const token = options.token;
  if (token !== undefined && token.length === 0) {
    throw new TypeError("The dashboard token must not be empty");
  }
  if (!isLoopback(hostname) && token === undefined) {
    throw new TypeError(
      `The dashboard refuses to listen on ${hostname} without a token: give --token <secret> (or PQ_DASHBOARD_TOKEN), or listen on 127.0.0.1`,
    );
  }
  const api = await options.api.start();
  const registry = new Registry();
  const metrics = new TaskMetrics(registry);
  const gauges = new StoreGauges(registry, {
    store: api.store,
    queues: () => api.tasks.knownQueues(),
  });
  const feed = new LiveFeed({ api, metrics });
  await feed.start();
  const routes = new Routes(api, feed, {
    registry,
    before: () => gauges.update(),
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  let auth: DashboardAuth;
  try {
    server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (request) => routes.handle(request, auth),
    );
    auth = new DashboardAuth({ token, hostname, port: server.addr.port });
  } catch (error) {
    await feed.close();
    throw new Error(
      `Cannot serve the dashboard on ${hostname}:${port}: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
  }
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `http://${host}:${server.addr.port}/`;
  logger.info("Dashboard on {url}, store {store}", {
    url,
    store: api.store.url,
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      // Live streams first: shutdown waits for every open response.
      await feed.close();
      await server.shutdown();
    })();
  return {
    url,
    finished: server.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The dashboard's routes. */
class Routes {
  readonly #api: Producer;
  readonly #feed: LiveFeed;
  readonly #metrics: Parameters<typeof metricsResponse>[0];

  constructor(
    api: Producer,
    feed: LiveFeed,
    metrics: Parameters<typeof metricsResponse>[0],
  ) {
    this.#api = api;
    this.#feed = feed;
    this.#metrics = metrics;
  }

  async handle(request: Request, auth: DashboardAuth): Promise<Response> {
    const url = new URL(request.url);
    const page = request.method === "GET" && url.pathname === "/";
    const checked: AuthResult = auth.check(request, page);
    if (!checked.ok) return secured(checked.response);
    let response: Response;
    try {
      response = await this.#route(request, url, auth, checked.session);
    } catch (error) {
      response = error instanceof BadRequest
        ? errorResponse(error.status, error.message)
        : error instanceof TaskNotAvailable
        ? errorResponse(404, error.message)
        : error instanceof TypeError || error instanceof RangeError
        ? errorResponse(400, error.message)
        : errorResponse(500, `The dashboard failed: ${String(error)}`);
      if (response.status === 500) {
        logger.error("{method} {path} failed: {error}", {
          method: request.method,
          path: url.pathname,
          error,
        });
      }
    }
    if (checked.setCookie) {
      response.headers.append("set-cookie", checked.setCookie);
    }
    return secured(response);
  }

  async #route(
    request: Request,
    url: URL,
    auth: DashboardAuth,
    session?: Session,
  ): Promise<Response> {
    const path = url.pathname;
    if (request.method === "POST") {
      const refused = auth.checkAction(request, session);
      if (refused) return refused;
      return await this.#action(request, path);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return errorResponse(405, `Method ${request.method} is not allowed`);
    }
    if (path === "/") {
      return new Response(indexHtml, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
        },
      });
    }
    const asset = ASSETS[path];
    if (asset) {
      return new Response(asset.body, {
        headers: { "content-type": asset.type, "cache-control": "no-cache" },
      });
    }
    if (path === "/metrics") return await metricsResponse(this.#metrics);
    if (path === "/api/session") {
      return json({
        csrf: session?.csrf ?? null,
        store: this.#api.store.url,
        needsToken: auth.needsToken,
      });
    }
    if (path === "/api/events") {
      return new Response(this.#feed.stream(), {
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
        },
      });
    }
    if (path === "/api/overview") {
      return json({
        rate: this.#feed.rate.series(Date.now() / 1000),
        rateSeconds: RATE_SECONDS,
        cluster: await this.#feed.cluster(),
      });
    }
    if (path === "/api/tasks") return json(await this.#search(url));
    const task = path.match(/^\/api\/tasks\/([^/]+)$/);
    if (task) return json(await this.#task(task[1]));
    const workflow = path.match(/^\/api\/workflows\/([^/]+)$/);
    if (workflow) return json(await this.#workflow(workflow[1]));
    if (path === "/api/jobs") return json(await this.#jobs());
    const jobPage = path.match(/^\/api\/jobs\/([^/]+)$/);
    if (jobPage) return json(await this.#job(decodePath(jobPage[1])));
    return errorResponse(404, `No route ${path}`);
  }

  async #action(request: Request, path: string): Promise<Response> {
    const api = this.#api;
    const revoke = path.match(/^\/api\/tasks\/([^/]+)\/revoke$/);
    if (revoke) {
      const id = parse(TASK_ID, revoke[1], "task id");
      const outcome = await api.tasks.revoke(id);
      return json({ id, outcome }, outcome === "unknown" ? 404 : 200);
    }
    const rerun = path.match(/^\/api\/tasks\/([^/]+)\/rerun$/);
    if (rerun) {
      const id = parse(TASK_ID, rerun[1], "task id");
      const record = await api.store.get(id);
      if (!record) throw new BadRequest(`No task with id '${id}'`, 404);
      if (!READY_STATES.has(record.status)) {
        throw new BadRequest(
          `Task ${id} is ${
            statusString(record.status)
          }: only a finished task runs again`,
          409,
        );
      }
      const copy = await api.tasks.queue(record.name, record.kwargs, {
        callback: false,
        ...(record.queue !== null && { queue: record.queue }),
        ...(record.timeout ? { timeout: record.timeout } : {}),
      });
      return json({ id: copy.id, task: taskSummary(copy.toJSON()) });
    }
    const revokeWorkflow = path.match(/^\/api\/workflows\/([^/]+)\/revoke$/);
    if (revokeWorkflow) {
      const id = parse(TASK_ID, revokeWorkflow[1], "workflow id");
      const workflow = await readWorkflow(() => api.workflows.get(id), id);
      return json({ id, outcomes: await workflow.revoke() });
    }
    const queue = path.match(/^\/api\/jobs\/([^/]+)\/queue$/);
    if (queue) {
      const name = decodePath(queue[1]);
      const body = parse(QueueSchema, await readJson(request), "task");
      const task = await api.tasks.queue(name, body.kwargs as Dict, {
        callback: false,
        ...(body.queue !== undefined && { queue: body.queue }),
        ...(body.delay !== undefined && { delay: body.delay }),
        ...(body.timeout !== undefined && { timeout: body.timeout }),
      });
      return json({ id: task.id, task: taskSummary(task.toJSON()) });
    }
    if (path === "/api/queues/purge") {
      const { queue } = parse(
        QueueNameSchema,
        await readJson(request),
        "purge",
      );
      const purged = await api.store.flush([queue]);
      return json({ queue, purged });
    }
    const pausing = path.match(/^\/api\/queues\/(pause|resume)$/);
    if (pausing) {
      const { queue } = parse(
        QueueNameSchema,
        await readJson(request),
        pausing[1],
      );
      const changed = pausing[1] === "pause"
        ? await api.queues.pause(queue)
        : await api.queues.resume(queue);
      return json({ queue, paused: pausing[1] === "pause", changed });
    }
    return errorResponse(404, `No action ${path}`);
  }

  async #search(url: URL): Promise<unknown> {
    const query = parse(
      SearchSchema,
      Object.fromEntries(url.searchParams),
      "search",
    );
    const store = this.#api.store;
    if (query.id !== undefined) {
      const record = await store.get(query.id);
      return { tasks: record ? [taskSummary(record)] : [] };
    }
    const { id: _id, ...rest } = query;
    const page = await store.searchTasks(rest as TaskQuery);
    return {
      tasks: page.tasks.map(taskSummary),
      ...(page.next !== undefined && { next: page.next }),
    };
  }

  async #workflow(idText: string): Promise<WorkflowDetail> {
    const id = parse(TASK_ID, idText, "workflow id");
    return await readWorkflow(() => workflowDetail(this.#api, id), id);
  }

  async #task(idText: string): Promise<TaskDetail> {
    const id = parse(TASK_ID, idText, "task id");
    const store = this.#api.store;
    const record = await store.get(id);
    if (!record) {
      throw new BadRequest(
        `No task with id '${id}' (unknown, or dropped after its retention)`,
        404,
      );
    }
    const chain: TaskRecord[] = [record];
    for (let at = record; chain.length < MAX_ATTEMPTS;) {
      if (!at.fromTask) break;
      const before = await store.get(at.fromTask);
      if (!before || before.meta.nextTask !== at.id) break;
      chain.unshift(before);
      at = before;
    }
    for (let at = record; chain.length < MAX_ATTEMPTS;) {
      const next = at.meta.nextTask;
      if (typeof next !== "string") break;
      const after = await store.get(next);
      if (!after) break;
      chain.push(after);
      at = after;
    }
    return { task: withStatus(record), attempts: chain.map(taskSummary) };
  }

  /** Every job known here or advertised by a live worker. */
  async #jobList(): Promise<Map<string, Dict>> {
    const api = this.#api;
    const jobs = new Map<string, Dict>();
    for (const [name, info] of api.tasks.jobList()) {
      const cls = api.registry.get(name);
      jobs.set(name, {
        name,
        ...info,
        defaultQueue: cls?.defaultQueue ?? null,
        timeout: cls?.timeout ?? null,
        maxConcurrency: cls?.maxConcurrency ?? null,
        schema: cls?.schema !== undefined,
        local: true,
        workers: [] as string[],
      });
    }
    for (const worker of await api.store.liveWorkers()) {
      for (const advert of worker.jobs) {
        const job = jobs.get(advert.name) ?? {
          ...advert,
          doc: null,
          mode: null,
          type: null,
          schema: false,
          local: false,
          workers: [] as string[],
        };
        (job.workers as string[]).push(worker.worker);
        jobs.set(advert.name, job);
      }
    }
    return jobs;
  }

  async #jobs(): Promise<unknown> {
    const jobs = [...(await this.#jobList()).values()].sort((a, b) =>
      String(a.name) < String(b.name) ? -1 : 1
    );
    return {
      jobs: await Promise.all(
        jobs.map(async (job) => ({
          ...job,
          stats: await this.#stats(String(job.name), JOB_LIST_TASKS),
        })),
      ),
    };
  }

  async #job(name: string): Promise<unknown> {
    parse(NAME, name, "job name");
    const job = (await this.#jobList()).get(name);
    if (!job) {
      throw new TaskNotAvailable(name, {
        hint: " here nor on a live worker",
      });
    }
    return { job, stats: await this.#stats(name, JOB_PAGE_TASKS) };
  }

  /** Counts by status and run-time percentiles of the newest `max` tasks. */
  async #stats(job: string, max: number): Promise<JobStats> {
    const counts: Record<string, number> = {};
    const seconds: number[] = [];
    let tasks = 0;
    let cursor: string | undefined;
    do {
      const page = await this.#api.store.searchTasks({
        job,
        limit: Math.min(500, max - tasks),
        ...(cursor !== undefined && { cursor }),
      });
      for (const task of page.tasks) {
        const status = statusString(task.status);
        counts[status] = (counts[status] ?? 0) + 1;
        if (
          FINISHED.has(task.status) &&
          typeof task.timeStarted === "number" &&
          typeof task.timeEnded === "number"
        ) seconds.push(Math.max(0, task.timeEnded - task.timeStarted));
      }
      tasks += page.tasks.length;
      cursor = page.next;
    } while (cursor !== undefined && tasks < max);
    seconds.sort((a, b) => a - b);
    return {
      counts,
      tasks,
      sampled: cursor !== undefined,
      p50: percentile(seconds, 0.5),
      p95: percentile(seconds, 0.95),
      p99: percentile(seconds, 0.99),
    };
  }
}

/** A path segment decoded; a BadRequest when it is not valid. */
function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequest(`Bad path segment '${segment}'`);
  }
}

/** A JSON response that is never cached. */
function json(data: unknown, status = 200): Response {
  return Response.json(data, {
    status,
    headers: { "cache-control": "no-store" },
  });
}

/** Adds the security headers to a response. */
function secured(response: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    response.headers.set(name, value);
  }
  return response;
}
