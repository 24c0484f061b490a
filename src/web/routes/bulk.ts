/**
 * The bulk actions on tasks (Sidekiq's "retry all", bull-board's "clean"):
 * `POST /api/tasks/retry`, `/api/tasks/delete` and `/api/tasks/revoke`,
 * each on `{ ids }` (a selection) or, for retry and delete, `{ filter }`
 * (a search, as `GET /api/tasks` takes it: the failed tasks of a job...).
 *
 * - **retry** queues a copy of each FAILURE or REVOKED task (its job,
 *   kwargs, queue and timeout; a first attempt, outside any workflow) with
 *   an id derived from the failed task's ({@linkcode retryId}: `<id>-r1`,
 *   then `-r2`...), then deletes the failed task, so it leaves the failed
 *   list. Safe to repeat and to stop anywhere: a second click, or a click
 *   after a crash between the two steps, finds the copy stored (`queue`
 *   answers it as a duplicate) and only deletes the failed task.
 * - **delete** drops finished tasks (SUCCESS, FAILURE, REVOKED, RETRY) with
 *   every trace of them (`api.tasks.delete`); queued, running and unknown
 *   ones are left alone.
 * - **revoke** revokes each task (queued: never runs; running: stopped).
 *
 * Invariants: the body is checked before anything is done (a 400 that
 * says what is wrong); one action takes at most {@linkcode BULK_MAX}
 * tasks (a filter that finds more says `more`: run it again); every task
 * is acted on through the producer API, one atomic store step each, so an
 * action stopped midway leaves each task either done or as it was.
 * @module
 */
import { z } from "zod";
import {
  ENDED_STATES,
  statusString,
  TaskStatus,
  type TaskStatusCode,
} from "../../model/status.ts";
import { callerMeta } from "../../model/meta_params.ts";
import { TASK_ID_PATTERN } from "../../model/task.ts";
import type { Producer } from "../../producer/producer.ts";
import type { BulkAction, BulkSkip, BulkView } from "../api_types.ts";
import type { RouteContext } from "../route_context.ts";
import { BadRequest, parse, readJson, TASK_ID } from "../request_input.ts";
import { json } from "../responses.ts";
import { SearchSchema } from "./tasks.ts";

/** The most tasks one bulk action takes. */
export const BULK_MAX = 1000;
/** The most skips an answer lists. */
const SKIPS_MAX = 20;
/** The most search pages a filter reads (500 tasks a page at most). */
const PAGES_MAX = 50;
/** The statuses a retry takes. */
const RETRYABLE: ReadonlySet<number> = new Set([
  TaskStatus.FAILURE,
  TaskStatus.REVOKED,
]);

/** A filter: a search without its id, page size or cursor. */
const FilterSchema = SearchSchema.omit({ id: true, limit: true, cursor: true });

/** The body of a bulk action. */
const BulkSchema = z.strictObject({
  ids: z.array(TASK_ID).min(1).max(BULK_MAX).optional(),
  filter: FilterSchema.optional(),
}).refine(
  (body) => (body.ids === undefined) !== (body.filter === undefined),
  "give either 'ids' (a list of task ids) or 'filter' (a search), not both nor neither",
);

/**
 * The id of the copy a retry queues of task `id`: `<id>-r1`, and `-r<n+1>`
 * for a copy `-r<n>` retried again (cut at its start to fit 128
 * characters), so one failed task has one copy whatever the clicks.
 *
 * @example
 * ```ts
 * import { retryId } from "./bulk.ts";
 * retryId("0195ab"); // "0195ab-r1"
 * retryId("0195ab-r1"); // "0195ab-r2"
 * ```
 */
export function retryId(id: string): string {
  const match = /^(.*)-r(\d{1,6})$/.exec(id);
  const base = match ? match[1] : id;
  const suffix = `-r${match ? Number(match[2]) + 1 : 1}`;
  const copy = base.slice(Math.max(0, base.length + suffix.length - 128)) +
    suffix;
  // A base cut to begin with "." could make ".-r1": still a valid id.
  if (!TASK_ID_PATTERN.test(copy)) throw new Error(`Bad retry id ${copy}`);
  return copy;
}

