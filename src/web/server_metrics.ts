/**
 * A server's own metrics (`--metrics-port`): one endpoint per server, on
 * `127.0.0.1:<metricsPort>/metrics`, for all its worker processes.
 *
 * - With `workers: 0` the server process consumes itself: its consumer
 *   counts each recorded outcome into the registry it serves.
 * - With worker processes, the arbiter serves the endpoint and each worker
 *   process pushes what it recorded to it (`POST /push/<secret>` on the same
 *   port, at most once a second, and once more as it stops), so the
 *   counters of one server are summed in one place and survive the exit of
 *   the worker process that counted them (a recycled worker's counts stay).
 *   A worker that is killed loses at most its last second of counts.
 *
 * The gauges are read from the store at each scrape: the server's queues,
 * and the live workers that are this server's (its own process, or the
 * worker processes that pushed to it).
 *
 * Invariants: the endpoint binds 127.0.0.1 only; a push needs the secret the
 * arbiter gave its workers (`PQ_METRICS_COLLECTOR`), and its body is checked
 * (a bad one is refused with 400 and counts nothing).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Registry } from "prom-client";
import { z } from "zod";
import type { TaskRecord } from "../model/task.ts";
import {
  checkPort,
  type FinishedTask,
  finishedTask,
  type GaugedStore,
  metricsResponse,
  StoreGauges,
  TaskMetrics,
} from "./metrics.ts";

const logger = getLogger(["pq", "metrics"]);

/** The variable that gives worker processes the URL they push to. */
export const METRICS_COLLECTOR_ENV = "PQ_METRICS_COLLECTOR";

/** The most outcomes one push may carry. */
const MAX_PUSH = 100_000;
/** The most bytes of one push's body. */
const MAX_PUSH_BYTES = 32 * 2 ** 20;
/** Seconds between two pushes of a worker process. */
const PUSH_SECONDS = 1;

/** What one push of a worker process carries. */
const PushSchema = z.strictObject({
  worker: z.string().min(1).max(200),
  pid: z.number().int().positive(),
  finished: z.array(z.strictObject({
    name: z.string().min(1).max(1000),
    queue: z.string().max(1000),
    status: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
    seconds: z.number().nonnegative().nullable(),
  })).max(MAX_PUSH),
});

/** What {@linkcode startServerMetrics} needs. */
export interface ServerMetricsOptions {
  /** The server's store (read for the gauges). */
  store: GaugedStore;
  /** The port on 127.0.0.1 (0: any free port, as tests do). */
  port: number;
  /** The queues this server consumes. */
  queues: readonly string[];
  /** The workers of this server known from the start (its own process). */
  workers?: readonly string[];
}

/** A server's running metrics endpoint. */
export interface ServerMetrics extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/metrics`. */
  readonly url: string;
  /** The URL worker processes push to (secret included). */
  readonly collectorUrl: string;
  /** Counts outcomes recorded in this process. */
  record(tasks: readonly TaskRecord[]): void;
  /** A worker process exited: its beat no longer counts as this server's. */
  forget(pid: number): void;
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Serves a server's metrics on `127.0.0.1:<port>/metrics`.
 *
 * @throws {RangeError} for a port out of range; the listen error (port in
 * use, no permission) with the address in its message.
 *
 * @example
 * ```ts ignore
 * await using metrics = startServerMetrics({ store, port: 9464, queues: ["pulsarqueue"] });
 * console.log(metrics.url); // http://127.0.0.1:9464/metrics
 * ```
 */
export function startServerMetrics(
  options: ServerMetricsOptions,
): ServerMetrics {
  const port = checkPort(options.port, "metricsPort");
  const registry = new Registry();
  const tasks = new TaskMetrics(registry);
  const own = new Map<string, number>(
    (options.workers ?? []).map((name) => [name, 0]),
  );
  const gauges = new StoreGauges(registry, {
    store: options.store,
    queues: () => options.queues,
    workers: (w) => own.has(w.worker),
  });
  const secret = crypto.randomUUID().replaceAll("-", "");
  const pushPath = `/push/${secret}`;
  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (pathname === "/metrics" && request.method === "GET") {
      return await metricsResponse({ registry, before: () => gauges.update() });
    }
    if (pathname === pushPath && request.method === "POST") {
      return await acceptPush(request, (push) => {
        own.set(push.worker, push.pid);
        for (const task of push.finished) tasks.observe(task);
      });
    }
    if (pathname === "/metrics" || pathname === pushPath) {
      return new Response("Method not allowed\n", { status: 405 });
    }
    return new Response("Not found: the metrics are at /metrics\n", {
      status: 404,
    });
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: () => {},
    }, handler);
  } catch (error) {
    throw new Error(
      `Cannot serve metrics on 127.0.0.1:${port}: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
  }
  const bound = server.addr.port;
  logger.info("Metrics on http://127.0.0.1:{port}/metrics", { port: bound });
  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.shutdown();
  return {
    url: `http://127.0.0.1:${bound}/metrics`,
    collectorUrl: `http://127.0.0.1:${bound}${pushPath}`,
    record(records) {
      for (const record of records) tasks.observe(finishedTask(record));
    },
    forget(pid) {
      for (const [name, known] of own) if (known === pid) own.delete(name);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Reads and checks a push; 400 with the reason when it is not one. */
async function acceptPush(
  request: Request,
  accept: (push: z.infer<typeof PushSchema>) => void,
): Promise<Response> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > MAX_PUSH_BYTES) {
    return new Response(`Push too large: ${length} bytes\n`, { status: 413 });
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return new Response("A push must be JSON\n", { status: 400 });
  }
  const parsed = PushSchema.safeParse(body);
  if (!parsed.success) {
    return new Response(`Malformed push: ${z.prettifyError(parsed.error)}\n`, {
      status: 400,
    });
  }
  accept(parsed.data);
  return new Response(null, { status: 204 });
}

