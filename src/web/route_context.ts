/**
 * What a route's handler is given (the request, its checked session, the
 * parameters of its path) and what it works with (the producer API, the
 * live feed, the metrics): the one shape every handler of `routes/` takes.
 *
 * Invariants: a handler reaches the cluster only through `api` (the
 * producer API), never a store; it checks every input it reads (see
 * `request_input.ts`) and answers, or throws what `responses.ts` maps.
 * @module
 */
import type { Producer } from "../producer/producer.ts";
import type { DashboardAuth, Session } from "./auth.ts";
import type { LiveFeed } from "./live.ts";
import type { MetricsEndpoint } from "./metrics.ts";

/** What every handler of one dashboard works with. */
export interface DashboardParts {
  /** The producer API (started). */
  api: Producer;
  /** The live feed of the pages. */
  feed: LiveFeed;
  /** The `/metrics` registry and its store read. */
  metrics: MetricsEndpoint;
  /** The token and session checks. */
  auth: DashboardAuth;
}

/** A request as a handler gets it. */
export interface RouteContext extends DashboardParts {
  /** The request. */
  request: Request;
  /** Its URL, parsed. */
  url: URL;
  /**
   * The parameters of the route's pattern (`:id` → `params.id`), as they
   * are in the path (still percent-encoded).
   */
  params: Readonly<Record<string, string | undefined>>;
  /** Its session (absent for a Bearer request). */
  session?: Session;
}

/** Answers a request of its route. */
export type Handler = (context: RouteContext) => Promise<Response> | Response;