/** The ids a bulk action works on, and whether a filter found more. */
async function targets(
  api: Producer,
  action: BulkAction,
  body: z.infer<typeof BulkSchema>,
): Promise<{ ids: string[]; more: boolean }> {
  if (body.ids) return { ids: [...new Set(body.ids)], more: false };
  if (action === "revoke") {
    throw new BadRequest(
      "A bulk revoke takes 'ids' (the tasks selected), not a filter",
    );
  }
  const filter = body.filter!;
  const allowed = action === "retry" ? RETRYABLE : ENDED_STATES;
  const status: TaskStatusCode[] = filter.status ?? [TaskStatus.FAILURE];
  const refused = status.filter((code) => !allowed.has(code));
  if (refused.length) {
    throw new BadRequest(
      `A bulk ${action} by filter takes the statuses ${
        [...allowed].map(statusString).join(", ")
      }, not ${refused.map(statusString).join(", ")}`,
    );
  }
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < PAGES_MAX; page++) {
    const found = await api.tasks.search({
      ...filter,
      status,
      limit: 500,
      ...(cursor !== undefined && { cursor }),
    });
    ids.push(...found.tasks.map((task) => task.id));
    cursor = found.next;
    if (cursor === undefined || ids.length > BULK_MAX) break;
  }
  return {
    ids: ids.slice(0, BULK_MAX),
    more: ids.length > BULK_MAX || cursor !== undefined,
  };
}

/** What an action did so far. */
class Tally {
  done = 0;
  skipped = 0;
  readonly skips: BulkSkip[] = [];
  skip(id: string, reason: string): void {
    this.skipped++;
    if (this.skips.length < SKIPS_MAX) this.skips.push({ id, reason });
  }
}

/** Retries one task (see the module's doc); its copy's id, or a skip. */
async function retryOne(api: Producer, id: string, tally: Tally) {
  const task = await api.tasks.get(id);
  if (!task) {
    return tally.skip(id, "unknown (or dropped after its retention)");
  }
  if (!RETRYABLE.has(task.status)) {
    return tally.skip(
      id,
      `is ${task.statusString}: only FAILURE and REVOKED tasks are retried`,
    );
  }
  if (task.meta.workflow !== undefined) {
    // A copy would run outside its workflow, which the store keeps whole.
    return tally.skip(
      id,
      "is a member of a workflow: queue the workflow again instead",
    );
  }
  const copyId = retryId(id);
  try {
    const future = api.tasks.queue(task.name, task.kwargs, {
      callback: false,
      id: copyId,
      ...(task.queue !== null && { queue: task.queue }),
      ...(task.timeout ? { timeout: task.timeout } : {}),
      metaParams: callerMeta(task.meta),
    });
    const copy = await future;
    if (copy.name !== task.name) {
      return tally.skip(
        id,
        `its copy's id ${copyId} is held by a task of job '${copy.name}'`,
      );
    }
  } catch (error) {
    return tally.skip(id, error instanceof Error ? error.message : `${error}`);
  }
  // The copy is stored: the failed task goes (a crash before this line
  // leaves it, and the next retry only deletes it).
  await api.tasks.delete([id]);
  tally.done++;
  return copyId;
}

/** One bulk action's handler. */
function bulk(action: BulkAction) {
  return async ({ api, request }: RouteContext): Promise<Response> => {
    const body = parse(BulkSchema, await readJson(request), `bulk ${action}`);
    const { ids, more } = await targets(api, action, body);
    const tally = new Tally();
    const view: BulkView = {
      action,
      matched: ids.length,
      done: 0,
      skipped: 0,
      skips: [],
      more,
    };
    if (action === "retry") {
      const copies: Record<string, string> = {};
      for (const id of ids) {
        const copy = await retryOne(api, id, tally);
        if (copy) copies[id] = copy;
      }
      view.copies = copies;
    } else if (action === "delete") {
      tally.done = ids.length ? await api.tasks.delete(ids) : 0;
      // Which were left alone is not said by the store: only how many.
      tally.skipped = ids.length - tally.done;
    } else {
      for (const id of ids) {
        const outcome = await api.tasks.revoke(id);
        if (outcome === "revoked" || outcome === "requested") tally.done++;
        else {tally.skip(
            id,
            outcome === "finished" ? "finished already" : outcome,
          );}
      }
    }
    return json({
      ...view,
      done: tally.done,
      skipped: tally.skipped,
      skips: tally.skips,
    });
  };
}

/** `POST /api/tasks/retry`. */
export const retryTasks = bulk("retry");
/** `POST /api/tasks/delete`. */
export const deleteTasks = bulk("delete");
/** `POST /api/tasks/revoke`. */
export const revokeTasks = bulk("revoke");
