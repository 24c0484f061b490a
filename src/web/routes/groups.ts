/**
 * The groups of a queue (fair queues): `GET /api/groups?queue=` (the
 * groups with work, and the paused ones), `POST /api/groups/pause` and
 * `/resume` with the body `{ queue, group }` (stop or restart the claims
 * of one group's tasks).
 *
 * Invariants: every input is checked (a strict query or body) before
 * anything is done; the store is reached through `api.queues` only.
 * @module
 */
import { z } from "zod";
import { GROUP_MAX } from "../../model/task_group.ts";
import type { GroupPauseView, GroupsView } from "../api_types.ts";
import type { Handler, RouteContext } from "../route_context.ts";
import { NAME, parse, readJson } from "../request_input.ts";
import { json } from "../responses.ts";

/** The query of the list. */
const GroupsQuery = z.strictObject({ queue: NAME });

/** The body of a pause or resume. */
const GroupBody = z.strictObject({
  queue: NAME,
  group: z.string().min(1).max(GROUP_MAX),
});

/** `GET /api/groups?queue=`. */
export async function listGroups(
  { api, url }: RouteContext,
): Promise<Response> {
  const { queue } = parse(
    GroupsQuery,
    Object.fromEntries(url.searchParams),
    "groups",
  );
  const view: GroupsView = { queue, groups: await api.queues.groups(queue) };
  return json(view);
}

/** `POST /api/groups/pause` (`paused` true) or `/resume` (false). */
export function pauseGroup(paused: boolean): Handler {
  return async ({ api, request }) => {
    const { queue, group } = parse(
      GroupBody,
      await readJson(request),
      paused ? "pause group" : "resume group",
    );
    const changed = paused
      ? await api.queues.pauseGroup(queue, group)
      : await api.queues.resumeGroup(queue, group);
    const view: GroupPauseView = { queue, group, paused, changed };
    return json(view);
  };
}
