/**
 * The queues' actions: `POST /api/queues/purge` (drop its waiting tasks),
 * `POST /api/queues/pause` and `/resume` (stop or restart its claims),
 * each with the body `{ queue }`. The queues' sizes come with the live
 * feed (`overview.ts`).
 *
 * Invariants: the body is checked (a strict `{ queue }`) before anything
 * is done; the store is reached through `api.queues` only.
 * @module
 */
import { z } from "zod";
import type { PauseView, PurgeView } from "../api_types.ts";
import type { RouteContext } from "../route_context.ts";
import { NAME, parse, readJson } from "../request_input.ts";
import { json } from "../responses.ts";
import type { Handler } from "../route_context.ts";

/** The body of each queue action. */
const QueueNameSchema = z.strictObject({ queue: NAME });

/** `POST /api/queues/purge`. */
export async function purgeQueue(
  { api, request }: RouteContext,
): Promise<Response> {
  const { queue } = parse(QueueNameSchema, await readJson(request), "purge");
  const view: PurgeView = { queue, purged: await api.queues.purge([queue]) };
  return json(view);
}

/** `POST /api/queues/pause` (`paused` true) or `/resume` (false). */
export function pauseQueue(paused: boolean): Handler {
  return async ({ api, request }) => {
    const { queue } = parse(
      QueueNameSchema,
      await readJson(request),
      paused ? "pause" : "resume",
    );
    const changed = paused
      ? await api.queues.pause(queue)
      : await api.queues.resume(queue);
    const view: PauseView = { queue, paused, changed };
    return json(view);
  };
}
