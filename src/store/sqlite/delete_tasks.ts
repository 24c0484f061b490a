/**
 * Deleting finished tasks from the embedded store (`deleteTasks`), in one
 * transaction: a finished row within its retention that is not a workflow
 * member is deleted; with it go its search entry and expiry (both are the
 * row's), and a dedupe key it held holds no more (a key holds only while
 * its task is stored).
 *
 * Invariants: a queued or running row, a row past its retention, an
 * unknown id and a workflow member are left alone and not counted; the
 * status history is not changed.
 * @module
 */
import { checkDeleteIds, deletableRecord } from "../_task_deletion.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import type { TaskRow } from "./statements.ts";

/** Deletes the finished tasks of `ids`; returns how many it deleted. */
export function deleteFinishedTasks(
  ctx: StoreContext,
  ids: readonly string[],
): number {
  const unique = checkDeleteIds(ids);
  if (unique.length === 0) return 0;
  return ctx.transaction(() => {
    const now = ctx.now();
    let deleted = 0;
    for (const id of unique) {
      const row = ctx.sql.byId.get(id) as
        | (TaskRow & { expires_at: number | null })
        | undefined;
      if (!row || row.state !== "finished") continue;
      // Past its retention, a task is gone already (as `get` says).
      if (row.expires_at !== null && row.expires_at < now) continue;
      const decoded = decodeTask(ctx.codec, row.payload);
      if (!deletableRecord(decoded.ok ? decoded.record : undefined)) continue;
      ctx.sql.dropTask.run(row.rowid);
      deleted++;
    }
    return deleted;
  });
}
