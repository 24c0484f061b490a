/**
 * `pq dashboard`: a one-page web app on `Deno.serve`, fed live by the
 * store's events (see `live.ts`), with `/metrics` for Prometheus. Its
 * routes are the table of `route_table.ts`, their handlers in `routes/`;
 * the page's code is ES modules under `assets/` (`assets.ts`).
 *
 * Invariants: every request passes the token and Host checks of `auth.ts`
 * first, every action (POST) the session, Origin and CSRF checks too;
 * every input (query, path, body) is checked and a bad one is a 400 that
 * says what is wrong; a handler's failure is answered as `responses.ts`
 * maps it; every response carries the security headers (the page may load
 * only its own scripts); the page gets task data as JSON and draws it as
 * text only; the store's URL is shown as the store gives it (its password
 * masked), never the setting; the store is reached through the producer
 * API only.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Registry } from "prom-client";
import type { Producer } from "../producer/producer.ts";
import {
  type AuthResult,
  DashboardAuth,
  errorResponse,
  isLoopback,
} from "./auth.ts";
import { LiveFeed } from "./live.ts";
import { checkPort, StoreGauges, TaskMetrics } from "./metrics.ts";
import type { DashboardParts } from "./route_context.ts";
import { findRoute, type RouteMethod } from "./route_table.ts";
import { failureResponse, secured } from "./responses.ts";

const logger = getLogger(["pq", "dashboard"]);

/** The default port of `pq dashboard`. */
export const DASHBOARD_PORT = 8787;

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
  const taskMetrics = new TaskMetrics(registry);
  const gauges = new StoreGauges(registry, {
    store: {
      queueStats: (queues) => api.queues.stats(queues),
      liveWorkers: () => api.workers(),
    },
    queues: () => api.tasks.knownQueues(),
  });
  const feed = new LiveFeed({ api, metrics: taskMetrics });
  await feed.start();
  const metrics = { registry, before: () => gauges.update() };
  let server: Deno.HttpServer<Deno.NetAddr>;
  let parts: DashboardParts;
  try {
    server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (request) => handle(request, parts),
    );
    const auth = new DashboardAuth({
      token,
      hostname,
      port: server.addr.port,
    });
    parts = { api, feed, metrics, auth };
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
    store: await api.queues.storeUrl(),
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

/**
 * Answers a request: the auth checks, its route's handler, the failure
 * mapped, the security headers.
 */
async function handle(
  request: Request,
  parts: DashboardParts,
): Promise<Response> {
  const url = new URL(request.url);
  const page = request.method === "GET" && url.pathname === "/";
  const checked: AuthResult = parts.auth.check(request, page);
  if (!checked.ok) return secured(checked.response);
  let response: Response;
  try {
    response = await route(request, url, parts, checked);
  } catch (error) {
    response = failureResponse(error);
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

/** The response of the route of a request that passed the auth checks. */
async function route(
  request: Request,
  url: URL,
  parts: DashboardParts,
  checked: AuthResult & { ok: true },
): Promise<Response> {
  const path = url.pathname;
  let method: RouteMethod;
  if (request.method === "POST") {
    const refused = parts.auth.checkAction(request, checked.session);
    if (refused) return refused;
    method = "POST";
  } else if (request.method === "GET" || request.method === "HEAD") {
    method = "GET";
  } else {
    return errorResponse(405, `Method ${request.method} is not allowed`);
  }
  const found = findRoute(method, path);
  if (!found) {
    return errorResponse(
      404,
      `${method === "POST" ? "No action" : "No route"} ${path}`,
    );
  }
  return await found.handler({
    ...parts,
    request,
    url,
    params: found.params,
    session: checked.session,
  });
}
