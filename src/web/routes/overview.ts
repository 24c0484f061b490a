/**
 * What the page is fed live: `GET /api/overview` (the chart's minutes from
 * the store's history, the queues, workers and counters, read once when
 * the page opens), `GET /api/history?minutes=` (the chart's minutes, when
 * its window changes), `GET /api/events` (the server-sent events of
 * `live.ts`) and `GET /metrics` (Prometheus text, `metrics.ts`).
 *
 * Invariants: the chart's counts are the store's (`api.tasks.history`),
 * never this process's: they are the same in every dashboard and survive
 * its restart; `minutes` is checked (an integer from 1 to
 * {@linkcode HISTORY_MINUTES_MAX}) before the store is read.
 * @module
 */
import { z } from "zod";
import type { OverviewView } from "../api_types.ts";
import { metricsResponse } from "../metrics.ts";
import type { RouteContext } from "../route_context.ts";
import { parse } from "../request_input.ts";
import { json } from "../responses.ts";

/** The chart's window when the page does not say (an hour). */
export const HISTORY_MINUTES_DEFAULT = 60;
/** The longest window the store keeps (a day). */
export const HISTORY_MINUTES_MAX = 1440;

/** The query of the routes that read the history. */
const HistoryQuery = z.strictObject({
  minutes: z.coerce.number().int().min(1).max(HISTORY_MINUTES_MAX)
    .default(HISTORY_MINUTES_DEFAULT),
});

/** The window a request asks for. */
function minutesOf(url: URL): number {
  return parse(HistoryQuery, Object.fromEntries(url.searchParams), "history")
    .minutes;
}

/** `GET /api/overview?minutes=`. */
export async function overview(
  { api, feed, url }: RouteContext,
): Promise<Response> {
  const minutes = minutesOf(url);
  const [history, cluster] = await Promise.all([
    api.tasks.history({ minutes }),
    feed.cluster(),
  ]);
  const view: OverviewView = { history, cluster };
  return json(view);
}

/** `GET /api/history?minutes=`: the store's counts per minute, and totals. */
export async function history({ api, url }: RouteContext): Promise<Response> {
  return json(await api.tasks.history({ minutes: minutesOf(url) }));
}

/** `GET /api/events`: one page's stream of server-sent events. */
export function events({ feed }: RouteContext): Response {
  return new Response(feed.stream(), {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
    },
  });
}

/** `GET /metrics`. */
export async function metrics({ metrics }: RouteContext): Promise<Response> {
  return await metricsResponse(metrics);
}