/** What a worker process does with its outcomes for the metrics. */
export interface WorkerMetrics extends AsyncDisposable {
  /** Counts outcomes recorded by this process. */
  record(tasks: readonly TaskRecord[]): void;
  /** Serves or pushes what is left, then stops. */
  close(): Promise<void>;
}

/**
 * How a worker counts for `--metrics-port`: `serve` (the server process
 * itself consumes: it serves its own endpoint), `push` (a worker process
 * of an arbiter: it pushes to the arbiter's endpoint), or nothing.
 */
export type WorkerMetricsMode = { serve: number } | { push: string };

/** What {@linkcode startWorkerMetrics} needs besides the mode. */
export interface WorkerMetricsContext {
  /** The worker's store. */
  store: GaugedStore;
  /** The worker's name (`worker-<pid>`, `arbiter-<pid>`). */
  worker: string;
  /** The queues it consumes. */
  queues: readonly string[];
}

/**
 * Starts the metrics of a worker: an endpoint (`serve`), a pusher (`push`)
 * or, without a mode, a recorder that does nothing.
 */
export function startWorkerMetrics(
  mode: WorkerMetricsMode | undefined,
  context: WorkerMetricsContext,
): WorkerMetrics {
  if (mode === undefined) {
    const close = () => Promise.resolve();
    return { record: () => {}, close, [Symbol.asyncDispose]: close };
  }
  if ("serve" in mode) {
    const server = startServerMetrics({
      store: context.store,
      port: mode.serve,
      queues: context.queues,
      workers: [context.worker],
    });
    return {
      record: (tasks) => server.record(tasks),
      close: () => server.close(),
      [Symbol.asyncDispose]: () => server.close(),
    };
  }
  return startPush(mode.push, context.worker);
}

/** Pushes outcomes to the arbiter's endpoint once a second. */
function startPush(url: string, worker: string): WorkerMetrics {
  let buffer: FinishedTask[] = [];
  let failing = false;
  let sending: Promise<void> | undefined;
  // The first push says hello: the arbiter counts this worker's beat as its.
  let hello = true;
  const send = async () => {
    if (!hello && buffer.length === 0) return;
    const finished = buffer.slice(0, MAX_PUSH);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ worker, pid: Deno.pid, finished }),
        signal: AbortSignal.timeout(5000),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      buffer = buffer.slice(finished.length);
      hello = false;
      if (failing) logger.info("Metrics reach the server again");
      failing = false;
    } catch (error) {
      if (!failing) {
        logger.warn("Cannot push metrics to the server yet: {error}", {
          error,
        });
      }
      failing = true;
      // Kept for the next push, within bounds.
      if (buffer.length > MAX_PUSH) buffer = buffer.slice(-MAX_PUSH);
    }
  };
  const tick = () => {
    sending ??= send().finally(() => sending = undefined);
  };
  tick();
  const timer = setInterval(tick, PUSH_SECONDS * 1000);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      clearInterval(timer);
      await sending;
      await send();
    })();
  return {
    record(tasks) {
      for (const task of tasks) buffer.push(finishedTask(task));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
