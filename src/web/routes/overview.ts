/**
 * What the page is fed live: `GET /api/overview` (the chart's 15 minutes,
 * the queues and workers, read once when the page opens), `GET
 * /api/events` (the server-sent events of `live.ts`) and `GET /metrics`
 * (Prometheus text, `metrics.ts`).
 * @module
 */
import type { OverviewView } from "../api_types.ts";
import { RATE_SECONDS } from "../live.ts";
import { metricsResponse } from "../metrics.ts";
import type { RouteContext } from "../route_context.ts";
import { json } from "../responses.ts";

/** `GET /api/overview`. */
export async function overview({ feed }: RouteContext): Promise<Response> {
  const view: OverviewView = {
    rate: feed.rate.series(Date.now() / 1000),
    rateSeconds: RATE_SECONDS,
    cluster: await feed.cluster(),
  };
  return json(view);
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
