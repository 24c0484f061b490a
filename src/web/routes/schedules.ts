/**
 * The schedules managed at run time (`api.schedules`): `GET /api/schedules`
 * (each with its next run times), `POST /api/schedules/pause`, `/resume`
 * and `/remove` with the body `{ id }`.
 *
 * Invariants: every input is checked (a strict body) before anything is
 * done; the store is reached through `api.schedules` only; an unknown
 * schedule is a 404.
 * @module
 */
import { z } from "zod";
import { SCHEDULE_ID_MAX } from "../../model/schedule.ts";
import type {
  ScheduleListView,
  SchedulePauseView,
  ScheduleRemoveView,
} from "../api_types.ts";
import type { Handler, RouteContext } from "../route_context.ts";
import { BadRequest, parse, readJson } from "../request_input.ts";
import { json } from "../responses.ts";

/** How many next run times the list gives of each schedule. */
const NEXT_RUNS = 3;

/** The body of each action. */
const ScheduleBody = z.strictObject({
  id: z.string().min(1).max(SCHEDULE_ID_MAX),
});

/** `GET /api/schedules`. */
export async function listSchedules(
  { api }: RouteContext,
): Promise<Response> {
  const view: ScheduleListView = {
    schedules: await api.schedules.list({ count: NEXT_RUNS }),
  };
  return json(view);
}

/** `POST /api/schedules/pause` (`paused` true) or `/resume` (false). */
export function pauseSchedule(paused: boolean): Handler {
  return async ({ api, request }) => {
    const what = paused ? "pause schedule" : "resume schedule";
    const { id } = parse(ScheduleBody, await readJson(request), what);
    let changed: boolean;
    try {
      changed = paused
        ? await api.schedules.pause(id)
        : await api.schedules.resume(id);
    } catch (error) {
      // No such schedule: a 404, as an unknown task.
      if (error instanceof RangeError) throw new BadRequest(error.message, 404);
      throw error;
    }
    const view: SchedulePauseView = { id, paused, changed };
    return json(view);
  };
}

/** `POST /api/schedules/remove`. */
export async function removeSchedule(
  { api, request }: RouteContext,
): Promise<Response> {
  const { id } = parse(
    ScheduleBody,
    await readJson(request),
    "remove schedule",
  );
  const removed = await api.schedules.remove(id);
  if (!removed) throw new BadRequest(`No schedule '${id}'`, 404);
  const view: ScheduleRemoveView = { id, removed };
  return json(view);
}
